import { join } from 'node:path';
import { openStore, dropSchema, type Store } from '../../src/store/index.js';
import { freshSchema, postgresUrl } from './pg.js';
import { tempHome } from './home.js';

export interface StoreFixture {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
  /** Options another process needs to open the same store. */
  spec: { databaseUrl?: string; sqliteFile?: string; schema?: string };
  cleanup(): Promise<void>;
}

/** One fixture per available database: SQLite always, PostgreSQL when reachable (required in CI). */
export async function storeFixtures(): Promise<StoreFixture[]> {
  const out: StoreFixture[] = [];
  const home = tempHome();
  const sqliteFile = join(home.dir, 'store.db');
  out.push({
    name: 'sqlite',
    spec: { sqliteFile },
    open: () => openStore({ sqliteFile }),
    cleanup: async () => home.cleanup(),
  });
  const url = await postgresUrl();
  if (url) {
    const schema = freshSchema();
    out.push({
      name: 'postgres',
      spec: { databaseUrl: url, schema },
      open: () => openStore({ databaseUrl: url, schema }),
      cleanup: () => dropSchema(url, schema),
    });
  }
  return out;
}
