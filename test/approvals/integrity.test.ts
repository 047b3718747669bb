import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeForHuman, MAX_BOUND_KEYS, MAX_BOUND_VALUE_BYTES } from '../../src/approvals/index.js';
import { setLogSink } from '../../src/core/index.js';
import { storeFixtures } from '../helpers/stores.js';
import {
  DIGEST_A,
  DIGEST_B,
  plainSql,
  rejection,
  sampleRequest,
  twoHandles,
  type PlainSql,
  type TwoHandles,
} from './helpers.js';

/**
 * Issue 21.8: with a shared database, an approval used to be a plain row, so a local process that
 * can write to the database approved its own action. Every approval row is now signed under the
 * store-integrity key (which a database writer does not hold) and checked before it is trusted.
 */
const fixtures = await storeFixtures();
afterAll(async () => {
  for (const f of fixtures) await f.cleanup();
});

const WHO = { tokenId: 'tok_agent1', digest: DIGEST_A };

// Integrity failures are logged loudly; the lines are kept here for the tests to read.
let logged: string[] = [];
beforeEach(() => {
  logged = [];
  setLogSink((line) => void logged.push(line));
});
afterEach(() => setLogSink((line) => void process.stderr.write(line + '\n')));

describe.each(fixtures)('approval rows a database writer cannot forge, on $name', (fx) => {
  let h: TwoHandles;
  let db: PlainSql;
  beforeEach(async () => {
    h = await twoHandles(fx);
    db = await plainSql(fx);
  });
  afterEach(async () => {
    await db.close();
    await h.close();
  });

  const tamperedEvents = (id: string) =>
    h.events.filter((e) => e.approvalId === id && e.outcome === 'refused:tampered');

  it('a pending row UPDATEd to approved by a plain SQL client is refused, audited, and listed as tampered, never approved', async () => {
    const { id } = await h.a.request(sampleRequest());
    const now = new Date(h.clock.now).toISOString();
    // What 21.8 did: approve one's own action with a SQL statement, recorded as `cli:root`.
    expect(
      await db.run(
        `UPDATE approvals SET status = 'approved', decided_at = ?, decided_by = 'root', channel = 'cli' WHERE id = ?`,
        [now, id],
      ),
    ).toBe(1);

    const e = await rejection(h.b.consume(id, WHO));
    expect(e).toMatchObject({ code: 'approval_invalid', details: { reason: 'tampered', approvalId: id } });
    expect(tamperedEvents(id)).toEqual([expect.objectContaining({ kind: 'consume', tokenId: 'tok_agent1' })]);
    // the gate's out-of-band retry path is the same consume
    expect((await rejection(h.a.outOfBand(sampleRequest(), id))).details).toMatchObject({ reason: 'tampered' });

    const seen = (await h.a.get(id))!;
    expect(seen.status).toBe('tampered');
    expect(seen.decidedBy).toBeNull();
    expect(describeForHuman(seen)).not.toMatch(/approved by root/);
    expect((await h.a.list({ status: 'approved' })).map((a) => a.status)).toEqual(['tampered']);
    expect((await h.a.list({ status: 'tampered' })).map((a) => a.id)).toEqual([id]);
    expect((await h.a.list({ status: 'all' })).find((a) => a.id === id)!.status).toBe('tampered');
    const errors = logged
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 'error' && l.approval === id);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].msg).toMatch(/integrity check/);
  });

  it('an approved row whose digest, token_id or expiry is changed in SQL is refused', async () => {
    for (const [column, value, who] of [
      ['digest', DIGEST_B, { ...WHO, digest: DIGEST_B }],
      ['token_id', 'tok_attacker', { ...WHO, tokenId: 'tok_attacker' }],
      ['expires_at', '2999-01-01T00:00:00.000Z', WHO],
      ['consumed_at', null, WHO],
    ] as const) {
      const { id } = await h.a.request(sampleRequest());
      await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
      if (column === 'consumed_at') await h.a.consume(id, WHO); // spent, then "unspent" in SQL
      expect(await db.run(`UPDATE approvals SET ${column} = ? WHERE id = ?`, [value, id])).toBe(1);
      const e = await rejection(h.a.consume(id, who));
      expect(e.code).toBe('approval_invalid');
      expect(e.details).toMatchObject({ reason: 'tampered' });
      expect(tamperedEvents(id)).toHaveLength(1);
    }
  });

  it('a signed row copied under a new id, or with its signature copied onto another row, is refused', async () => {
    const { id } = await h.a.request(sampleRequest());
    await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
    // Replaying a person's approval for another call: same row, new id.
    const copy = 'ap_' + 'c'.repeat(26);
    await db.run(
      `INSERT INTO approvals SELECT ?, token_id, token_name, tool, target, summary, operation, digest, rule, reason, matched, mode, status, created_at, expires_at, decided_at, decided_by, channel, note, consumed_at, mac FROM approvals WHERE id = ?`,
      [copy, id],
    );
    expect((await rejection(h.a.consume(copy, WHO))).details).toMatchObject({ reason: 'tampered' });
    // Another pending request of the same token made to carry the approved row's signature and state.
    const { id: other } = await h.a.request(sampleRequest({ summary: 'something else' }));
    await db.run(
      `UPDATE approvals SET status = 'approved', decided_by = 'alice', channel = 'cli', decided_at = (SELECT decided_at FROM approvals WHERE id = ?), mac = (SELECT mac FROM approvals WHERE id = ?) WHERE id = ?`,
      [id, id, other],
    );
    expect((await rejection(h.a.consume(other, WHO))).details).toMatchObject({ reason: 'tampered' });
    // the original is untouched and still good once
    expect(await h.a.consume(id, WHO)).toEqual({ approver: 'alice', channel: 'cli' });
  });

  it('a spent approval put back to its earlier signed state in SQL is refused by the process that spent it', async () => {
    const { id } = await h.a.request(sampleRequest());
    await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
    const [approved] = await db.rows<{ mac: string }>(`SELECT mac FROM approvals WHERE id = ?`, [id]);
    await h.a.consume(id, WHO);
    // Rollback: the row as it genuinely was before it was spent, signature included.
    expect(await db.run(`UPDATE approvals SET consumed_at = NULL, mac = ? WHERE id = ?`, [approved.mac, id])).toBe(1);
    expect((await rejection(h.a.consume(id, WHO))).details).toMatchObject({ reason: 'tampered' });
    expect(tamperedEvents(id)).toHaveLength(1);
  });

  it('a tampered row is never decided, so a person cannot launder it into a signed approval', async () => {
    const { id } = await h.a.request(sampleRequest());
    await db.run(`UPDATE approvals SET digest = ? WHERE id = ?`, [DIGEST_B, id]);
    const e = await rejection(h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' }));
    expect(e).toMatchObject({ code: 'approval_invalid', details: { reason: 'tampered' } });
    expect(tamperedEvents(id)).toEqual([expect.objectContaining({ kind: 'decide', by: 'alice' })]);
    expect((await db.rows<{ status: string }>(`SELECT status FROM approvals WHERE id = ?`, [id]))[0].status).toBe(
      'pending',
    );
    expect((await rejection(h.a.consume(id, { ...WHO, digest: DIGEST_B }))).details).toMatchObject({
      reason: 'tampered',
    });
  });

  it("another token's tampered approval is answered like a missing one (no oracle), but audited as tampered", async () => {
    const { id } = await h.a.request(sampleRequest());
    await db.run(`UPDATE approvals SET status = 'approved' WHERE id = ?`, [id]);
    const e = await rejection(h.a.consume(id, { tokenId: 'tok_agent2', digest: DIGEST_A }));
    expect(e.details).toEqual({ reason: 'not_found' });
    expect(tamperedEvents(id)).toEqual([expect.objectContaining({ tokenId: 'tok_agent2' })]);
  });

  it('signUnsigned signs rows from before signing once; a row inserted with mac NULL afterwards is refused', async () => {
    const { id: old } = await h.a.request(sampleRequest());
    await h.b.decide(old, 'approved', { by: 'alice', channel: 'cli' });
    // As a row written before migration 0006 looks.
    await db.run(`UPDATE approvals SET mac = NULL WHERE id = ?`, [old]);
    expect((await h.a.get(old))!.status).toBe('tampered');
    expect(await h.a.signUnsigned()).toBe(1);
    expect(await h.a.signUnsigned()).toBe(0);
    expect((await h.b.get(old))!.status).toBe('approved');

    // After that, an unsigned row is a forged one.
    const forged = 'ap_' + 'f'.repeat(26);
    const t = new Date(h.clock.now).toISOString();
    const late = new Date(h.clock.now + 60_000).toISOString();
    await db.run(
      `INSERT INTO approvals (id, token_id, token_name, tool, target, summary, operation, digest, rule, reason, matched, mode, status, created_at, expires_at, decided_at, decided_by, channel, note, consumed_at, mac)
       VALUES (?, 'tok_agent1', 'agent-1', 'ssh_exec', 'prod-db', 's', NULL, ?, 'r', 'r', 'm', 'out-of-band', 'approved', ?, ?, ?, 'root', 'cli', NULL, NULL, NULL)`,
      [forged, DIGEST_A, t, late, t],
    );
    expect((await rejection(h.a.consume(forged, WHO))).details).toMatchObject({ reason: 'tampered' });
    expect((await h.a.get(forged))!.status).toBe('tampered');
    expect(await h.a.consume(old, WHO)).toMatchObject({ approver: 'alice' });
  });

  it('every legitimate write re-signs: request, decide, consume rows verify from another handle at each step', async () => {
    const { id } = await h.a.request(sampleRequest());
    expect((await h.b.get(id))!.status).toBe('pending');
    await h.a.decide(id, 'approved', { by: 'alice', channel: 'cli', note: 'ok' });
    expect((await h.b.get(id))!.status).toBe('approved');
    await h.b.consume(id, WHO);
    expect((await h.a.get(id))!).toMatchObject({ status: 'used', decidedBy: 'alice', note: 'ok' });
    const { id: denied } = await h.a.request(sampleRequest());
    await h.b.decide(denied, 'denied', { by: 'bob', channel: 'api' });
    expect((await h.a.get(denied))!.status).toBe('denied');
    expect(h.events.some((e) => e.outcome === 'refused:tampered')).toBe(false);
  });

  it('deciders racing from two handles still get exactly one winner, and the winner is what is signed', async () => {
    for (let round = 0; round < 5; round++) {
      const { id } = await h.a.request(sampleRequest());
      const r = await Promise.allSettled([
        h.a.decide(id, 'approved', { by: 'alice', channel: 'cli' }),
        h.b.decide(id, 'denied', { by: 'bob', channel: 'cli' }),
        h.b.decide(id, 'approved', { by: 'carol', channel: 'cli' }),
      ]);
      const won = r.filter((x) => x.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const final = (await h.a.get(id))!;
      expect(final.status).toBe((won[0] as PromiseFulfilledResult<{ status: string }>).value.status);
      expect(r.filter((x) => x.status === 'rejected').map((x) => (x as PromiseRejectedResult).reason.code)).toEqual([
        'conflict',
        'conflict',
      ]);
    }
  });

  it("an interactive answer settles only the asking token's approval", async () => {
    const { id } = await h.a.request(sampleRequest());
    const e = await rejection(
      h.a.settleInteractive(id, { tokenId: 'tok_agent2', digest: DIGEST_A }, 'approved', {
        by: 'x',
        channel: 'elicitation',
      }),
    );
    expect(e.code).toBe('not_found');
    expect((await h.a.get(id))!.status).toBe('pending');
  });
});

