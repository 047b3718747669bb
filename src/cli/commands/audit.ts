import { GatehouseError, pointInTime } from '../../core/index.js';
import {
  auditHead,
  parseAuditAnchor,
  readAuditPayloads,
  requireAuditRecord,
  searchAudit,
  verifyAuditChain,
  type AuditAnchor,
  type AuditBreak,
  type AuditRecord,
  type VerifyResult,
} from '../../audit/index.js';
import { bootRuntime } from '../../server/index.js';
import { block, visible } from '../terminal.js';
import { onlyPositional, parse, write } from '../args.js';
import type { Store } from '../../store/index.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse audit verify [--anchor CHAIN:N:HASH,...] [--json]
  gatehouse audit show SEQ|ID [--json]
  gatehouse audit head [--json]
  gatehouse audit tail [-n N] [--json]
  gatehouse audit search [--token NAME] [--tool TOOL] [--decision allow|approve|deny|redirect] [--since 1h|ISO-TIME] [-n N] [--json]`;

/**
 * One record on one line. INVARIANT: text an agent chose (a command, a target, a client name) is
 * shown with control characters, ANSI escapes and bidi overrides as visible escapes, so it cannot
 * rewrite the operator's terminal or hide part of itself.
 */
function line(r: AuditRecord): string {
  const v = (s: string | null) => (s === null ? null : visible(s));
  const parts = [
    `#${r.seq}`,
    r.ts,
    r.phase,
    v(r.tokenName) ?? '-',
    v(r.tool ?? r.route) ?? '-',
    r.target ? `@${visible(r.target)}` : '',
    r.decision ? `decision=${visible(r.decision)}` : '',
    r.rule ? `rule=${visible(r.rule)}` : '',
    r.approver ? `approver=${visible(r.approver)}` : '',
    r.outcome ? `outcome=${visible(r.outcome)}` : '',
    r.status !== null ? `status=${r.status}` : '',
    r.durationMs !== null ? `${r.durationMs}ms` : '',
    r.payload ? `[payload: ${Object.keys(r.payload).map(visible).join(', ')}]` : '',
    r.action ? `— ${visible(r.action)}` : '',
  ];
  return parts.filter(Boolean).join(' ');
}

function breakLine(b: AuditBreak): string {
  const what: Record<AuditBreak['problem'], string> = {
    changed: 'was changed',
    removed_before: `follows ${b.missing ?? 'some'} removed record${b.missing === 1 ? '' : 's'}`,
    reordered: 'does not link to the record before it (records swapped or removed, or its hash edited)',
    blob_missing: `has lost its payload ${b.payload ?? ''} (the blob is gone)`,
    blob_changed: `has a changed payload ${b.payload ?? ''} (the blob does not match the digest in the record)`,
    payload_unreadable: 'has an unreadable payload column',
    unchained: 'is in no chain (its chain or place was blanked)',
  };
  const place = b.chain === null ? '' : ` ${visible(b.chain)}:${b.chainSeq ?? '?'}`;
  return `  #${b.seq}${place} (${b.id === null ? '?' : visible(b.id)}) ${what[b.problem]}`;
}

/** One line per chain: which chains verify covered, and where each ends. */
function chainLines(result: VerifyResult): string[] {
  return result.chains.map(
    (c) =>
      `  chain ${visible(c.chain)}: ${c.records} record${c.records === 1 ? '' : 's'}` +
      (c.head ? `, ends at ${c.head.chainSeq}` : ', empty (every record it had is gone)'),
  );
}

function verifyReport(result: VerifyResult, anchor: AuditAnchor | undefined): string {
  const chains = chainLines(result);
  if (result.ok)
    return [
      `ok: ${result.records} records in ${result.chains.length} chain${result.chains.length === 1 ? '' : 's'}, every chain intact${anchor ? ', holds the anchor' : ''}`,
      ...chains,
    ].join('\n');
  const lines: string[] = [];
  if (result.breakCount > 0) {
    lines.push(
      `BROKEN: ${result.breakCount} problem${result.breakCount === 1 ? '' : 's'} in ${result.records} records:`,
    );
    lines.push(...result.breaks.map(breakLine));
    if (result.breakCount > result.breaks.length)
      lines.push(
        `  … and ${result.breakCount - result.breaks.length} more (the first ${result.breaks.length} are listed; --json gives the same list)`,
      );
  }
  for (const a of result.anchorProblems ?? []) {
    const c = result.chains.find((x) => x.chain === a.chain);
    const end = c?.head ? `now ends at ${c.head.chainSeq}` : 'has no records left';
    lines.push(
      a.problem === 'missing'
        ? `BROKEN: anchored record ${visible(a.chain)}:${a.chainSeq} is gone; chain ${visible(a.chain)} ${end} (records were cut from the end)`
        : `BROKEN: record ${visible(a.chain)}:${a.chainSeq} is not the one anchored (the history up to it was rewritten)`,
    );
  }
  lines.push('chains checked:', ...chains);
  return lines.join('\n');
}

