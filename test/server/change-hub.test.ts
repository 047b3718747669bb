/**
 * The change hub (src/server/change-hub.ts) on both stores: a listener is told about a change only
 * when its token reads that scope (its own memory, its user's, the org's; published skills with the
 * read tool), never about another token's memory, a draft or a proposal, and nothing once its
 * token no longer works; changes made through another connection to the store are found too.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/gate/index.js';
import { KnowledgeStore, SkillStore, type Author } from '../../src/knowledge/index.js';
import { ChangeHub } from '../../src/server/change-hub.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

const fixtures = await storeFixtures();
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const principal = (id: string, tools: string[]): Principal =>
  ({ tokenId: id, tokenName: id, grants: tools.map((t) => ({ kind: 'tool', name: t })) }) as unknown as Principal;
const agent: Author = { tokenId: 'tok_w', name: 'w', trust: 'agent' };
const md = (n: string) => Buffer.from(`---\nname: ${n}\ndescription: Use when ${n}.\n---\nx\n`);

describe.each(fixtures.map((f) => [f.name, f] as const))('change hub on %s', (_name, fx) => {
  let store: Store;
  let other: Store;
  let k: KnowledgeStore;
  let skills: SkillStore;
  let hub: ChangeHub;
  beforeAll(async () => {
    store = await fx.open();
    other = await fx.open();
    const key = randomBytes(32);
    k = new KnowledgeStore({ store, integrityKey: key, secretScan: () => undefined });
    // Changes through another connection (as another process would make them).
    skills = new SkillStore(
      new KnowledgeStore({ store: other, integrityKey: key, secretScan: () => undefined }),
      async () => new Set(),
    );
    hub = new ChangeHub({
      store,
      granted: (p, tool) => p.grants.some((g) => g.name === tool),
      pollMs: 100,
    });
    k.onChange(() => hub.nudge());
  });
  afterAll(async () => {
    await hub.close();
    await store.close();
    await other.close();
  });

  async function heard(p: Principal | (() => Principal | undefined), change: () => Promise<unknown>) {
    const got: { prompts: boolean; resources: boolean }[] = [];
    const stop = hub.subscribe({
      principal: async () => (typeof p === 'function' ? p() : p),
      deliver: (c) => got.push(c),
    });
    await hub.settled();
    await new Promise((r) => setTimeout(r, 150));
    await hub.settled();
    await change();
    hub.nudge();
    await new Promise((r) => setTimeout(r, 400));
    await hub.settled();
    stop();
    return got;
  }

  const reader = principal('tok_r', ['memory_read', 'org_skill_read']);

  it('tells a token about its own and the org memory, never another token’s', async () => {
    const write = (scope: string, key: string) =>
      k.write('memory', scope, key, { title: '', summary: '', tags: [], body: 'x' }, { author: agent });
    expect(await heard(reader, () => write('token:tok_other', 'a.md'))).toEqual([]);
    expect(await heard(reader, () => write('proposal:org', 'tok_w/0-x/a.md'))).toEqual([]);
    expect(await heard(reader, () => write('token:tok_r', 'b.md'))).toEqual([
      { prompts: false, resources: true, updated: [] },
    ]);
    expect(await heard(reader, () => write('org', 'c.md'))).toEqual([{ prompts: false, resources: true, updated: [] }]);
    // Without a memory-reading tool, org memory is not its business either.
    expect(await heard(principal('tok_x', ['org_skill_read']), () => write('org', 'd.md'))).toEqual([]);
  });

  it('tells readers of skills about a publish made elsewhere, not about drafts', async () => {
    const draft = await heard(reader, () =>
      skills.saveDraft('hub-skill', [{ path: 'SKILL.md', data: md('hub-skill') }], { author: agent }),
    );
    expect(draft).toEqual([]);
    const d = await skills.current('hub-skill', 'draft');
    const pub = await heard(reader, () =>
      skills.publish('hub-skill', d.digest, { author: { name: 'op', trust: 'operator' }, expectedVersion: 0 }),
    );
    expect(pub).toEqual([{ prompts: true, resources: true, updated: [] }]);
    expect(
      await heard(principal('tok_m', ['memory_read']), () =>
        skills.deprecate('hub-skill', { author: agent, expectedVersion: 1 }),
      ),
    ).toEqual([]);
  });

  it('checks the token again before each delivery: a revoked one is told nothing more', async () => {
    let revoked = false;
    const w = async () => {
      revoked = true;
      await k.write(
        'memory',
        'org',
        `e${Date.now()}.md`,
        { title: '', summary: '', tags: [], body: 'x' },
        { author: agent },
      );
    };
    expect(await heard(() => (revoked ? undefined : reader), w)).toEqual([]);
  });
});
