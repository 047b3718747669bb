/**
 * The leased webhook queue (src/webhooks/queue.ts) on both stores: eight concurrent pollers never
 * hold one event at once and lose none; leases run out and are redelivered under a new token (the
 * old one settles nothing); attempts end in `dead` and a replay brings an event back; failed events
 * wait out their backoff; dedupe holds within its window, across concurrent enqueues too; filters,
 * retention and sealed bodies; and a waiting poll is woken by an enqueue (on PostgreSQL, one on
 * another store handle, through LISTEN/NOTIFY).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import {
  EndpointRepository,
  WebhookQueue,
  type EndpointKeys,
  type LeasedEvent,
  type NewEvent,
} from '../../src/webhooks/index.js';
import { storeFixtures, type StoreFixture } from '../helpers/stores.js';

const fixtures = await storeFixtures();
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** A fixed 32-byte key per purpose: all EndpointRepository and the queue's body sealing need. */
const keys: EndpointKeys = {
  internalKey: async (purpose) => createHash('sha256').update(`queue-test|${purpose}`).digest(),
};

const S = 1000;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

let serial = 0;
/** A verified event for `endpoint`, known by two keys of its own unless told otherwise. */
function event(endpoint: string, over: Partial<NewEvent> = {}): NewEvent {
  const n = ++serial;
  return {
    endpoint,
    provider: 'github',
    eventId: `delivery-${n}`,
    type: 'push',
    verified: 'github',
    headers: { 'x-github-event': 'push', 'x-github-delivery': `delivery-${n}` },
    body: Buffer.from(JSON.stringify({ n, ref: 'refs/heads/main' })),
    keys: [`id:delivery-${n}`, `sha256:${createHash('sha256').update(String(n)).digest('hex')}`],
    maxAttempts: 3,
    retentionS: 7 * 86_400,
    dedupeS: 7 * 86_400,
    sealBody: false,
    ...over,
  };
}

