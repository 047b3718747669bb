/**
 * Issue 18 item 7: every command honours the store it is pointed at. The CLI's store-touching
 * commands run against PostgreSQL with GATEHOUSE_PG_SCHEMA set to a fresh schema, and everything
 * they write lands in that schema and nowhere else (once, `vault` commands opened the store
 * without the schema and wrote secrets into `public`).
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { freshSchema, postgresUrl } from '../helpers/pg.js';

const url = await postgresUrl();

describe.skipIf(!url)('the CLI on a non-default PostgreSQL schema', () => {
  const schema = freshSchema('gh_cli');
  const home = tempHome();
  const env = { ...home.env, DATABASE_URL: url ?? '', GATEHOUSE_PG_SCHEMA: schema };
  const ok = (args: string[], input?: string): string => {
    const r = cli(args, env, input);
    expect(r.code, `gatehouse ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  afterAll(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
    home.cleanup();
  });

  it('vault, target, token and audit commands all read and write that schema only', async () => {
    assertBuilt();
    ok(['vault', 'create', 'ops']);
    ok(['vault', 'set', 'ops/api.key', '--bind', 'target:api'], 'sk-live-' + 'q'.repeat(40));
    expect(ok(['vault', 'list'])).toContain('ops');
    ok([
      'target',
      'add',
      'http',
      'api',
      '--base-url',
      'https://api.example.com',
      '--auth',
      'bearer',
      '--secret',
      'vault:ops/api.key',
    ]);
    expect(ok(['target', 'list'])).toContain('api');
    const token = ok(['token', 'create', '--name', 'agent', '--grant', 'tool:discover']).trim();
    expect(token).toMatch(/^gh_/);
    expect(ok(['token', 'list'])).toContain('agent');
    expect(cli(['audit', 'verify'], env).code).toBe(0);

    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const count = async (s: string, table: string): Promise<number> => {
        const r = await c.query(
          `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
          [s, table],
        );
        if ((r.rows[0] as { n: number }).n === 0) return -1;
        return ((await c.query(`SELECT count(*)::int AS n FROM "${s}"."${table}"`)).rows[0] as { n: number }).n;
      };
      expect(await count(schema, 'vaults')).toBe(1);
      expect(await count(schema, 'vault_items')).toBeGreaterThanOrEqual(1);
      expect(await count(schema, 'targets')).toBe(1);
      expect(await count(schema, 'tokens')).toBe(1);
      // Nothing of this run reached the default schema: neither this vault nor this token.
      const vaultId = ((await c.query(`SELECT id FROM "${schema}".vaults`)).rows[0] as { id: string }).id;
      const tokenId = ((await c.query(`SELECT id FROM "${schema}".tokens`)).rows[0] as { id: string }).id;
      if ((await count('public', 'vaults')) >= 0) {
        expect((await c.query('SELECT 1 FROM public.vaults WHERE id = $1', [vaultId])).rowCount).toBe(0);
      }
      if ((await count('public', 'tokens')) >= 0) {
        expect((await c.query('SELECT 1 FROM public.tokens WHERE id = $1', [tokenId])).rowCount).toBe(0);
      }
    } finally {
      await c.end();
    }
  });
});
