/**
 * Audit append throughput: records per second with group commit, on the embedded store and on
 * PostgreSQL, at concurrency 10 and 50 (each worker awaits its append before the next, as a gate
 * awaits the attempt before running the action). Three record shapes:
 *  - `small`: an attempt with the fields the gate sets and no payload (the hot path);
 *  - `small_payload`: the same with the full command, stdin and env as payload values, all
 *    small enough to be stored inline;
 *  - `blob_payload`: a 64 KiB payload value, stored in audit_blobs in the same transaction.
 * Each cell reports the median of `rounds` runs (after one warm-up run), so one noisy round on
 * the shared cores does not decide the figure, and this process's CPU time per record (user +
 * system, thread pool included), which other load on the machine disturbs less than throughput.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { AuditLog, type AuditEntry } from '../src/audit/index.js';
import { dropSchema, openStore, type Store } from '../src/store/index.js';

const PG_URL = process.env.GATEHOUSE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

type Shape = 'small' | 'small_payload' | 'blob_payload';

function entry(shape: Shape, i: number): AuditEntry {
  const command = `ls -la /var/log/app-${i} | grep -v debug | head -n 20 && echo done`;
  const base: AuditEntry = {
    phase: 'attempt',
    tokenId: 'tok_bench',
    tokenName: 'bench',
    tool: 'ssh_exec',
    target: 'web-1',
    action: command,
    decision: 'allow',
    rule: 'default.read_only',
    client: 'stdio',
  };
  if (shape === 'small') return base;
  if (shape === 'small_payload')
    return { ...base, payload: { command, stdin: 'echo hello\n', env: '{"LANG":"C.UTF-8"}' } };
  return { ...base, payload: { command, transcript: `${i}:` + 'x'.repeat(64 * 1024) } };
}

/** Records per second, and this process's CPU time per record (µs, user + system, all threads). */
async function throughput(
  store: Store,
  shape: Shape,
  records: number,
  concurrency: number,
): Promise<{ perS: number; cpuUs: number }> {
  const audit = new AuditLog(store, randomBytes(32));
  let next = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < records) {
        const i = next++;
        await audit.append(entry(shape, i));
      }
    }),
  );
  const perS = records / ((performance.now() - t) / 1000);
  const used = process.cpuUsage(cpu);
  await audit.close();
  return { perS: Math.round(perS), cpuUs: Math.round(((used.user + used.system) / records) * 10) / 10 };
}

/**
 * The baseline beside group commit: one autocommitted INSERT per record, awaited one after the
 * other (what the log would cost without grouping). Rows go far past the chain's seqs and are
 * removed afterwards.
 */
async function oneInsertPerRecord(store: Store, records: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < records; i++) {
    await store.db
      .insertInto('audit_log')
      .values({
        seq: 10_000_000 + i,
        id: `b_${i}_${randomBytes(4).toString('hex')}`,
        ts: new Date().toISOString(),
        phase: 'event',
        prev_hash: '0',
        hash: '0',
      })
      .execute();
  }
  const perS = records / ((performance.now() - t) / 1000);
  await store.db.deleteFrom('audit_log').where('seq', '>=', 10_000_000).execute();
  return Math.round(perS);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

type Cell = { records_per_s: number; cpu_us_per_record: number; rounds: number[] };

async function cells(store: Store, rounds: number, shapes: Shape[]): Promise<Record<string, unknown>> {
  const out: Record<string, Record<string, Cell> | number> = {};
  for (const shape of shapes) {
    const records = shape === 'blob_payload' ? 1000 : 5000;
    const byConcurrency: Record<string, Cell> = {};
    out[shape] = byConcurrency;
    for (const c of [10, 50]) {
      await throughput(store, shape, Math.min(records, 1000), c); // warm-up
      const runs: { perS: number; cpuUs: number }[] = [];
      for (let r = 0; r < rounds; r++) runs.push(await throughput(store, shape, records, c));
      byConcurrency[`c${c}`] = {
        records_per_s: median(runs.map((x) => x.perS)),
        cpu_us_per_record: median(runs.map((x) => x.cpuUs)),
        rounds: runs.map((x) => x.perS),
      };
    }
  }
  out.one_insert_per_record_per_s = await oneInsertPerRecord(store, 500);
  return out;
}

export async function benchAudit(opts: { rounds?: number; shapes?: Shape[] } = {}): Promise<Record<string, unknown>> {
  const rounds = opts.rounds ?? 3;
  const shapes = opts.shapes ?? ['small', 'small_payload', 'blob_payload'];
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-bench-'));
  try {
    const sqlite = await openStore({ sqliteFile: join(dir, 'audit-bench.db') });
    const sqliteCells = await cells(sqlite, rounds, shapes);
    await sqlite.close();
    let pgCells: unknown = 'skipped: PostgreSQL not reachable';
    const probe = new pg.Client({ connectionString: PG_URL });
    const pgOk = await probe.connect().then(
      () => probe.end().then(() => true),
      () => false,
    );
    if (pgOk) {
      const schema = `gh_bench_${randomBytes(4).toString('hex')}`;
      const s = await openStore({ databaseUrl: PG_URL, schema });
      try {
        pgCells = await cells(s, rounds, shapes);
      } finally {
        await s.close();
        await dropSchema(PG_URL, schema);
      }
    }
    return { sqlite: sqliteCells, postgres: pgCells, rounds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run on its own: `node dist/bench/audit.js [small small_payload blob_payload] [--rounds N]`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const r = args.indexOf('--rounds');
  const rounds = r >= 0 ? Number(args[r + 1]) : undefined;
  const shapes = args.filter((a, i) => !a.startsWith('--') && (r < 0 || i !== r + 1)) as Shape[];
  const result = await benchAudit({ rounds, shapes: shapes.length ? shapes : undefined });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
