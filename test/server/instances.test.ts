import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRegistry, newInstanceId } from '../../src/server/instances.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * The registry a session's requests are forwarded by carries the agent's bearer token to the URL it
 * names, so only a row signed with the store integrity key, for exactly that id and URL, and fresh,
 * is ever used.
 */
const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('instance registry on %s', (_name, fx) => {
  let store: Store;
  const key = randomBytes(32);
  beforeAll(async () => {
    store = await fx.open();
  });
  afterAll(async () => {
    await store.close();
    await fx.cleanup();
  });

  it('finds a registered process, and nothing once it has gone', async () => {
    const a = new InstanceRegistry(store, key, newInstanceId(), 'http://10.0.0.1:3000');
    await a.register();
    const reader = new InstanceRegistry(store, key, newInstanceId(), 'http://10.0.0.2:3000');
    expect(await reader.urlOf(a.id)).toBe('http://10.0.0.1:3000');
    await a.close();
    expect(await new InstanceRegistry(store, key, newInstanceId(), 'x').urlOf(a.id)).toBeUndefined();
  });

  it('a row whose URL a database writer changed, or that another key signed, is never used', async () => {
    const a = new InstanceRegistry(store, key, newInstanceId(), 'http://10.0.0.1:3000');
    await a.register();
    await store.db
      .updateTable('mcp_instances')
      .set({ url: 'http://attacker.example:80' })
      .where('id', '=', a.id)
      .execute();
    expect(await new InstanceRegistry(store, key, newInstanceId(), 'x').urlOf(a.id)).toBeUndefined();
    const forged = new InstanceRegistry(store, randomBytes(32), newInstanceId(), 'http://attacker.example:80');
    await forged.register();
    expect(await new InstanceRegistry(store, key, newInstanceId(), 'x').urlOf(forged.id)).toBeUndefined();
    await a.close();
    await forged.close();
  });

  it('a stale row (its process stopped beating) is not used', async () => {
    const a = new InstanceRegistry(store, key, newInstanceId(), 'http://10.0.0.3:3000');
    await a.register();
    await store.db
      .updateTable('mcp_instances')
      .set({ seen_at: new Date(Date.now() - 10 * 60_000).toISOString() })
      .where('id', '=', a.id)
      .execute();
    expect(await new InstanceRegistry(store, key, newInstanceId(), 'x').urlOf(a.id)).toBeUndefined();
    await a.close();
  });
});
