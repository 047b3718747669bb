/**
 * Opens one authenticated ssh2 connection to a target with its host key pinned.
 *
 * Credentials are fetched lazily, through ssh2's authHandler, which runs only after the key
 * exchange has verified the pinned host key: an unverified server never causes a vault read, and
 * never sees a signature. INVARIANT: no message built here carries key text, the passphrase or a
 * raw library error (which could quote its input); errors name the target, host and user only.
 */
// ssh2 is CommonJS; Node's ESM loader does not expose `utils` as a named export, so use the default.
import ssh2, { type AuthenticationType, type Client, type NextAuthHandler } from 'ssh2';
const { utils } = ssh2;
import { GatehouseError, isGatehouseError } from '../core/index.js';
import { pinnedVerifier, type HostKeyCheck } from './host-key.js';
import type { CredentialProvider, SshTargetSpec } from './types.js';

export interface ConnectOptions {
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export function validateSpec(spec: SshTargetSpec): void {
  const bad = (what: string) =>
    new GatehouseError('config_invalid', `SSH target "${spec.name}": ${what}`, {
      hint: 'fix the target with `gatehouse target add ssh …`',
    });
  if (!spec.name || typeof spec.name !== 'string') throw bad('name is missing');
  if (!spec.host || /[\s/@]/.test(spec.host)) throw bad('host is missing or malformed');
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw bad('port must be 1-65535');
  if (!spec.user || /[\s:@]/.test(spec.user)) throw bad('user is missing or malformed');
}

function connectError(
  spec: SshTargetSpec,
  e: Error & { code?: string; level?: string },
  timeoutMs: number,
): GatehouseError {
  const where = `${spec.user}@${spec.host}:${spec.port}`;
  if (e.level === 'client-timeout' || /timed out/i.test(e.message)) {
    return new GatehouseError('timeout', `SSH target "${spec.name}" (${where}): no handshake within ${timeoutMs} ms`, {
      hint: 'check that the host is reachable and sshd is running',
    });
  }
  if (e.level === 'client-authentication') {
    return new GatehouseError(
      'ssh_error',
      `SSH target "${spec.name}": authentication as "${spec.user}" was refused by ${spec.host}:${spec.port}`,
      {
        hint: "check that the public half of the target key is in the user's authorized_keys",
      },
    );
  }
  const code = typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) ? ` (${e.code})` : '';
  return new GatehouseError('ssh_error', `SSH target "${spec.name}": could not connect to ${where}${code}`, {
    hint: 'check host, port and that sshd is running',
  });
}

/** Resolves with a ready, authenticated client. The caller owns it (end() it when done). */
export function openConnection(
  spec: SshTargetSpec,
  getCredentials: CredentialProvider,
  opts: ConnectOptions = {},
): Promise<Client> {
  validateSpec(spec);
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const check: HostKeyCheck = {};
    let authError: GatehouseError | undefined;
    let authAttempted = false;
    let settled = false;
    const fail = (err: GatehouseError) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      reject(err);
    };

    const authHandler = (
      _methodsLeft: AuthenticationType[] | null,
      _partial: boolean | null,
      next: NextAuthHandler,
    ): void => {
      // One attempt only: a second call means the server refused the key.
      if (authAttempted) return next(false as unknown as Parameters<NextAuthHandler>[0]);
      authAttempted = true;
      getCredentials().then(
        (creds) => {
          const parsed = utils.parseKey(creds.privateKey, creds.passphrase);
          const key = Array.isArray(parsed) ? parsed[0] : parsed;
          if (!key || key instanceof Error || !key.isPrivateKey()) {
            authError = new GatehouseError(
              'key_invalid',
              `SSH target "${spec.name}": the private key could not be used (unsupported format or wrong passphrase)`,
              {
                hint: 'store an OpenSSH or PEM private key in the vault item, with its passphrase if it is encrypted',
              },
            );
            return next(false as unknown as Parameters<NextAuthHandler>[0]);
          }
          next({ type: 'publickey', username: spec.user, key });
        },
        (e: unknown) => {
          authError = isGatehouseError(e)
            ? e
            : new GatehouseError('ssh_error', `SSH target "${spec.name}": credentials are unavailable`, {
                hint: 'check the vault item bound to this target',
              });
          next(false as unknown as Parameters<NextAuthHandler>[0]);
        },
      );
    };

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.on('error', (e: Error & { code?: string; level?: string }) => {
      if (check.refused) return fail(check.refused);
      if (authError) return fail(authError);
      fail(connectError(spec, e, timeoutMs));
    });
    client.on('close', () =>
      fail(
        check.refused ??
          authError ??
          new GatehouseError('ssh_error', `SSH target "${spec.name}": connection closed during setup`, {
            hint: 'see the sshd log on the target',
          }),
      ),
    );

    client.connect({
      host: spec.host,
      port: spec.port,
      username: spec.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      hostVerifier: pinnedVerifier(spec.name, spec.hostKey, check),
      authHandler,
    });
  });
}
