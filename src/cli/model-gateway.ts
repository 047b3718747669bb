/**
 * `gatehouse run --model-gateway`: the sandboxed agent's model traffic goes through Gatehouse, so
 * the agent never holds its own model API key (issue 20 item 1).
 *
 * For the run, this process serves the gateway on the host's loopback (or uses a running `serve`
 * given with --server), makes a token granted exactly the model targets (those added with
 * `--preset`; revoked when the run ends, and expiring on its own as a backstop), and gives the
 * sandbox the variables each provider's SDK reads: the API root pointing at `/gateway/<target>`
 * through the sandbox's only way to the host (`host-loopback`), and the token where the SDK
 * looks for a key. The sandbox's network allowlist gets that one port.
 *
 * INVARIANTS: the real key never enters the sandbox (it is filled from the vault by the gateway,
 * on the host); the token the sandbox holds can call nothing but `api_request` on the model
 * targets; a server given with --server must be on this machine's loopback (the sandbox reaches
 * nothing else of the host).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatehouseError } from '../core/index.js';
import { isGranted } from '../gate/index.js';
import type { NetworkAllow } from '../sandbox/index.js';
import type { Runtime } from '../server/index.js';
import { MODEL_PRESET_SPECS, type HttpTargetConfig, type Target } from '../targets/index.js';

/** The run token's own expiry, in case the run is killed before it can revoke it. */
const TOKEN_TTL_MS = 24 * 3_600_000;

export interface ModelGateway {
  /** Variables to set inside the sandbox. */
  env: Record<string, string>;
  /** What the sandbox's network must allow (the gateway's port on the host's loopback). */
  allow: NetworkAllow[];
  /** The model targets the token holds. */
  targets: string[];
  /** Revokes the run's token and stops the gateway this process served. */
  close(): Promise<void>;
}

function loopbackPort(text: string): number {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GatehouseError('usage', `--server ${JSON.stringify(text)} is not a URL`, {
      hint: 'e.g. --server http://127.0.0.1:3000',
    });
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new GatehouseError('usage', '--server must be a gatehouse serve on this machine (http://127.0.0.1:PORT)', {
      hint: "the sandbox reaches only the host's loopback",
    });
  return Number(url.port || 80);
}

/**
 * `--token NAME`: the existing token whose secret `gatehouse connect … --new NAME` wrote to
 * GATEHOUSE_HOME/agent-tokens/NAME.token, and the model targets it may call. INVARIANT: the
 * program gets a token only for what that token is already granted; the file must hold NAME's own
 * (live) token, and one granted neither `api_request` nor any model target is refused.
 */
async function namedToken(rt: Runtime, name: string, models: Target[]): Promise<{ secret: string; models: Target[] }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || name.includes('..'))
    throw new GatehouseError('usage', `--token ${JSON.stringify(name)} is not a token name`);
  const file = join(rt.paths.home, 'agent-tokens', `${name}.token`);
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    throw new GatehouseError('not_found', `no token file for ${name} (${file})`, {
      hint: `make one with \`gatehouse connect claude-code --new ${name} --grant tool:api_request --grant target:MODEL_TARGET\`, or drop --token for a run token`,
    });
  }
  const who = await rt.tokens.authenticate(secret).catch(() => {
    throw new GatehouseError('unauthenticated', `the token in ${file} is unknown, revoked or expired`, {
      hint: `make a new one with \`gatehouse connect claude-code --new ${name} …\``,
    });
  });
  if (who.tokenName !== name)
    throw new GatehouseError('conflict', `${file} holds the token ${who.tokenName}, not ${name}`);
  const usable = isGranted(who.grants, 'tool', 'api_request')
    ? models.filter((t) => isGranted(who.grants, 'target', t.name))
    : [];
  if (usable.length === 0)
    throw new GatehouseError('not_granted', `token ${name} may not call a model target through api_request`, {
      hint: `gatehouse token create … --grant tool:api_request --grant target:${models[0]?.name ?? 'anthropic'} (or drop --token for a run token)`,
    });
  return { secret, models: usable };
}

export async function startModelGateway(
  env: NodeJS.ProcessEnv,
  o: { server?: string; maxTokensPerDay?: number; token?: string },
): Promise<ModelGateway> {
  const { bootRuntime, plainRoutes, startHttpServer } = await import('../server/index.js');
  const rt = await bootRuntime({ env, auditWriterThread: true });
  let http: { close(): Promise<void> } | undefined;
  let tokenId: string | undefined;
  const close = async () => {
    try {
      if (tokenId) await rt.tokens.revoke(tokenId);
    } finally {
      await http?.close();
      await rt.close();
    }
  };
  try {
    let models = (await rt.targets.list()).filter(
      (t) => t.kind === 'http' && (t.config as HttpTargetConfig).model !== undefined,
    );
    if (models.length === 0)
      throw new GatehouseError('config_invalid', 'no model targets: --model-gateway needs one made with --preset', {
        hint: 'gatehouse target add http anthropic --preset anthropic --secret vault:VAULT/ITEM.FIELD',
      });
    let secret: string;
    if (o.token !== undefined) {
      ({ secret, models } = await namedToken(rt, o.token, models));
    } else {
      const made = await rt.tokens.create({
        name: `run-${randomBytes(4).toString('hex')}`,
        grants: ['tool:api_request', ...models.map((t) => `target:${t.name}`)],
        expiresInMs: TOKEN_TTL_MS,
      });
      // Only a token this run made is revoked when it ends.
      tokenId = made.info.id;
      secret = made.token;
      if (o.maxTokensPerDay !== undefined) await (await rt.usage()).setBudget(tokenId, o.maxTokensPerDay);
    }
    let port: number;
    if (o.server !== undefined) port = loopbackPort(o.server);
    else {
      const s = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: await plainRoutes(rt) });
      http = s;
      port = Number(new URL(s.url).port);
    }
    const vars: Record<string, string> = {};
    for (const t of models) {
      const spec = MODEL_PRESET_SPECS[(t.config as HttpTargetConfig).model!];
      // One target per provider: a second one of the same kind would fight over the variables.
      if (vars[spec.baseUrlEnv] !== undefined) continue;
      vars[spec.baseUrlEnv] = `http://host-loopback:${port}/gateway/${t.name}`;
      for (const k of spec.keyEnv) vars[k] = secret;
    }
    return { env: vars, allow: [{ host: 'host-loopback', port }], targets: models.map((t) => t.name), close };
  } catch (e) {
    await close();
    throw e;
  }
}
