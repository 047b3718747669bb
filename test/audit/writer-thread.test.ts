import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';

// The compiled modules: under dist/ the embedded store's audit log writes on its writer thread
// (the TypeScript sources vitest runs elsewhere use the same writer in-thread).
type AuditMod = typeof import('../../src/audit/index.js');
type StoreMod = typeof import('../../src/store/index.js');

describe('audit writer thread (compiled build, embedded store)', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  it('commits concurrent appends in order from two writers and the chain verifies', async () => {
    assertBuilt();
    const audit = (await import('../../dist/src/audit/index.js' as string)) as AuditMod;
    const store = (await import('../../dist/src/store/index.js' as string)) as StoreMod;
    const file = join(home.dir, 'a.db');
    const key = randomBytes(32);
    const s1 = await store.openStore({ sqliteFile: file });
    const s2 = await store.openStore({ sqliteFile: file });
    const a = new audit.AuditLog(s1, key);
    const b = new audit.AuditLog(s2, key);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append({ phase: 'event', tool: 'x', action: `n${i}` })));
    expect(new Set(results.map((r) => r.seq)).size).toBe(200);
    expect(await audit.verifyAuditChain(s1, key)).toEqual({ ok: true, records: 200 });
    await a.close();
    await b.close();
    await s1.close();
    await s2.close();
  });

  it('a write the store refuses rejects with audit_unavailable (no record, no action)', async () => {
    const audit = (await import('../../dist/src/audit/index.js' as string)) as AuditMod;
    const store = (await import('../../dist/src/store/index.js' as string)) as StoreMod;
    const s = await store.openStore({ sqliteFile: join(home.dir, 'b.db') });
    const log = new audit.AuditLog(s, randomBytes(32));
    await log.append({ phase: 'event', tool: 'ok' });
    s.sqlite!.exec('DROP TABLE audit_log');
    await expect(log.append({ phase: 'event', tool: 'lost' })).rejects.toMatchObject({ code: 'audit_unavailable' });
    await log.close();
    await s.close();
  });
});
