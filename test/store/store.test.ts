import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, openSqliteConnection } from '../../src/store/index.js';
import { storeFixtures, type StoreFixture } from '../helpers/stores.js';

const fixtures = await storeFixtures();
const WORKER = fileURLToPath(new URL('./migrate-worker.mjs', import.meta.url));
const DIST_STORE = pathToFileURL(fileURLToPath(new URL('../../dist/src/store/index.js', import.meta.url))).href;

function runWorker(spec: StoreFixture['spec']): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WORKER, DIST_STORE, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describe.each(fixtures.map((f) => [f.name, f] as const))('store on %s', (_name, fx) => {
  afterAll(() => fx.cleanup());

  it('two processes migrating a fresh store at once neither fail nor apply a migration twice', async () => {
    const [a, b] = await Promise.all([runWorker(fx.spec), runWorker(fx.spec)]);
    expect(a.err + b.err).toBe('');
    expect([a.code, b.code]).toEqual([0, 0]);
    const store = await fx.open();
    try {
      const rows = await store.db.selectFrom('gatehouse_migrations').select('name').execute();
      const names = rows.map((r: { name: string }) => r.name).sort();
      const expected = (await loadMigrations()).map((m) => m.name);
      expect(names).toEqual(expected);
    } finally {
      await store.close();
    }
  });

  it('migrating again is a no-op', async () => {
    const store = await fx.open();
    try {
      expect(await migrate(store.db, store.dialect)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  // An up-to-date store is recognised from the names it has applied, without the migration lock
  // (and without loading the migrations): a start is not held up by another process's write.
  it('an up-to-date store migrates without waiting for the migration lock', async () => {
    const store = await fx.open();
    try {
      if (fx.spec.sqliteFile) {
        const other = openSqliteConnection(fx.spec.sqliteFile, store.sqlite!.driver);
        other.exec('BEGIN IMMEDIATE');
        store.sqlite!.exec('PRAGMA busy_timeout = 50');
        try {
          expect(await migrate(store.db, store.dialect)).toEqual([]);
        } finally {
          other.exec('ROLLBACK');
          other.close();
        }
      } else {
        await store.db.connection().execute(async (conn) => {
          await sql`SELECT pg_advisory_lock(7204011)`.execute(conn);
          try {
            const quick = await Promise.race([
              migrate(store.db, store.dialect),
              new Promise((r) => setTimeout(() => r('waited for the lock'), 3000)),
            ]);
            expect(quick).toEqual([]);
          } finally {
            await sql`SELECT pg_advisory_unlock(7204011)`.execute(conn);
          }
        });
      }
    } finally {
      await store.close();
    }
  });
});
