import { GatehouseError } from '../core/index.js';
import { parseFieldRef } from '../vault/index.js';
import type { HttpTargetConfig, SecretRef, SshTargetConfig } from './types.js';

export const TARGET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

export function checkTargetName(name: string): string {
  if (!TARGET_NAME.test(name)) {
    throw new GatehouseError('invalid_input', `invalid target name ${JSON.stringify(name.slice(0, 100))}`, {
      hint: 'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  return name;
}

/** Checks a `vault:VAULT/ITEM.FIELD` reference and returns the `VAULT/ITEM.FIELD` part. */
export function parseSecretRef(ref: SecretRef, flag: string): { ref: string; vault: string } {
  if (!ref.startsWith('vault:')) {
    throw new GatehouseError('invalid_input', `${flag} must be a vault reference, not a value`, {
      hint: `store the secret with \`gatehouse vault set VAULT/ITEM.FIELD\` and pass ${flag} vault:VAULT/ITEM.FIELD`,
    });
  }
  const parsed = parseFieldRef(ref.slice('vault:'.length));
  return { ref: `${parsed.vault}/${parsed.item}.${parsed.field}`, vault: parsed.vault };
}

/**
 * Validates an HTTP target's config with the upstream executor's own rules. The executors are
 * loaded here, on demand, so a process that only serves tools does not load undici or ssh2 at start.
 */
export async function validateHttpConfig(name: string, c: HttpTargetConfig): Promise<HttpTargetConfig> {
  const { validateTargetSpec } = await import('../upstream/index.js');
  validateTargetSpec({ name, baseUrl: c.baseUrl, auth: c.auth, allowPrivate: c.allowPrivate });
  if (c.auth.kind === 'none' && c.secret) throw new GatehouseError('invalid_input', '--secret given with --auth none', { hint: 'drop --secret or choose an auth kind' });
  if (c.auth.kind !== 'none' && !c.secret) throw new GatehouseError('invalid_input', `--auth ${c.auth.kind} needs --secret vault:VAULT/ITEM.FIELD`);
  if (c.secret) parseSecretRef(c.secret, '--secret');
  return c;
}

export async function validateSshConfig(c: SshTargetConfig): Promise<SshTargetConfig> {
  const { normalizeFingerprint } = await import('../ssh/index.js');
  if (!/^[A-Za-z0-9.-]{1,253}$|^\[?[0-9a-fA-F:]+\]?$/.test(c.host)) throw new GatehouseError('invalid_input', `invalid --host ${JSON.stringify(c.host)}`, { hint: 'a host name or IP address' });
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new GatehouseError('invalid_input', `invalid --port ${c.port}`, { hint: 'a port from 1 to 65535' });
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/.test(c.user)) throw new GatehouseError('invalid_input', `invalid --user ${JSON.stringify(c.user)}`);
  parseSecretRef(c.key, '--key');
  if (c.passphrase) parseSecretRef(c.passphrase, '--passphrase');
  if (c.hostKey !== null) {
    const fp = normalizeFingerprint(c.hostKey);
    if (!fp) throw new GatehouseError('invalid_input', `invalid --host-key ${JSON.stringify(c.hostKey)}`, { hint: 'use the SHA256:… fingerprint `ssh-keygen -lf` prints, or run `gatehouse target trust NAME`' });
    c.hostKey = fp;
  }
  return c;
}
