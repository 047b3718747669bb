/**
 * A store whose knowledge items were written before migration 0013 (search over keys) finds them
 * by a word of their path once it is migrated, on both stores: the index is rebuilt from the items.
 * And a version signed before migration 0014 (meta) still verifies: its content hash is the same.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { KnowledgeStore } from '../../src/knowledge/index.js';
import { loadMigrations, migrate, openStore } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';
import { storeKinds, storeOf } from '../helpers/stores.js';

const kinds = await storeKinds();
const home = tempHome();
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const d of drops) await d();
  home.cleanup();
});

describe('versions signed before meta existed', () => {
  it('hash as they did: title, summary, tags and body only, when there is no meta', async () => {
    const { sha256Of } = await import('../../src/knowledge/signed-rows.js');
    const c = { title: 't', summary: 's', tags: ['a'], body: 'b' };
    const before = createHash('sha256')
      .update(JSON.stringify(['t', 's', ['a'], 'b']))
      .digest('hex');
    expect(sha256Of(c)).toBe(before);
    expect(sha256Of({ ...c, meta: {} })).toBe(before);
    expect(sha256Of({ ...c, meta: { digest: 'x' } })).not.toBe(before);
    // Key order in meta does not matter; its content does.
    expect(sha256Of({ ...c, meta: { a: 1, b: [2, { c: 3, d: 4 }] } })).toBe(
      sha256Of({ ...c, meta: { b: [2, { d: 4, c: 3 }], a: 1 } }),
    );
  });
});

describe.each(kinds)('knowledge search after the key migration on %s', (kind) => {
  it('finds items written before it by a word of their path', async () => {
    const dir = join(home.dir, randomBytes(3).toString('hex'));
    mkdirSync(dir);
    const s = await storeOf(kind, dir, 'gh_kn_upgrade');
    drops.push(s.drop);
    const bare = s.spec.sqliteFile
      ? await openStore({ sqliteFile: s.spec.sqliteFile, migrate: false })
      : await openStore({ databaseUrl: s.spec.databaseUrl!, schema: s.spec.schema, migrate: false });
    try {
      await bare.db.schema
        .createTable('gatehouse_migrations')
        .addColumn('name', 'varchar(200)', (c) => c.primaryKey())
        .addColumn('applied_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      // Everything but 0013 (0014 and later only add columns and tables the code writes today).
      for (const m of (await loadMigrations()).filter((x) => !x.name.startsWith('0013'))) {
        await m.up(bare.db, bare.dialect, { sql });
        await bare.db.insertInto('gatehouse_migrations').values({ name: m.name, applied_at: 'then' }).execute();
      }
      const k = new KnowledgeStore({ store: bare, integrityKey: randomBytes(32), secretScan: () => undefined });
      await k.write(
        'memory',
        'org',
        'runbooks/failover.md',
        { title: '', summary: '', tags: [], body: 'promote the replica' },
        {
          author: { name: 'old', trust: 'agent' },
        },
      );
      expect(await k.search('memory', ['org'], 'failover')).toEqual([]);
      expect(await migrate(bare.db, bare.dialect)).toEqual(['0013_knowledge_key_search']);
      expect((await k.search('memory', ['org'], 'failover')).map((h) => h.key)).toEqual(['runbooks/failover.md']);
      expect((await k.search('memory', ['org'], 'replica')).map((h) => h.key)).toEqual(['runbooks/failover.md']);
    } finally {
      await bare.close();
    }
  });
});
