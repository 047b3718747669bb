import { GatehouseError, truncateText } from '../core/index.js';
import type { TokenService } from '../gate/index.js';
import type { HttpTargetConfig, TargetRepository } from '../targets/index.js';
import type { Vault } from '../vault/index.js';
import { checkTargetName, type AccessRequest, type AccessRequests } from './requests.js';

/** The vault approved credentials are sealed in (made on first use). */
export const ACCESS_VAULT = 'access';

/** What approving needs of the rest of Gatehouse. */
export interface ApproveAccessPorts {
  requests: AccessRequests;
  vault: Pick<Vault, 'listVaults' | 'createVault' | 'setField' | 'removeItem'>;
  targets: Pick<TargetRepository, 'find' | 'add' | 'remove'>;
  tokens: Pick<TokenService, 'addGrant'>;
  /** Tells this process's scrubbers the new credential at once (other processes learn it from the vault). */
  addSecret(value: string): void;
  /** Normalises a host key fingerprint (`SHA256:…`); undefined for anything else. */
  normalizeFingerprint(fp: string): string | undefined;
}

/** What the person decided, with the credential they typed (never shown to the agent). */
export interface AccessApproval {
  /** The new target's name. */
  target: string;
  /** SSH: the private key (PEM); HTTP: the token or password. Sealed in the vault, bound to the target. */
  credential: string;
  /** SSH: the host key fingerprint the person confirmed; it is pinned. */
  hostKey?: string;
  /** HTTP: how the credential is sent (default bearer). */
  auth?: HttpTargetConfig['auth'];
  /** HTTP: the API is on a private address (refused otherwise). */
  allowPrivate?: boolean;
  /** Grant only for this long (ms); default: until revoked. */
  forMs?: number;
  /** Who decided: `console:NAME`, `operator:USER`. */
  by: string;
}

/**
 * Approving an access request: seal the credential in the `access` vault bound to the new target,
 * create the target (an SSH target pinned to the host key the person confirmed), grant it to the
 * token (for a time, when asked), then record the decision.
 *
 * INVARIANTS: the credential goes only into the vault and this process's scrubbers, never into a
 * record or an answer; an SSH target is never created without a pinned host key; a request that
 * is not pending, lapsed or tampered grants nothing; the grant is a signed row (gate/tokens.ts).
 */
export async function approveAccess(
  ports: ApproveAccessPorts,
  id: string,
  a: AccessApproval,
): Promise<{ request: AccessRequest; until: number | null }> {
  const r = await ports.requests.get(id);
  if (!r) throw new GatehouseError('not_found', `no access request ${JSON.stringify(truncateText(id, 60))}`);
  if (!r.verified)
    throw new GatehouseError('approval_invalid', 'this request was written outside Gatehouse and cannot be approved');
  if (r.status !== 'pending') throw new GatehouseError('conflict', `this request is ${r.status}`);
  const target = checkTargetName(a.target);
  if (a.credential.trim() === '') throw new GatehouseError('invalid_input', 'type the credential the target needs');
  if (await ports.targets.find(target))
    throw new GatehouseError('conflict', `a target named ${target} already exists`, { hint: 'pick another name' });
  const hostKey = r.kind === 'ssh' ? ports.normalizeFingerprint(a.hostKey ?? '') : undefined;
  if (r.kind === 'ssh' && !hostKey)
    throw new GatehouseError('invalid_input', 'confirm the host key fingerprint (SHA256:…) before approving', {
      hint: 'fetch it in the console, or `ssh-keyscan HOST | ssh-keygen -lf -`, and compare it with the host',
    });
  if (a.forMs !== undefined && !(a.forMs > 0))
    throw new GatehouseError('invalid_input', 'the grant duration must be positive');

  // Claimed first: one approver, and no deny or lapse can land while the pieces are made. Any
  // failure below takes back what was made and puts the request back to pending.
  await ports.requests.claim(id);
  const field = r.kind === 'ssh' ? 'key' : 'token';
  const ref = `${ACCESS_VAULT}/${target}.${field}`;
  // A fixed description: the agent's reason is shown to the person here, never to other agents
  // (a target's description reaches every token that may use it, through discover).
  const description = `access request ${r.id} for ${r.tokenName}`;
  let made: { target: boolean; item: boolean } = { target: false, item: false };
  try {
    const created =
      r.kind === 'ssh'
        ? await ports.targets.add(
            'ssh',
            target,
            {
              host: r.host,
              port: r.port ?? 22,
              user: r.user ?? 'root',
              key: `vault:${ref}`,
              passphrase: null,
              hostKey: hostKey!,
            },
            description,
          )
        : await ports.targets.add(
            'http',
            target,
            {
              baseUrl: r.baseUrl!,
              auth: a.auth ?? { kind: 'bearer' },
              secret: `vault:${ref}`,
              allowPrivate: a.allowPrivate ?? false,
              followRedirects: false,
            },
            description,
          );
    made = { ...made, target: true };
    if (!(await ports.vault.listVaults()).some((v) => v.name === ACCESS_VAULT))
      await ports.vault.createVault(ACCESS_VAULT);
    const credential = r.kind === 'ssh' ? `${a.credential.trim()}\n` : a.credential.trim();
    ports.addSecret(credential.trim());
    await ports.vault.setField(ref, credential, { bind: [`target:${target}`], description });
    made = { ...made, item: true };
    const until = a.forMs !== undefined ? Date.now() + a.forMs : null;
    // Bound to this target's creation: removing the target ends the grant, and a later target of
    // the same name is not covered by it.
    await ports.tokens.addGrant(r.tokenId, `target:${target}`, {
      ...(until !== null ? { until } : {}),
      by: a.by,
      boundTo: created.createdAt,
    });
    await ports.requests.decide(id, {
      status: 'approved',
      by: a.by,
      target,
      ...(until !== null ? { grantUntil: until } : {}),
    });
    return { request: (await ports.requests.get(id))!, until };
  } catch (e) {
    if (made.item) await ports.vault.removeItem(ACCESS_VAULT, target).catch(() => undefined);
    if (made.target) await ports.targets.remove(target).catch(() => undefined);
    await ports.requests.release(id);
    throw e;
  }
}
