import { gatehouseHome, ensureHome } from '../core/index.js';
import { openKeyring, type Keyring } from '../vault/index.js';
import { Runtime, type RuntimeOptions } from './runtime.js';
import { allTools } from '../tools/index.js';

/**
 * Opens a full runtime for this process: home, store (migrated), keyring (master key verified),
 * audit log keyed by the keyring's audit-chain key, and the tool set.
 */
export async function bootRuntime(opts: RuntimeOptions = {}): Promise<Runtime & { keyring: Keyring }> {
  const env = opts.env ?? process.env;
  const paths = gatehouseHome(env);
  if (opts.create !== false) ensureHome(paths);
  let keyring: Keyring | undefined;
  const runtime = await Runtime.open({
    ...opts,
    env,
    chainKey: async (store) => {
      keyring = await openKeyring({ home: paths.home, masterKeyFile: paths.masterKeyFile, env, store, create: opts.create !== false });
      return keyring.internalKey('audit-chain');
    },
  });
  runtime.onClose(async () => keyring?.close());
  runtime.tools = allTools();
  return Object.assign(runtime, { keyring: keyring! });
}