async function rowCount(store: Store, table: string, endpoint: string): Promise<number> {
  const r = (await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .where('endpoint', '=', endpoint)
    .executeTakeFirstOrThrow()) as { n: number | string };
  return Number(r.n);
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe.each(fixtures.map((f) => [f.name, f] as const))('webhook queue on %s', (kind, fx) => {
  let store: Store;
  /** A second handle on the same store (PostgreSQL: its own pool; SQLite: the same connection). */
  let store2: Store;
  let repo: EndpointRepository;
  let q: WebhookQueue;
  let q2: WebhookQueue;
  let endpoints = 0;

  beforeAll(async () => {
    store = await fx.open();
    store2 = kind === 'postgres' ? await fx.open() : store;
    repo = new EndpointRepository(store, keys);
    q = new WebhookQueue(store, keys);
    q2 = new WebhookQueue(store2, keys);
  });
  afterAll(async () => {
    await q.close();
    await q2.close();
    if (store2 !== store) await store2.close();
    await store.close();
  });

  async function endpoint(): Promise<string> {
    const name = `hooks-${++endpoints}`;
    await repo.add(name, {
      provider: 'github',
      secrets: [{ ref: 'vault:hooks/gh.secret', addedAt: new Date().toISOString() }],
    });
    return name;
  }

  it('eight concurrent pollers over 1,000 events: each leased once, never held by two at once, none lost, none redelivered', async () => {
    const name = await endpoint();
    for (let i = 0; i < 1000; i += 50)
      await Promise.all(Array.from({ length: 50 }, () => q.enqueue(event(name, { maxAttempts: 5 }))));
    expect((await q.stats([name])).get(name)).toMatchObject({ ready: 1000, leased: 0, seq: 1000 });

    const holder = new Map<string, number>();
    const leases = new Map<string, number>();
    const overlaps: string[] = [];
    const badAcks: unknown[] = [];
    const poller = async (p: number) => {
      const queue = p % 2 === 0 ? q : q2;
      for (;;) {
        const got = await queue.lease({ endpoints: [name], limit: 25, leaseS: 600 });
        if (got.length === 0) return;
        for (const e of got) {
          const other = holder.get(e.id);
          if (other !== undefined) overlaps.push(`${e.id} leased by ${p} while ${other} held it`);
          holder.set(e.id, p);
          leases.set(e.id, (leases.get(e.id) ?? 0) + 1);
          expect(e.attempts).toBe(1);
          expect(e.state).toBe('leased');
        }
        // Hold the batch while the others poll.
        await tick();
        const acks = await queue.ack(
          got.map((e) => ({ id: e.id, leaseToken: e.leaseToken, outcome: 'done' as const })),
          [name],
        );
        for (const e of got) holder.delete(e.id);
        for (const a of acks) if (!(a.ok && a.state === 'acked')) badAcks.push(a);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, p) => poller(p)));

    expect(overlaps).toEqual([]);
    expect(badAcks).toEqual([]);
    expect(leases.size).toBe(1000);
    expect([...leases.values()].every((n) => n === 1)).toBe(true);
    const acked = await q.events(name, { state: 'acked', limit: 1000 });
    expect(acked).toHaveLength(1000);
    expect(acked.every((e) => e.outcome === 'done' && e.doneAt !== null)).toBe(true);
    expect(await q.lease({ endpoints: [name], limit: 1000, leaseS: 60 })).toEqual([]);
    // Even long after every lease would have run out, an acked event is never offered again.
    expect(await q2.lease({ endpoints: [name], limit: 1000, leaseS: 60 }, Date.now() + 3 * 3600 * S)).toEqual([]);
    expect((await q.stats([name])).get(name)).toMatchObject({ ready: 0, leased: 0, dead: 0, seq: 1000 });
  });

  it('a lease that runs out is redelivered with one more attempt under a new token; the old token settles nothing', async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name), T0);
    const [first] = await q.lease({ endpoints: [name], limit: 10, leaseS: 30 }, T0);
    expect(first).toMatchObject({ id, attempts: 1, state: 'leased', leaseUntil: T0 + 30 * S });
    // While the lease holds, nobody else gets it.
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 30 }, T0 + 29 * S)).toEqual([]);
    const [second] = await q.lease({ endpoints: [name], limit: 10, leaseS: 30 }, T0 + 30 * S);
    expect(second).toMatchObject({ id, attempts: 2, state: 'leased' });
    expect(second!.leaseToken).not.toBe(first!.leaseToken);

    const stale = await q.ack([{ id, leaseToken: first!.leaseToken, outcome: 'done' }], [name], T0 + 31 * S);
    expect(stale).toMatchObject([{ id, ok: false }]);
    expect((await q.get(id, T0 + 31 * S))!.state).toBe('leased');
    const fresh = await q.ack([{ id, leaseToken: second!.leaseToken, outcome: 'done' }], [name], T0 + 31 * S);
    expect(fresh).toEqual([{ id, ok: true, state: 'acked' }]);
    expect(await q.get(id, T0 + 31 * S)).toMatchObject({ state: 'acked', outcome: 'done', attempts: 2 });
    // Settled once: the token that settled it does not settle it again.
    expect(await q.ack([{ id, leaseToken: second!.leaseToken, outcome: 'failed' }], [name], T0 + 32 * S)).toMatchObject(
      [{ ok: false }],
    );
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 30 }, T0 + 3600 * S)).toEqual([]);
  });

  it('an ack at the instant its lease runs out, or for another endpoint, settles nothing', async () => {
    const name = await endpoint();
    const other = await endpoint();
    const { id } = await q.enqueue(event(name), T0);
    const [e] = await q.lease({ endpoints: [name], limit: 1, leaseS: 30 }, T0);
    expect(await q.ack([{ id, leaseToken: e!.leaseToken, outcome: 'done' }], [other], T0 + S)).toMatchObject([
      { ok: false },
    ]);
    expect(await q.ack([{ id, leaseToken: e!.leaseToken, outcome: 'done' }], [name], T0 + 30 * S)).toMatchObject([
      { ok: false },
    ]);
    expect((await q.get(id, T0 + 30 * S))!.state).toBe('leased');
  });

  it('after max attempts of leases run out the event is dead; a replay makes it pending with no attempts', async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name, { maxAttempts: 3 }), T0);
    for (let i = 0; i < 3; i++) {
      const got = await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, T0 + i * 10 * S);
      expect(got.map((e) => [e.id, e.attempts])).toEqual([[id, i + 1]]);
    }
    const after = T0 + 30 * S;
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, after)).toEqual([]);
    const dead = await q.events(name, { state: 'dead' }, after);
    expect(dead.map((e) => [e.id, e.state, e.attempts, e.outcome])).toEqual([[id, 'dead', 3, 'expired']]);
    expect((await q.stats([name], after)).get(name)).toMatchObject({ ready: 0, leased: 0, dead: 1 });
    // Long after, still dead: nothing revives it but an operator's replay.
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, after + 86_400 * S)).toEqual([]);

    const replayed = await q.replay(id, after + S);
    expect(replayed).toMatchObject({ id, state: 'pending', attempts: 0, outcome: null, doneAt: null });
    await expect(q.replay(id, after + S)).rejects.toMatchObject({ code: 'conflict' });
    const again = await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, after + 2 * S);
    expect(again.map((e) => [e.id, e.attempts])).toEqual([[id, 1]]);
    expect(await q.ack([{ id, leaseToken: again[0]!.leaseToken, outcome: 'done' }], [name], after + 3 * S)).toEqual([
      { id, ok: true, state: 'acked' },
    ]);
    await expect(q.replay('whe_no_such_event', after)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('an event whose last lease ran out is counted dead, not deliverable, before anyone polls again', async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name, { maxAttempts: 1 }), T0);
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, T0)).toHaveLength(1);
    // Nobody polls after the lease ran out: what operators see must still be the truth.
    const later = T0 + 60 * S;
    expect((await q.stats([name], later)).get(name)).toMatchObject({ ready: 0, leased: 0, dead: 1 });
    expect((await q.events(name, { state: 'dead' }, later)).map((e) => e.id)).toEqual([id]);
  });

  it('an event whose last lease ran out reads as dead by id, and an operator can replay it, before anyone polls again', async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name, { maxAttempts: 1 }), T0);
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 10 }, T0)).toHaveLength(1);
    const later = T0 + 60 * S;
    // No poll, no stats, no listing since: `webhook show ID` then `webhook replay ID`.
    expect(await q.get(id, later)).toMatchObject({ id, state: 'dead' });
    expect(await q.replay(id, later)).toMatchObject({ id, state: 'pending', attempts: 0 });
  });

  it("ack 'failed' waits out the backoff before it is offered again, and is dead at max attempts; 'skip' acks", async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name, { maxAttempts: 2 }), T0);
    const [a] = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0);
    expect(
      await q.ack([{ id, leaseToken: a!.leaseToken, outcome: 'failed', note: 'upstream 502' }], [name], T0),
    ).toEqual([{ id, ok: true, state: 'failed' }]);
    expect(await q.get(id, T0)).toMatchObject({
      state: 'failed',
      outcome: 'failed',
      note: 'upstream 502',
      doneAt: null,
    });
    // The backoff after a first attempt is 2 s (min(2^attempts, 300) s).
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0 + 1999)).toEqual([]);
    const [b] = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0 + 2 * S);
    expect(b).toMatchObject({ id, attempts: 2 });
    expect(await q.ack([{ id, leaseToken: b!.leaseToken, outcome: 'failed' }], [name], T0 + 3 * S)).toEqual([
      { id, ok: true, state: 'dead' },
    ]);
    expect((await q.events(name, { state: 'dead' }, T0 + 3 * S)).map((e) => e.id)).toEqual([id]);
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0 + 3600 * S)).toEqual([]);

    const { id: skipped } = await q.enqueue(event(name), T0);
    const [c] = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0 + 4 * S);
    expect(c!.id).toBe(skipped);
    expect(await q.ack([{ id: skipped, leaseToken: c!.leaseToken, outcome: 'skip' }], [name], T0 + 4 * S)).toEqual([
      { id: skipped, ok: true, state: 'acked' },
    ]);
    expect(await q.get(skipped, T0 + 4 * S)).toMatchObject({ state: 'acked', outcome: 'skip' });
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0 + 3600 * S)).toEqual([]);
  });

  it('extend() lengthens a lease still held, never one under another token or one that ran out', async () => {
    const name = await endpoint();
    const { id } = await q.enqueue(event(name), T0);
    const [e] = await q.lease({ endpoints: [name], limit: 1, leaseS: 30 }, T0);
    expect(await q.extend([{ id, leaseToken: 'wl_not-the-token' }], [name], 60, T0 + 10 * S)).toEqual([
      { id, ok: false },
    ]);
    expect(await q.extend([{ id, leaseToken: e!.leaseToken }], [name], 60, T0 + 20 * S)).toEqual([
      { id, ok: true, leaseUntil: new Date(T0 + 80 * S).toISOString() },
    ]);
    // Past the first lease, before the extended one runs out: still held.
    expect(await q.lease({ endpoints: [name], limit: 1, leaseS: 30 }, T0 + 79 * S)).toEqual([]);
    expect(await q.ack([{ id, leaseToken: e!.leaseToken, outcome: 'done' }], [name], T0 + 79 * S)).toEqual([
      { id, ok: true, state: 'acked' },
    ]);

    const { id: id2 } = await q.enqueue(event(name), T0);
    const [f] = await q.lease({ endpoints: [name], limit: 1, leaseS: 30 }, T0);
    expect(f!.id).toBe(id2);
    expect(await q.extend([{ id: id2, leaseToken: f!.leaseToken }], [name], 60, T0 + 30 * S)).toEqual([
      { id: id2, ok: false },
    ]);
    const [g] = await q.lease({ endpoints: [name], limit: 1, leaseS: 30 }, T0 + 30 * S);
    expect(g).toMatchObject({ id: id2, attempts: 2 });
    // The old token cannot extend the new lease either.
    expect(await q.extend([{ id: id2, leaseToken: f!.leaseToken }], [name], 60, T0 + 31 * S)).toEqual([
      { id: id2, ok: false },
    ]);
  });

  it('a key seen within its window is a counted duplicate of the first event; past the window it is new', async () => {
    const name = await endpoint();
    const first = await q.enqueue(event(name, { keys: ['id:evt_1', 'sha256:aaa'], dedupeS: 60 }), T0);
    expect(first.duplicate).toBe(false);
    const again = await q.enqueue(event(name, { keys: ['id:evt_1', 'sha256:aaa'], dedupeS: 60 }), T0 + 59 * S);
    expect(again).toEqual({ duplicate: true, id: first.id });
    // Either key alone is enough, and a refused enqueue claims none of its other keys.
    const byContent = await q.enqueue(event(name, { keys: ['id:evt_2', 'sha256:aaa'], dedupeS: 60 }), T0 + S);
    expect(byContent).toEqual({ duplicate: true, id: first.id });
    const fresh = await q.enqueue(event(name, { keys: ['id:evt_2'], dedupeS: 60 }), T0 + 2 * S);
    expect(fresh.duplicate).toBe(false);
    expect(await rowCount(store, 'webhook_events', name)).toBe(2);
    expect((await q.stats([name], T0 + 2 * S)).get(name)).toMatchObject({ duplicates: 2, seq: 2, ready: 2 });

    const late = await q.enqueue(event(name, { keys: ['id:evt_1', 'sha256:aaa'], dedupeS: 60 }), T0 + 60 * S);
    expect(late.duplicate).toBe(false);
    expect(late.id).not.toBe(first.id);
    expect(await q.enqueue(event(name, { keys: ['id:evt_1'], dedupeS: 60 }), T0 + 61 * S)).toEqual({
      duplicate: true,
      id: late.id,
    });
    expect(await rowCount(store, 'webhook_events', name)).toBe(3);
    // Keys are per endpoint.
    const other = await endpoint();
    expect((await q.enqueue(event(other, { keys: ['id:evt_1'] }), T0 + 61 * S)).duplicate).toBe(false);
  });

  it('of ten concurrent enqueues of one key exactly one is queued', async () => {
    const name = await endpoint();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? q : q2).enqueue(event(name, { keys: ['id:same-delivery', 'sha256:same-content'] })),
      ),
    );
    const queued = results.filter((r) => !r.duplicate);
    expect(queued).toHaveLength(1);
    expect(results.filter((r) => r.duplicate).every((r) => r.id === queued[0]!.id)).toBe(true);
    expect(await rowCount(store, 'webhook_events', name)).toBe(1);
    expect((await q.stats([name])).get(name)).toMatchObject({ duplicates: 9, seq: 1, ready: 1 });
  });

  it('leases only the types asked for, and never an endpoint not named', async () => {
    const a = await endpoint();
    const b = await endpoint();
    const push = await q.enqueue(event(a, { type: 'push' }), T0);
    const issue = await q.enqueue(event(a, { type: 'issues' }), T0);
    const elsewhere = await q.enqueue(event(b, { type: 'issues' }), T0);
    const issues = await q.lease({ endpoints: [a], limit: 10, leaseS: 60, types: ['issues'] }, T0);
    expect(issues.map((e) => e.id)).toEqual([issue.id]);
    const rest = await q.lease({ endpoints: [a], limit: 10, leaseS: 60 }, T0);
    expect(rest.map((e) => e.id)).toEqual([push.id]);
    expect(await q.lease({ endpoints: [a], limit: 10, leaseS: 60 }, T0 + 30 * S)).toEqual([]);
    const fromB = await q.lease({ endpoints: [b], limit: 10, leaseS: 60 }, T0);
    expect(fromB.map((e) => e.id)).toEqual([elsewhere.id]);
    expect(await q.lease({ endpoints: [], limit: 10, leaseS: 60 }, T0 + 3600 * S)).toEqual([]);
  });

  it('an event past its retention is never leased or returned, and purge deletes it and expired dedupe keys', async () => {
    const name = await endpoint();
    const old = await q.enqueue(event(name, { retentionS: 60, dedupeS: 60, keys: ['id:old-1', 'sha256:old-1'] }), T0);
    const kept = await q.enqueue(event(name, { keys: ['id:kept-1', 'sha256:kept-1'] }), T0);
    expect(await q.get(old.id, T0 + 59 * S)).toMatchObject({ id: old.id, state: 'pending' });
    const end = T0 + 60 * S;
    expect(await q.get(old.id, end)).toBeUndefined();
    expect((await q.events(name, {}, end)).map((e) => e.id)).toEqual([kept.id]);
    const leased = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, end);
    expect(leased.map((e) => e.id)).toEqual([kept.id]);
    await expect(q.replay(old.id, end)).rejects.toMatchObject({ code: 'not_found' });

    const purged = await q.purge(end);
    expect(purged.events).toBeGreaterThanOrEqual(1);
    expect(purged.keys).toBeGreaterThanOrEqual(2);
    const ids = (await store.db.selectFrom('webhook_events').select('id').where('endpoint', '=', name).execute()).map(
      (r) => (r as { id: string }).id,
    );
    expect(ids).toEqual([kept.id]);
    const dedupe = (await store.db
      .selectFrom('webhook_dedupe')
      .select('key')
      .where('endpoint', '=', name)
      .orderBy('key')
      .execute()) as { key: string }[];
    expect(dedupe.map((r) => r.key)).toEqual(['id:kept-1', 'sha256:kept-1']);
  });

  it('a sealed body is stored as ciphertext and read back as the plaintext; a body moved to another row does not open', async () => {
    const name = await endpoint();
    const plain = Buffer.from(JSON.stringify({ canary: 'plaintext-canary-Zq81', action: 'opened' }));
    const a = await q.enqueue(event(name, { sealBody: true, body: plain }), T0);
    const b = await q.enqueue(event(name, { sealBody: true, body: Buffer.from('{"other":true}') }), T0);
    const row = (await store.db
      .selectFrom('webhook_events')
      .select(['body', 'body_nonce', 'body_bytes'])
      .where('id', '=', a.id)
      .executeTakeFirstOrThrow()) as { body: Uint8Array; body_nonce: Uint8Array | null; body_bytes: number | string };
    const stored = Buffer.from(row.body);
    expect(stored.equals(plain)).toBe(false);
    expect(stored.includes('plaintext-canary-Zq81')).toBe(false);
    expect(row.body_nonce).not.toBeNull();
    expect(Number(row.body_bytes)).toBe(plain.length);

    expect(await q.get(a.id, T0)).toMatchObject({ sealed: true, bodyBytes: plain.length });
    expect((await q.get(a.id, T0))!.body.equals(plain)).toBe(true);
    const leased: LeasedEvent[] = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0);
    expect(leased.map((e) => e.id)).toEqual([a.id, b.id]);
    expect(leased[0]!.body.equals(plain)).toBe(true);

    // The seal is bound to its event: b's sealed bytes under a's id open nothing.
    const rowB = (await store.db
      .selectFrom('webhook_events')
      .select(['body', 'body_nonce'])
      .where('id', '=', b.id)
      .executeTakeFirstOrThrow()) as { body: Uint8Array; body_nonce: Uint8Array };
    await store.db
      .updateTable('webhook_events')
      .set({ body: Buffer.from(rowB.body), body_nonce: Buffer.from(rowB.body_nonce) })
      .where('id', '=', a.id)
      .execute();
    // The row's signature covers the stored bytes: the moved body is caught before anything opens it.
    const moved = await q.get(a.id, T0);
    expect(moved).toMatchObject({ intact: false });
    expect(moved!.body.length).toBe(0);
  });

  it('an event row written or changed without the master key is never leased: it is dead, and replay refuses it', async () => {
    const name = await endpoint();
    const real = await q.enqueue(event(name, { type: 'push' }), T0);
    const changed = await q.enqueue(event(name, { type: 'push' }), T0);
    // Someone with the database but not the key: makes one event look like another type, and
    // inserts one that looks verified (a copy of a real row under a new id and sequence).
    await store.db
      .updateTable('webhook_events')
      .set({ event_type: 'deployment' })
      .where('id', '=', changed.id)
      .execute();
    const copy = (await store.db
      .selectFrom('webhook_events')
      .selectAll()
      .where('id', '=', real.id)
      .executeTakeFirstOrThrow()) as Record<string, unknown>;
    await store.db
      .insertInto('webhook_events')
      .values({ ...copy, id: 'whe_forgedforgedforged', seq: 999 })
      .execute();
    const leased = await q.lease({ endpoints: [name], limit: 10, leaseS: 60 }, T0);
    expect(leased.map((e) => e.id)).toEqual([real.id]);
    for (const id of [changed.id, 'whe_forgedforgedforged']) {
      expect(await q.get(id, T0)).toMatchObject({ state: 'dead', outcome: 'integrity_failed', intact: false });
      await expect(q.replay(id, T0)).rejects.toMatchObject({ code: 'integrity_failed' });
    }
  });

  it('a waiter taken before the poll looks is woken by an enqueue in this process', async () => {
    const name = await endpoint();
    const w = q.waiter([name]);
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 })).toEqual([]);
    let woken = false;
    const waiting = w.wait(20_000).then(() => {
      woken = true;
    });
    await q.enqueue(event(name));
    // The wake-up comes with the enqueue, not from a timer.
    await tick();
    expect(woken).toBe(true);
    await waiting;
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 })).toHaveLength(1);

    // An event queued between the look and the wait is not missed either.
    const w2 = q.waiter('*');
    expect(await q.lease({ endpoints: [name], limit: 10, leaseS: 60 })).toEqual([]);
    await q.enqueue(event(name));
    let woken2 = false;
    const waiting2 = w2.wait(20_000).then(() => {
      woken2 = true;
    });
    await tick();
    expect(woken2).toBe(true);
    await waiting2;
  });
});

