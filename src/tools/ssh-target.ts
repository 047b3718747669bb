import { GatehouseError } from '../core/index.js';
import type { CredentialProvider, SshTargetSpec } from '../ssh/index.js';
import type { SshTargetConfig } from '../targets/index.js';
import type { TargetsPort } from './ports.js';

/**
 * The SSH spec and a credential provider for a target. The key is opened from the vault only when
 * a connection is made (after the host key was verified), under the vault's binding rules.
 */
export async function sshTarget(
  targets: TargetsPort,
  name: string,
): Promise<{ spec: SshTargetSpec; creds: CredentialProvider; host: string }> {
  const target = await targets.get(name);
  if (target.kind !== 'ssh')
    throw new GatehouseError('invalid_input', `target ${name} is an ${target.kind} target, not ssh`, {
      hint: 'use api_request for HTTP targets',
    });
  const c: SshTargetConfig = target.config;
  return {
    host: c.host,
    spec: { name, host: c.host, port: c.port, user: c.user, hostKey: c.hostKey ?? undefined },
    creds: async () => ({
      privateKey: await targets.openSecret(target, c.key),
      passphrase: c.passphrase ? await targets.openSecret(target, c.passphrase) : undefined,
    }),
  };
}