/** `audit show`: one record with every payload it keeps, and whether a payload blob is missing or changed. */
async function showRecord(store: Store, ref: string, json: boolean, ctx: CliContext): Promise<number> {
  const record = await requireAuditRecord(store, ref);
  const payloads = await readAuditPayloads(store, record);
  const damaged = Object.values(payloads).some((p) => p.problem);
  if (json) {
    write(ctx.stdout, JSON.stringify({ ...record, payloadValues: payloads }));
    return damaged ? EXIT.failure : EXIT.ok;
  }
  const out = [line(record)];
  if (record.ref) out.push(`closes: ${visible(record.ref)}`);
  out.push(`id: ${visible(record.id)}  hash: ${record.hash}`);
  if (record.detail) out.push(`detail: ${visible(JSON.stringify(record.detail))}`);
  for (const [name, p] of Object.entries(payloads)) {
    const where = p.sha256 ? `blob sha256 ${p.sha256}` : 'inline';
    const problem =
      p.problem === 'missing'
        ? ' — MISSING: the blob is gone'
        : p.problem === 'changed'
          ? ' — CHANGED: the blob does not match the digest in the record'
          : '';
    out.push(`--- payload ${visible(name)} (${p.bytes} bytes, ${where})${problem} ---`);
    if (p.problem !== 'missing') out.push(block(p.text));
  }
  if (Object.keys(payloads).length > 0) out.push('--- end ---');
  write(ctx.stdout, out.join('\n'));
  return damaged ? EXIT.failure : EXIT.ok;
}

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || !['verify', 'show', 'head', 'tail', 'search'].includes(sub)) {
    if (sub && sub !== 'help' && sub !== '--help')
      throw new GatehouseError('usage', `unknown audit command ${JSON.stringify(sub)}`, { hint: USAGE });
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const parsed = parse(
    rest,
    {
      n: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      token: { type: 'string' },
      tool: { type: 'string' },
      decision: { type: 'string' },
      since: { type: 'string' },
      anchor: { type: 'string' },
    },
    { positionals: sub === 'show' },
  );
  const positionals = (parsed.positionals ?? []) as string[];
  if (sub === 'show' && positionals.length !== 1)
    throw new GatehouseError('usage', 'audit show takes one record: its seq or its id', { hint: USAGE });
  const values = parsed.values;
  const anchor = values.anchor === undefined ? undefined : parseAuditAnchor(values.anchor);
  if (anchor === null)
    throw new GatehouseError('usage', `invalid --anchor ${JSON.stringify(values.anchor)}`, {
      hint: 'use the line `gatehouse audit head` prints (CHAIN:N:HASH, comma-separated)',
    });
  if (anchor && sub !== 'verify') throw new GatehouseError('usage', '--anchor goes with audit verify', { hint: USAGE });
  const limit = values.n === undefined ? (sub === 'tail' ? 20 : 100) : Number(values.n);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
    throw new GatehouseError('usage', `-n must be a whole number from 1 to 100000`);
  let since: string | undefined;
  if (values.since) {
    try {
      since = pointInTime(values.since, Date.now());
    } catch {
      throw new GatehouseError('usage', `invalid --since ${values.since}`, { hint: 'use 1h, 2d or an ISO time' });
    }
  }
  if (values.decision && !['allow', 'approve', 'deny', 'redirect'].includes(values.decision))
    throw new GatehouseError('usage', `invalid --decision ${values.decision}`);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    if (sub === 'head') {
      const h = await auditHead(rt.store);
      if (values.json) write(ctx.stdout, JSON.stringify(h));
      else if (!h) write(ctx.stdout, 'the audit log is empty');
      else
        write(
          ctx.stdout,
          `${h.anchor}\n(${h.chains.length} chain${h.chains.length === 1 ? '' : 's'}, newest record ${h.ts}; keep this line outside this host, check later with audit verify --anchor)`,
        );
      return EXIT.ok;
    }
    if (sub === 'verify') {
      const result = await verifyAuditChain(rt.store, await rt.keyring.internalKey('audit-chain'), { anchor });
      write(ctx.stdout, values.json ? JSON.stringify(result) : verifyReport(result, anchor));
      return result.ok ? EXIT.ok : EXIT.failure;
    }
    if (sub === 'show') return await showRecord(rt.store, onlyPositional(positionals), !!values.json, ctx);
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
