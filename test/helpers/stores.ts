/**
 * THE store-fixture list (like kysely's DIALECTS): every store suite runs once per entry — SQLite
 * always, PostgreSQL whenever a server is reachable (and it must be under CI=true; see
 * test/helpers/pg.ts). Suites take either ready fixtures (`storeFixtures`) or the kinds and open
 * their own stores per test (`storeKinds` + `storeOf`, as test/vault/helpers.ts does).
 */
import { join } from 'node:path';
import { openStore, dropSchema, type Store } from '../../src/store/index.js';
import { freshSchema, postgresUrl } from './pg.js';
import { tempHome } from './home.js';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreFixture {
  name: StoreKind;
  open(): Promise<Store>;
  /** Options another process needs to open the same store. */
  spec: { databaseUrl?: string; sqliteFile?: string; schema?: string };
  cleanup(): Promise<void>;
}

/** The kinds of store every store suite runs on, here and now. */
export async function storeKinds(): Promise<StoreKind[]> {
  return (await postgresUrl()) ? ['sqlite', 'postgres'] : ['sqlite'];
}

/**
 * A fresh store of one kind: a SQLite file under `dir`, or its own PostgreSQL schema (so parallel
 * runs never share tables). `drop` removes the schema (SQLite files go with their directory).
 */
export async function storeOf(
  kind: StoreKind,
  dir: string,
  prefix = 'gh_test',
): Promise<{ spec: StoreFixture['spec']; open(): Promise<Store>; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const sqliteFile = join(dir, 'store.db');
    return { spec: { sqliteFile }, open: () => openStore({ sqliteFile }), drop: async () => undefined };
  }
  const url = await postgresUrl();
  if (!url) throw new Error('PostgreSQL is not reachable');
  const schema = freshSchema(prefix);
  return {
    spec: { databaseUrl: url, schema },
    open: () => openStore({ databaseUrl: url, schema }),
    drop: () => dropSchema(url, schema),
  };
}

/** One ready fixture per store kind (see storeKinds). */
export async function storeFixtures(): Promise<StoreFixture[]> {
  const out: StoreFixture[] = [];
  for (const kind of await storeKinds()) {
    const home = tempHome();
    const s = await storeOf(kind, home.dir);
    out.push({
      name: kind,
      spec: s.spec,
      open: s.open,
      cleanup: async () => {
        await s.drop();
        home.cleanup();
      },
    });
  }
  return out;
}
