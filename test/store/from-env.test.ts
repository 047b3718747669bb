import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { gatehouseHome } from '../../src/core/index.js';
import { loadMigrations, openStore, storeOptionsFromEnv, type OpenStoreOptions } from '../../src/store/index.js';
import { freshSchema } from '../helpers/pg.js';
import { storeFixtures, type StoreFixture } from '../helpers/stores.js';

/*
 * Issue 22 item 1 / issue 21.5: one way to open the store from the environment, so no command
 * can open a different store from the one the server uses.
 */
describe('storeOptionsFromEnv', () => {
  const paths = gatehouseHome({ GATEHOUSE_HOME: '/srv/gh' });

  it('embedded SQLite in GATEHOUSE_HOME by default; empty values count as unset', () => {
    expect(storeOptionsFromEnv({}, paths)).toEqual({
      sqliteFile: join('/srv/gh', 'gatehouse.db'),
      sqliteDriver: 'auto',
    });
    expect(storeOptionsFromEnv({ DATABASE_URL: '', GATEHOUSE_PG_SCHEMA: '' }, paths)).toEqual({
      sqliteFile: join('/srv/gh', 'gatehouse.db'),
      sqliteDriver: 'auto',
    });
  });

  it('GATEHOUSE_SQLITE_DRIVER chooses the embedded driver; an unknown one is refused', () => {
    expect(storeOptionsFromEnv({ GATEHOUSE_SQLITE_DRIVER: 'node:sqlite' }, paths).sqliteDriver).toBe('node:sqlite');
    expect(storeOptionsFromEnv({ GATEHOUSE_SQLITE_DRIVER: 'better-sqlite3' }, paths).sqliteDriver).toBe(
      'better-sqlite3',
    );
    expect(() => storeOptionsFromEnv({ GATEHOUSE_SQLITE_DRIVER: 'sqlite4' }, paths)).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });

  it('DATABASE_URL with GATEHOUSE_PG_SCHEMA names that schema (the rekey-destroys-the-store bug opened the default one)', () => {
    expect(storeOptionsFromEnv({ DATABASE_URL: 'postgres://h/db', GATEHOUSE_PG_SCHEMA: 'team_a' }, paths)).toEqual({
      databaseUrl: 'postgres://h/db',
      schema: 'team_a',
    });
    expect(storeOptionsFromEnv({ DATABASE_URL: 'postgres://h/db' }, paths)).toEqual({ databaseUrl: 'postgres://h/db' });
  });

  it('a schema without DATABASE_URL is refused, never read as "use the SQLite file"', () => {
    expect(() => storeOptionsFromEnv({ GATEHOUSE_PG_SCHEMA: 'team_a' }, paths)).toThrow(
      expect.objectContaining({ code: 'config_invalid', hint: expect.stringContaining('DATABASE_URL') }),
    );
  });
});

const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('openStore on %s', (_name, fx: StoreFixture) => {
  afterAll(() => fx.cleanup());

  it('migrationsAppliedNow lists what THIS open applied (all of them on a fresh store, none after)', async () => {
    const all = (await loadMigrations()).map((m) => m.name);
    expect(all).toContain('0006_integrity');
    const first = await openStore(fx.spec);
    expect(first.migrationsAppliedNow).toEqual(all);
    await first.close();
    const again = await openStore(fx.spec);
    expect(again.migrationsAppliedNow).toEqual([]);
    await again.close();
    const noMigrate = await openStore({ ...fx.spec, migrate: false });
    expect(noMigrate.migrationsAppliedNow).toEqual([]);
    await noMigrate.close();
  });
});

describe.runIf(fixtures.some((f) => f.name === 'postgres'))('openStore createSchema: false', () => {
  const pg = fixtures.find((f) => f.name === 'postgres');

  it('a missing schema is not_found and is not created (rekey and doctor must not change the store they inspect)', async () => {
    const schema = freshSchema('gh_missing');
    const opts: OpenStoreOptions = { databaseUrl: pg!.spec.databaseUrl, schema, migrate: false, createSchema: false };
    await expect(openStore(opts)).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining(schema),
    });
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ connectionString: pg!.spec.databaseUrl });
    await c.connect();
    try {
      expect(
        (await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount,
      ).toBe(0);
    } finally {
      await c.end();
    }
  });
});

describe.runIf(fixtures.some((f) => f.name === 'postgres'))(
  'doctor opens the store the environment names, and changes nothing',
  () => {
    const pg = fixtures.find((f) => f.name === 'postgres')!;

    it('GATEHOUSE_PG_SCHEMA is honoured: a populated schema checks out, a missing one is a failure and is not created', async () => {
      const { runChecks } = await import('../../src/cli/commands/doctor.js');
      const { openKeyring, openVault } = await import('../../src/vault/index.js');
      const { dropSchema } = await import('../../src/store/index.js');
      const home = (await import('../helpers/home.js')).tempHome();
      const schema = freshSchema('gh_doctor');
      const env = {
        ...home.env,
        DATABASE_URL: pg.spec.databaseUrl,
        GATEHOUSE_PG_SCHEMA: schema,
        GATEHOUSE_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      };
      try {
        const store = await openStore(storeOptionsFromEnv(env, gatehouseHome(env)));
        const kr = await openKeyring({ home: home.dir, masterKeyFile: join(home.dir, 'none'), env, store });
        await openVault({ store, keyring: kr }).createVault('ops');
        kr.close();
        await store.close();
        const ok = await runChecks(env);
        expect(ok.find((c) => c.name === 'store')).toMatchObject({
          status: 'ok',
          detail: expect.stringContaining(`#${schema}`),
        });
        expect(ok.find((c) => c.name === 'keyring')).toMatchObject({ status: 'ok' });
        expect(ok.find((c) => c.name === 'integrity')).toMatchObject({ status: 'ok' });

        const missing = freshSchema('gh_doctor_missing');
        const bad = await runChecks({ ...env, GATEHOUSE_PG_SCHEMA: missing });
        expect(bad.find((c) => c.name === 'store')).toMatchObject({
          status: 'fail',
          detail: expect.stringContaining(`${missing} does not exist`),
        });
        const { default: pgm } = await import('pg');
        const c = new pgm.Client({ connectionString: pg.spec.databaseUrl });
        await c.connect();
        try {
          expect(
            (await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [missing])).rowCount,
          ).toBe(0);
        } finally {
          await c.end();
        }
      } finally {
        await dropSchema(pg.spec.databaseUrl!, schema);
        home.cleanup();
      }
    });
  },
);
