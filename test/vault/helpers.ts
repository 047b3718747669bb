import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropSchema, openStore, type Store } from '../../src/store/index.js';

export const PG_URL = process.env.GATEHOUSE_TEST_PG ?? (process.env.CI === 'true' ? 'postgres://postgres@127.0.0.1:5432/test' : undefined);

/** Dialects to run store-touching tests on: SQLite always, PostgreSQL when configured (always in CI). */
export const DIALECTS: Array<'sqlite' | 'postgres'> = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
if (!PG_URL) console.warn('[vault tests] PostgreSQL variant SKIPPED: set GATEHOUSE_TEST_PG=postgres://... (CI runs it)');

export interface TestEnv {
  home: string;
  keyFile: string;
  dbFile: string;
  store: Store;
  schema?: string;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function makeEnv(dialect: 'sqlite' | 'postgres'): Promise<TestEnv> {
  const home = mkdtempSync(join(tmpdir(), 'gh-vault-'));
  const dbFile = join(home, 'gatehouse.db');
  const schema = dialect === 'postgres' ? `vault_t_${randomBytes(5).toString('hex')}` : undefined;
  const open = () => (dialect === 'postgres' ? openStore({ databaseUrl: PG_URL!, schema: schema! }) : openStore({ sqliteFile: dbFile }));
  const env: TestEnv = {
    home,
    keyFile: join(home, 'master.key'),
    dbFile,
    store: await open(),
    ...(schema ? { schema } : {}),
    reopen: async () => {
      await env.store.close();
      env.store = await open();
      return env.store;
    },
    cleanup: async () => {
      await env.store.close().catch(() => undefined);
      if (schema) await dropSchema(PG_URL!, schema).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
  return env;
}
