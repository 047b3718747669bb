import { GatehouseError } from '../../core/index.js';
import { auditHead, parseAuditAnchor, searchAudit, verifyAuditChain, type AuditRecord } from '../../audit/index.js';
import { parseDuration } from '../../gate/index.js';
import { bootRuntime } from '../../server/boot.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse audit verify [--anchor SEQ:HASH] [--json]
  gatehouse audit head [--json]
  gatehouse audit tail [-n N] [--json]
  gatehouse audit search [--token NAME] [--tool TOOL] [--decision allow|approve|deny|redirect] [--since 1h|ISO-TIME] [-n N] [--json]`;

function line(r: AuditRecord): string {
  const parts = [
    `#${r.seq}`, r.ts, r.phase, r.tokenName ?? '-', r.tool ?? r.route ?? '-', r.target ? `@${r.target}` : '',
    r.decision ? `decision=${r.decision}` : '', r.rule ? `rule=${r.rule}` : '', r.approver ? `approver=${r.approver}` : '',
    r.outcome ? `outcome=${r.outcome}` : '', r.status !== null ? `status=${r.status}` : '', r.durationMs !== null ? `${r.durationMs}ms` : '',
    r.action ? `— ${r.action}` : '',
  ];
  return parts.filter(Boolean).join(' ');
}

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || !['verify', 'head', 'tail', 'search'].includes(sub)) {
    if (sub && sub !== 'help' && sub !== '--help') throw new GatehouseError('usage', `unknown audit command ${JSON.stringify(sub)}`, { hint: USAGE });
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const { values } = parse(rest, {
    n: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
    token: { type: 'string' },
    tool: { type: 'string' },
    decision: { type: 'string' },
    since: { type: 'string' },
    anchor: { type: 'string' },
  }, { positionals: false });
  const anchor = values.anchor === undefined ? undefined : parseAuditAnchor(values.anchor);
  if (anchor === null) throw new GatehouseError('usage', `invalid --anchor ${JSON.stringify(values.anchor)}`, { hint: 'use SEQ:HASH as `gatehouse audit head` prints it' });
  if (anchor && sub !== 'verify') throw new GatehouseError('usage', '--anchor goes with audit verify', { hint: USAGE });
  const limit = values.n === undefined ? (sub === 'tail' ? 20 : 100) : Number(values.n);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new GatehouseError('usage', `-n must be a whole number from 1 to 100000`);
  let since: string | undefined;
  if (values.since) {
    const t = /^\d+[smhdw]$/.test(values.since) ? Date.now() - parseDuration(values.since) : Date.parse(values.since);
    if (Number.isNaN(t)) throw new GatehouseError('usage', `invalid --since ${values.since}`, { hint: 'use 1h, 2d or an ISO time' });
    since = new Date(t).toISOString();
  }
  if (values.decision && !['allow', 'approve', 'deny', 'redirect'].includes(values.decision)) throw new GatehouseError('usage', `invalid --decision ${values.decision}`);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    if (sub === 'head') {
      const h = await auditHead(rt.store);
      if (values.json) write(ctx.stdout, JSON.stringify(h));
      else if (!h) write(ctx.stdout, 'the audit log is empty');
      else write(ctx.stdout, `${h.seq}:${h.hash}  (${h.ts}; keep it outside this host, check later with audit verify --anchor)`);
      return EXIT.ok;
    }
    if (sub === 'verify') {
      const result = await verifyAuditChain(rt.store, await rt.keyring.internalKey('audit-chain'), { anchor });
      if (values.json) write(ctx.stdout, JSON.stringify(result));
      else if (result.ok) write(ctx.stdout, `ok: ${result.records} records, chain intact${anchor ? `, holds anchor #${anchor.seq}` : ''}`);
      else if (result.anchorProblem) {
        const a = result.anchorProblem;
        write(ctx.stdout, a.problem === 'missing'
          ? `BROKEN: anchor record #${a.seq} is gone; the log now ends at #${result.records} (records were cut from the end)`
          : `BROKEN: record #${a.seq} is not the one anchored (the history up to it was rewritten)`);
      } else {
        const b = result.firstBad!;
        const what = b.problem === 'changed' ? 'was changed' : b.problem === 'removed_before' ? 'follows a removed record' : 'is out of order or follows a removed record';
        write(ctx.stdout, `BROKEN: record #${b.seq} (${b.id}) ${what}; ${result.records - 1} records before it verify`);
      }
      return result.ok ? EXIT.ok : EXIT.failure;
    }
    const records = await searchAudit(rt.store, {
      tokenName: values.token,
      tool: values.tool,
      decision: values.decision,
      since,
      limit,
    });
    if (values.json) for (const r of records) write(ctx.stdout, JSON.stringify(r));
    else for (const r of records) write(ctx.stdout, line(r));
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
