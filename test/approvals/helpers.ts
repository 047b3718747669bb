import { createHash } from 'node:crypto';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createApprovalService,
  type ApprovalEvent,
  type ApprovalRequest,
  type ApprovalService,
} from '../../src/approvals/index.js';
import { chooseSqliteDriver, openSqliteConnection, type Store } from '../../src/store/index.js';
import { openKeyring, type Keyring } from '../../src/vault/index.js';
import type { StoreFixture } from '../helpers/stores.js';

export const DIGEST_A = 'a'.repeat(64);
export const DIGEST_B = 'b'.repeat(64);

export function sampleRequest(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    tokenId: 'tok_agent1',
    tokenName: 'agent-1',
    tool: 'ssh_exec',
    target: 'prod-db',
    summary: 'ssh_exec prod-db: rm -rf /var/tmp/cache',
    operation: { kind: 'command', command: 'rm -rf /var/tmp/cache' },
    digest: DIGEST_A,
    rule: 'fs.rm-recursive',
    reason: 'recursive delete',
    matched: 'rm -rf',
    mode: 'out-of-band',
    ...over,
  };
}

/**
 * Two independent handles on one store (as two Gatehouse processes would have), each with its own
 * keyring opened from the same master key, and a clock the test moves instead of sleeping.
 */
export interface TwoHandles {
  a: ApprovalService;
  b: ApprovalService;
  events: ApprovalEvent[];
  clock: { now: number };
  storeA: Store;
  close(): Promise<void>;
}

export async function twoHandles(fx: StoreFixture, opts: { ttlMs?: number } = {}): Promise<TwoHandles> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-approvals-'));
  // One master key per store (the first keyring opened on a store fixes it).
  const env = { GATEHOUSE_MASTER_KEY: createHash('sha256').update(JSON.stringify(fx.spec)).digest('base64') };
  const clock = { now: Date.now() };
  const events: ApprovalEvent[] = [];
  const opened: { store: Store; keyring: Keyring }[] = [];
  const services: ApprovalService[] = [];
  for (let i = 0; i < 2; i++) {
    const store = await fx.open();
    const keyring = await openKeyring({ home: dir, masterKeyFile: join(dir, 'master.key'), env, store, create: true });
    opened.push({ store, keyring });
    services.push(
      await createApprovalService({
        store,
        keys: keyring,
        ttlMs: opts.ttlMs,
        now: () => clock.now,
        onEvent: (e) => void events.push(e),
      }),
    );
  }
  // Tests share one database per fixture: start each from empty approval tables.
  for (const t of ['approvals', 'approvers', 'approval_state_nonces', 'approval_code_attempts'])
    await opened[0].store.db.deleteFrom(t).execute();
  return {
    a: services[0],
    b: services[1],
    events,
    clock,
    storeA: opened[0].store,
    close: async () => {
      for (const o of opened) {
        o.keyring.close();
        await o.store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(
  p: Promise<unknown>,
): Promise<{ code: string; message: string; hint?: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; hint?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

/**
 * A plain SQL client on the fixture's database, outside Gatehouse (what a local process that can
 * write to the database has): no keyring, no repository, just statements. `?` placeholders.
 */
export interface PlainSql {
  run(statement: string, params?: unknown[]): Promise<number>;
  rows<T = Record<string, unknown>>(statement: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function plainSql(fx: StoreFixture): Promise<PlainSql> {
  if (fx.spec.sqliteFile) {
    // The driver the store itself uses: two copies of SQLite in one process must never share a file.
    const db = openSqliteConnection(fx.spec.sqliteFile, chooseSqliteDriver());
    db.exec('PRAGMA busy_timeout = 10000');
    return {
      run: async (s, p = []) => Number(db.prepare(s).run(p).changes),
      rows: async <T>(s: string, p: unknown[] = []) => db.prepare(s).all(p) as T[],
      close: async () => void db.close(),
    };
  }
  const c = new pg.Client({ connectionString: fx.spec.databaseUrl, options: `-c search_path=${fx.spec.schema}` });
  await c.connect();
  const numbered = (s: string) => {
    let i = 0;
    return s.replace(/\?/g, () => `$${++i}`);
  };
  return {
    run: async (s, p = []) => (await c.query(numbered(s), p)).rowCount ?? 0,
    rows: async <T>(s: string, p: unknown[] = []) => (await c.query(numbered(s), p)).rows as T[],
    close: () => c.end(),
  };
}
