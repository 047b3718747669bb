import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouseHome } from '../../src/core/index.js';
import { openStore, storeOptionsFromEnv, type Store } from '../../src/store/index.js';
import { openKeyring, openVault, type Keyring, type Vault } from '../../src/vault/index.js';
import { postgresUrl } from '../helpers/pg.js';
import { storeKinds, storeOf, type StoreKind } from '../helpers/stores.js';

/** The PostgreSQL server for store-touching vault tests, when one is reachable (required under CI=true). */
export const PG_URL = await postgresUrl();

/** Dialects to run store-touching tests on: the one store-fixture list (test/helpers/stores.ts). */
export const DIALECTS: StoreKind[] = await storeKinds();

export interface TestEnv {
  home: string;
  keyFile: string;
  dbFile: string;
  store: Store;
  schema?: string;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function makeEnv(dialect: StoreKind): Promise<TestEnv> {
  const home = mkdtempSync(join(tmpdir(), 'gh-vault-'));
  const of = await storeOf(dialect, home, 'vault_t');
  const env: TestEnv = {
    home,
    keyFile: join(home, 'master.key'),
    dbFile: of.spec.sqliteFile ?? join(home, 'store.db'),
    store: await of.open(),
    ...(of.spec.schema ? { schema: of.spec.schema } : {}),
    reopen: async () => {
      await env.store.close();
      env.store = await of.open();
      return env.store;
    },
    cleanup: async () => {
      await env.store.close().catch(() => undefined);
      await of.drop().catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
  return env;
}

/** Store + keyring + vault as a command opens them from its environment (tests read back through it). */
export async function openVaultFromEnv(
  env: NodeJS.ProcessEnv,
): Promise<{ vault: Vault; keyring: Keyring; store: Store; close(): Promise<void> }> {
  const paths = gatehouseHome(env);
  const store = await openStore(storeOptionsFromEnv(env, paths));
  const keyring = await openKeyring({
    home: paths.home,
    masterKeyFile: paths.masterKeyFile,
    env,
    store,
    create: false,
  });
  const vault = openVault({ store, keyring });
  return {
    vault,
    keyring,
    store,
    close: async () => {
      vault.close();
      keyring.close();
      await store.close();
    },
  };
}

/**
 * A plain SQL connection to a test store, beside Gatehouse: what someone who can write to the
 * database (but holds no master key) can do. Write SQL with `?` placeholders.
 */
export interface RawSql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function rawSql(spec: { sqliteFile?: string; databaseUrl?: string; schema?: string }): Promise<RawSql> {
  if (spec.databaseUrl) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: spec.databaseUrl });
    await c.connect();
    if (spec.schema) await c.query(`SET search_path TO ${spec.schema}`);
    return {
      query: async <T>(text: string, params: unknown[] = []) => {
        let i = 0;
        return (
          await c.query(
            text.replace(/\?/g, () => `$${++i}`),
            params,
          )
        ).rows as T[];
      },
      close: () => c.end(),
    };
  }
  // The driver the store itself uses: two copies of SQLite in one process must never share a file.
  const { chooseSqliteDriver, openSqliteConnection } = await import('../../src/store/index.js');
  const db = openSqliteConnection(spec.sqliteFile!, chooseSqliteDriver());
  db.exec('PRAGMA busy_timeout = 10000');
  return {
    query: async <T>(text: string, params: unknown[] = []) => {
      const st = db.prepare(text);
      return (st.reader ? st.all(params) : (st.run(params), [])) as T[];
    },
    close: async () => {
      db.close();
    },
  };
}

/** The raw connection for a TestEnv's store. */
export function rawFor(t: TestEnv): Promise<RawSql> {
  return rawSql(t.schema ? { databaseUrl: PG_URL!, schema: t.schema } : { sqliteFile: t.dbFile });
}

/** Captures log lines while `fn` runs. */
export async function captureLog<T>(
  fn: () => Promise<T>,
): Promise<{ result: T | undefined; error: unknown; lines: string[] }> {
  const { setLogSink } = await import('../../src/core/index.js');
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    return { result: await fn(), error: undefined, lines };
  } catch (e) {
    return { result: undefined, error: e, lines };
  } finally {
    setLogSink((l) => process.stderr.write(l + '\n'));
  }
}

/**
 * Makes a test store look like one created before row signatures (its check value sealed with the
 * v1 plaintext), the only kind of store whose unsigned rows `signUnsigned` may sign.
 */
export async function makeLegacyCheck(t: TestEnv, masterKey: Buffer): Promise<void> {
  const { seal, AD } = await import('../../src/vault/seal.js');
  const w = await seal(Buffer.from('gatehouse master key check v1'), AD.check(), new Uint8Array(masterKey));
  const raw = await rawFor(t);
  try {
    await raw.query("UPDATE vault_keyring SET wrapped = ?, nonce = ? WHERE id = 'check'", [w.ciphertext, w.nonce]);
  } finally {
    await raw.close();
  }
}