describe.each(fixtures)('bound inputs of an approval, on $name', (fx) => {
  let h: TwoHandles;
  let db: PlainSql;
  beforeEach(async () => {
    h = await twoHandles(fx);
    db = await plainSql(fx);
  });
  afterEach(async () => {
    await db.close();
    await h.close();
  });

  it('are stored with the operation, shown to the person and covered by the signature', async () => {
    const bound = {
      cwd: '/srv/app',
      'env PATH': '/tmp/evil:/usr/bin',
      stdin: 'y\n',
      __proto__x: 'a',
      ['__proto__']: 'kept',
    };
    const op = { kind: 'command' as const, command: 'make deploy', bound: Object.fromEntries(Object.entries(bound)) };
    const { id } = await h.a.request(sampleRequest({ operation: op }));
    const a = (await h.b.get(id))!;
    expect(a.operation).toEqual({
      kind: 'command',
      command: 'make deploy',
      bound: Object.fromEntries(Object.entries(bound)),
    });
    expect(Object.keys(a.operation!.bound!)).toContain('__proto__');
    expect(describeForHuman(a)).toContain('env PATH: /tmp/evil:/usr/bin');

    // Changing what the person was shown (a bound input) in SQL makes the record tampered.
    await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
    const stored = (await db.rows<{ operation: string }>(`SELECT operation FROM approvals WHERE id = ?`, [id]))[0]
      .operation;
    await db.run(`UPDATE approvals SET operation = ? WHERE id = ?`, [stored.replace('/tmp/evil:', ''), id]);
    expect((await rejection(h.a.consume(id, WHO))).details).toMatchObject({ reason: 'tampered' });
  });

  it('are bounded: more than MAX_BOUND_KEYS names or a value over MAX_BOUND_VALUE_BYTES is input_too_large, never cut', async () => {
    const many = Object.fromEntries(Array.from({ length: MAX_BOUND_KEYS + 1 }, (_, i) => [`env V${i}`, 'x']));
    expect(
      (await rejection(h.a.request(sampleRequest({ operation: { kind: 'command', command: 'true', bound: many } }))))
        .code,
    ).toBe('input_too_large');
    const justRight = Object.fromEntries(Object.entries(many).slice(0, MAX_BOUND_KEYS));
    await h.a.request(sampleRequest({ operation: { kind: 'command', command: 'true', bound: justRight } }));

    // bytes, not characters: 'é' is two bytes
    const big = 'é'.repeat(MAX_BOUND_VALUE_BYTES / 2) + 'x';
    expect(
      (
        await rejection(
          h.a.request(
            sampleRequest({ operation: { kind: 'http', method: 'POST', path: '/x', bound: { 'header x-a': big } } }),
          ),
        )
      ).code,
    ).toBe('input_too_large');
    const fits = 'é'.repeat(MAX_BOUND_VALUE_BYTES / 2);
    const { id } = await h.a.request(
      sampleRequest({ operation: { kind: 'path', op: 'write', path: '/etc/x', bound: { content: fits } } }),
    );
    expect((await h.a.get(id))!.operation!.bound!.content).toBe(fits);
    expect(
      (
        await rejection(
          h.a.request(
            sampleRequest({ operation: { kind: 'command', command: 'true', bound: { n: 1 as unknown as string } } }),
          ),
        )
      ).code,
    ).toBe('invalid_input');
    expect(await h.a.list({ status: 'all' })).toHaveLength(2);
  });
});
