import { approveAccess, type AccessRequest } from '../../access/index.js';
import { GatehouseError, parseDuration, truncateText } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';
import { visible } from '../terminal.js';
import { operator } from './approve.js';
import { readSecret } from './vault.js';

const USAGE = `usage:
  gatehouse requests list [--all] [--json]
  gatehouse requests approve ID --target NAME [--for 2h] [--host-key SHA256:…] [--auth bearer|basic|header:NAME|query:NAME] [--allow-private] < credential
  gatehouse requests approve ID --scan     (SSH: print the host's key fingerprint to compare; pins nothing)
  gatehouse requests deny ID [--note TEXT]
  Access requests agents filed with request_access. Approving creates the target NAME with the
  credential read from stdin (an SSH private key, or an API token), sealed in the vault's "access"
  vault and bound to it; an SSH target is pinned to --host-key, which you compare with the host
  first; the token gets target:NAME, only for --for when given.`;

function line(r: AccessRequest): string {
  const where = r.kind === 'ssh' ? `${r.user ?? '?'}@${r.host}:${r.port ?? 22}` : (r.baseUrl ?? r.host);
  const state = r.verified ? r.status : 'TAMPERED';
  return `${r.id}  ${state.padEnd(8)}  ${visible(r.tokenName)}  ${r.kind} ${visible(where)}  ${visible(truncateText(r.reason, 120))}${r.target ? `  -> ${r.target}` : ''}`;
}

/**
 * `gatehouse requests`: the access requests agents filed, for people at a shell. The same decision
 * as the console's: audited with tool `requests`, decided as `operator:USER`.
 */
export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help' || !['list', 'approve', 'deny'].includes(sub)) {
    write(ctx.stdout, USAGE);
    return sub === 'help' || sub === '--help' ? EXIT.ok : EXIT.usage;
  }
  const { values, positionals } = parse(rest, {
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    target: { type: 'string' },
    for: { type: 'string' },
    'host-key': { type: 'string' },
    scan: { type: 'boolean' },
    auth: { type: 'string' },
    'allow-private': { type: 'boolean' },
    note: { type: 'string' },
  });
  const rt = await bootRuntime({ env: ctx.env });
  try {
    const ports = await rt.accessPorts();
    const by = `operator:${operator(ctx.env)}`;
    if (sub === 'list') {
      const all = await ports.requests.list({ status: values.all ? 'all' : 'pending' });
      if (values.json) for (const r of all) write(ctx.stdout, JSON.stringify(r));
      else if (all.length === 0) write(ctx.stdout, values.all ? 'no access requests' : 'no access requests waiting');
      else for (const r of all) write(ctx.stdout, line(r));
      return EXIT.ok;
    }
    const id = onlyPositional(positionals);
    const r = await ports.requests.get(id);
    if (!r) throw new GatehouseError('not_found', `no access request ${JSON.stringify(truncateText(id, 60))}`);
    if (sub === 'deny') {
      await ports.requests.decide(id, { status: 'denied', by, ...(values.note ? { note: values.note } : {}) });
      await rt.audit.append({
        phase: 'event',
        tool: 'requests',
        outcome: 'access_denied',
        approver: by,
        detail: { request: id },
      });
      write(ctx.stdout, `denied ${id}`);
      return EXIT.ok;
    }
    if (values.scan) {
      if (r.kind !== 'ssh') throw new GatehouseError('usage', '--scan is for SSH requests');
      if (!r.verified || r.status !== 'pending')
        throw new GatehouseError(
          'conflict',
          `this request is ${r.verified ? r.status : 'tampered'}: its host is not contacted`,
        );
      const { fetchHostKeyFingerprint } = await import('../../ssh/index.js');
      const k = await fetchHostKeyFingerprint(r.host, r.port ?? 22);
      write(
        ctx.stdout,
        `${visible(r.host)}:${r.port ?? 22} offers ${k.keyType} ${k.fingerprint}\nCompare it with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub there), then approve with --host-key ${k.fingerprint}`,
      );
      return EXIT.ok;
    }
    if (!values.target) throw new GatehouseError('usage', 'approve needs --target NAME', { hint: USAGE });
    const [kind, name] = (values.auth ?? 'bearer').split(':', 2) as [string, string | undefined];
    const auth =
      kind === 'header' || kind === 'query'
        ? name
          ? { kind, name }
          : null
        : kind === 'basic'
          ? { kind: 'basic' as const }
          : kind === 'bearer'
            ? { kind: 'bearer' as const }
            : null;
    if (!auth)
      throw new GatehouseError('usage', `invalid --auth ${JSON.stringify(truncateText(values.auth ?? '', 40))}`, {
        hint: USAGE,
      });
    const credential = await readSecret(ctx, r.kind === 'ssh' ? 'Private key: ' : 'Credential: ');
    const done = await approveAccess(ports, id, {
      target: values.target,
      credential,
      ...(values['host-key'] ? { hostKey: values['host-key'] } : {}),
      ...(r.kind === 'http'
        ? { auth: auth as { kind: 'bearer' }, allowPrivate: values['allow-private'] === true }
        : {}),
      ...(values.for ? { forMs: parseDuration(values.for) } : {}),
      by,
    });
    await rt.audit.append({
      phase: 'event',
      tool: 'requests',
      outcome: 'access_approved',
      approver: by,
      detail: {
        request: id,
        token: r.tokenName,
        target: values.target,
        ...(done.until ? { until: new Date(done.until).toISOString() } : {}),
      },
    });
    write(
      ctx.stdout,
      `approved ${id}: target ${values.target} created, granted to ${r.tokenName}${done.until ? ` until ${new Date(done.until).toISOString()}` : ''}`,
    );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
