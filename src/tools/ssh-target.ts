import { GatehouseError } from '../core/index.js';
import type { CredentialProvider, SshTargetSpec } from '../ssh/index.js';
import type { SshTargetConfig } from '../targets/index.js';
import type { SshPort, TargetsPort } from './ports.js';
import type { Principal } from '../gate/index.js';

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

/**
 * INVARIANT: while a person holds one of this token's sessions on `target` (the console's Take
 * over), the token reaches that target through no other door: `ps`, `/proc` or another terminal
 * of the same account would show what the person types (a sudo password, say). Refused with
 * human_control, like the held session itself.
 */
export async function refuseWhilePersonHolds(ssh: Pick<SshPort, 'listSessions'>, principal: Principal, target: string) {
  const held = (await ssh.listSessions(principal)).some((s) => s.target === target && s.control === 'person');
  if (held)
    throw new GatehouseError(
      'human_control',
      `a person holds one of your SSH sessions on ${target} in the Gatehouse console`,
      {
        hint: 'wait until they return it (poll ssh_session_read on that session), then try again',
      },
    );
}
