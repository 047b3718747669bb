/**
 * Issue 23 item 4: Node's built-in `node:sqlite` (Node 22.5+) beside better-sqlite3, the embedded
 * store's driver, on the audit log's write pattern: batches of records appended in one
 * BEGIN IMMEDIATE transaction at `synchronous = NORMAL` in WAL mode, then one fdatasync of the WAL
 * file before the batch counts as durable (src/audit/sqlite-writer.ts does the same). Batches of 10
 * and 50 stand for concurrency 10 and 50. Also the time to open a store (import + open + pragmas).
 *
 * On a Node without `node:sqlite` the section says so and measures better-sqlite3 alone.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Driver {
  exec(sql: string): void;
  insert(sql: string): (...values: (string | number)[]) => void;
  close(): void;
}

const SCHEMA = `CREATE TABLE audit (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, ts TEXT NOT NULL, phase TEXT NOT NULL,
  action TEXT, detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`;
const INSERT =
  'INSERT INTO audit (seq, id, ts, phase, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
const PRAGMAS = 'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;';

async function openBetter(file: string): Promise<Driver> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  return {
    exec: (sql) => void db.exec(sql),
    insert: (sql) => {
      const st = db.prepare(sql);
      return (...v) => void st.run(...v);
    },
    close: () => db.close(),
  };
}

type NodeSqlite = {
  DatabaseSync: new (file: string) => {
    exec(sql: string): void;
    prepare(sql: string): { run(...v: (string | number)[]): unknown };
    close(): void;
  };
};

function nodeSqlite(): NodeSqlite | undefined {
  try {
    // Required, not imported: on Node 20 the module does not exist and must not fail the bench.
    return createRequire(import.meta.url)('node:sqlite') as NodeSqlite;
  } catch {
    return undefined;
  }
}

async function openNode(file: string): Promise<Driver> {
  const mod = nodeSqlite();
  if (!mod) throw new Error('node:sqlite is not available');
  const db = new mod.DatabaseSync(file);
  return {
    exec: (sql) => db.exec(sql),
    insert: (sql) => {
      const st = db.prepare(sql);
      return (...v) => void st.run(...v);
    },
    close: () => db.close(),
  };
}

async function appendRun(open: (file: string) => Promise<Driver>, dir: string, batch: number, total: number) {
  const file = join(dir, `audit-${batch}-${Math.random().toString(36).slice(2)}.db`);
  const db = await open(file);
  db.exec(PRAGMAS);
  db.exec(SCHEMA);
  const insert = db.insert(INSERT);
  const wal = openSync(`${file}-wal`, 'r');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let seq = 0;
  const hash = 'f'.repeat(64);
  while (seq < total) {
    db.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < batch; i++) {
      seq++;
      insert(seq, `aud_${seq}`, new Date().toISOString(), 'attempt', 'POST /v1/items', '{"status":200}', hash, hash);
    }
    db.exec('COMMIT');
    fdatasyncSync(wal);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  closeSync(wal);
  db.close();
  return {
    records_per_s: Math.round((total / ms) * 1000),
    cpu_us_per_record: +((cpu.user + cpu.system) / total).toFixed(1),
  };
}

async function openTime(open: (file: string) => Promise<Driver>, dir: string): Promise<number> {
  const t0 = performance.now();
  const db = await open(join(dir, `open-${Math.random().toString(36).slice(2)}.db`));
  db.exec(PRAGMAS);
  db.close();
  return +(performance.now() - t0).toFixed(2);
}

export async function benchSqliteDrivers(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-sqlite-'));
  try {
    const drivers: [string, (file: string) => Promise<Driver>][] = [['better_sqlite3', openBetter]];
    const hasNode = nodeSqlite() !== undefined;
    if (hasNode) drivers.push(['node_sqlite', openNode]);
    const out: Record<string, unknown> = {
      note: 'audit-shaped appends: one transaction per batch at synchronous=NORMAL, then one fdatasync of the WAL',
      node_sqlite_available: hasNode ? true : `not in ${process.version} (needs Node 22.5 or later)`,
    };
    for (const [name, open] of drivers) {
      const first_open_ms = await openTime(open, dir);
      const row: Record<string, unknown> = { first_open_ms, open_ms: await openTime(open, dir) };
      for (const batch of [10, 50]) {
        await appendRun(open, dir, batch, 2000); // warm
        const rounds = [];
        for (let r = 0; r < 3; r++) rounds.push(await appendRun(open, dir, batch, 20_000));
        rounds.sort((a, b) => a.records_per_s - b.records_per_s);
        row[`batch_${batch}`] = rounds[1];
      }
      out[name] = row;
    }
    const better = out.better_sqlite3 as Record<string, { records_per_s: number }>;
    const node = out.node_sqlite as Record<string, { records_per_s: number }> | undefined;
    if (node) {
      out.node_vs_better_throughput = {
        batch_10: +((node.batch_10?.records_per_s ?? NaN) / (better.batch_10?.records_per_s ?? NaN)).toFixed(2),
        batch_50: +((node.batch_50?.records_per_s ?? NaN) / (better.batch_50?.records_per_s ?? NaN)).toFixed(2),
      };
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