/** Waits until some PostgreSQL session LISTENs on `channel` (a readiness check, not a timing). */
async function listening(store: Store, channel: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await sql<{ n: number | string }>`
      SELECT count(*) AS n FROM pg_stat_activity
      WHERE state = 'idle' AND query = ${`LISTEN "${channel}"`}`.execute(store.db);
    if (Number(r.rows[0]!.n) > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nobody LISTENs on ${channel}`);
}

const pgFixtures: StoreFixture[] = fixtures.filter((f) => f.name === 'postgres');

describe.each(pgFixtures.map((f) => [f.name, f] as const))('webhook queue wake-ups across handles on %s', (_k, fx) => {
  let a: Store;
  let b: Store;
  let qa: WebhookQueue;
  let qb: WebhookQueue;
  beforeAll(async () => {
    a = await fx.open();
    b = await fx.open();
    qa = new WebhookQueue(a, keys);
    qb = new WebhookQueue(b, keys);
  });
  afterAll(async () => {
    await qa.close();
    await qb.close();
    await a.close();
    await b.close();
  });

  it('a waiter on one queue is woken by an enqueue on a second store handle (LISTEN/NOTIFY), before the fallback look', async () => {
    const name = 'across-handles';
    await new EndpointRepository(a, keys).add(name, {
      provider: 'github',
      secrets: [{ ref: 'vault:hooks/gh.secret', addedAt: new Date().toISOString() }],
    });
    const w = qa.waiter([name]);
    await listening(a, a.notifyChannel!('webhooks'));
    expect(await qa.lease({ endpoints: [name], limit: 10, leaseS: 60 })).toEqual([]);
    let sentinel: NodeJS.Timeout | undefined;
    // The fallback look is 5 s away: only the notification can win this race.
    const before = new Promise<'sentinel'>((r) => {
      sentinel = setTimeout(() => r('sentinel'), 4000);
    });
    const waiting = w.wait(20_000).then(() => 'woken' as const);
    try {
      await qb.enqueue(event(name));
      expect(await Promise.race([waiting, before])).toBe('woken');
    } finally {
      clearTimeout(sentinel);
    }
    expect(await qa.lease({ endpoints: [name], limit: 10, leaseS: 60 })).toHaveLength(1);
  });
});
