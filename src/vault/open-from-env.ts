import { ensureHome, gatehouseHome } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { openKeyring, type Keyring } from './keyring.js';
import { openVault, type Vault } from './vault-service.js';

export interface OpenedVault {
  store: Store;
  keyring: Keyring;
  vault: Vault;
  close(): Promise<void>;
}

/**
 * Opens store + keyring + vault the way the CLI and servers do: DATABASE_URL (PostgreSQL) or the
 * SQLite file in $GATEHOUSE_HOME; the master key from the environment or $GATEHOUSE_HOME/master.key.
 */
export async function openVaultFromEnv(env: NodeJS.ProcessEnv, opts: { create?: boolean } = {}): Promise<OpenedVault> {
  const paths = gatehouseHome(env);
  ensureHome(paths);
  const store = await openStore(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { sqliteFile: paths.databaseFile });
  try {
    const keyring = await openKeyring({ home: paths.home, masterKeyFile: paths.masterKeyFile, env, store, create: opts.create ?? true });
    const vault = openVault({ store, keyring });
    return {
      store,
      keyring,
      vault,
      close: async () => {
        vault.close();
        keyring.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
}
