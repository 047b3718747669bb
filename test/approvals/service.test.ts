import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  APPROVAL_BODY_PREVIEW,
  approvalOperation,
  base32Decode,
  describeForHuman,
  type JudgedOperation,
  hotp,
  totpStep,
  TOTP_MAX_FAILURES,
} from '../../src/approvals/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { DIGEST_A, DIGEST_B, rejection, sampleRequest, twoHandles, type TwoHandles } from './helpers.js';

const fixtures = await storeFixtures();
/** The token whose action a code approves (every code is checked for one token). */
const T = { tokenId: 'tok_agent1' };
afterAll(async () => {
  for (const f of fixtures) await f.cleanup();
});

describe.each(fixtures)('approvals on $name', (fx) => {
  let h: TwoHandles;
  beforeEach(async () => {
    h = await twoHandles(fx);
  });
  afterEach(async () => {
    await h.close();
  });

  describe('pending approvals', () => {
    it('request -> approve from another handle -> consume once -> second consume refused', async () => {
      const { id, expiresAt } = await h.a.request(sampleRequest());
      expect(id).toMatch(/^ap_[a-z2-7]{26}$/);
      expect(Date.parse(expiresAt) - h.clock.now).toBe(10 * 60 * 1000);
      expect((await h.b.list({ status: 'pending' })).map((x) => x.id)).toContain(id);

      const decided = await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli', note: 'ok for the cache' });
      expect(decided).toMatchObject({
        status: 'approved',
        decidedBy: 'alice',
        channel: 'cli',
        note: 'ok for the cache',
      });
      expect(decided.decidedAt).not.toBeNull();

      expect(await h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A })).toEqual({
        approver: 'alice',
        channel: 'cli',
      });
      const again = await rejection(h.b.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }));
      expect(again).toMatchObject({ code: 'approval_invalid', details: { reason: 'used' } });
      expect((await h.a.get(id))!.status).toBe('used');

      const kinds = h.events.filter((e) => e.approvalId === id).map((e) => `${e.kind}:${e.outcome}`);
      expect(kinds).toEqual(['request:pending', 'decide:approved', 'consume:consumed', 'consume:refused:used']);
      expect(h.events.find((e) => e.kind === 'decide')).toMatchObject({
        by: 'alice',
        channel: 'cli',
        note: 'ok for the cache',
        tokenId: 'tok_agent1',
      });
    });

    it('a still-pending approval answers approval_required (wait and retry)', async () => {
      const { id } = await h.a.request(sampleRequest());
      const e = await rejection(h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }));
      expect(e.code).toBe('approval_required');
      expect(e.details).toMatchObject({ reason: 'pending', approvalId: id });
      expect(e.hint).toContain(`gatehouse approve ${id}`);
      // and it stays usable once approved
      await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
      await h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A });
    });

    it('a denial is final: never approved afterwards, consume refused', async () => {
      const { id } = await h.a.request(sampleRequest());
      await h.b.decide(id, 'denied', { by: 'bob', channel: 'api', note: 'not on prod' });
      const re = await rejection(h.a.decide(id, 'approved', { by: 'mallory', channel: 'cli' }));
      expect(re.code).toBe('conflict');
      expect((await h.a.get(id))!).toMatchObject({ status: 'denied', decidedBy: 'bob' });
      const c = await rejection(h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }));
      expect(c).toMatchObject({ code: 'approval_invalid', details: { reason: 'denied' } });
      expect(c.message).toContain('not on prod');
      // an approval cannot be turned into a denial either
      const { id: id2 } = await h.a.request(sampleRequest());
      await h.a.decide(id2, 'approved', { by: 'alice', channel: 'cli' });
      expect((await rejection(h.b.decide(id2, 'denied', { by: 'bob', channel: 'cli' }))).code).toBe('conflict');
    });

    it('expiry means deny: an undecided approval cannot be decided, an approved one cannot be used late', async () => {
      const { id } = await h.a.request(sampleRequest());
      const { id: id2 } = await h.a.request(sampleRequest());
      await h.b.decide(id2, 'approved', { by: 'alice', channel: 'cli' });
      h.clock.now += 10 * 60 * 1000;
      expect((await h.a.get(id))!.status).toBe('expired');
      const d = await rejection(h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' }));
      expect(d).toMatchObject({ code: 'approval_invalid', details: { reason: 'expired' } });
      const c = await rejection(h.a.consume(id2, { tokenId: 'tok_agent1', digest: DIGEST_A }));
      expect(c).toMatchObject({ code: 'approval_invalid', details: { reason: 'expired' } });
      expect((await h.a.list({ status: 'expired' })).map((x) => x.id).sort()).toEqual([id, id2].sort());
      expect(await h.a.list({ status: 'pending' })).toEqual([]);
    });

    it('the ttl is configurable', async () => {
      const short = await twoHandles(fx, { ttlMs: 5_000 });
      try {
        const { id, expiresAt } = await short.a.request(sampleRequest());
        expect(Date.parse(expiresAt) - short.clock.now).toBe(5_000);
        short.clock.now += 5_000;
        expect((await short.b.get(id))!.status).toBe('expired');
      } finally {
        await short.close();
      }
    });

    it('another token gets exactly what a forged id gets; a changed action is refused and the approval stays good', async () => {
      const { id } = await h.a.request(sampleRequest());
      await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
      const other = await rejection(h.a.consume(id, { tokenId: 'tok_agent2', digest: DIGEST_A }));
      const forged = await rejection(h.a.consume('ap_' + 'a'.repeat(26), { tokenId: 'tok_agent2', digest: DIGEST_A }));
      expect(other.code).toBe('approval_invalid');
      expect(other.details).toEqual({ reason: 'not_found' });
      expect(forged.details).toEqual({ reason: 'not_found' });
      expect(other.message.replace(id, 'ID')).toBe(forged.message.replace('ap_' + 'a'.repeat(26), 'ID'));
      for (const s of [other.message, other.hint ?? '']) {
        expect(s).not.toContain('agent-1');
        expect(s).not.toContain('alice');
        expect(s).not.toContain('prod-db');
      }
      const malformed = await rejection(
        h.a.consume("ap_'; DROP TABLE approvals;--", { tokenId: 'tok_agent1', digest: DIGEST_A }),
      );
      expect(malformed.details).toEqual({ reason: 'not_found' });

      const changed = await rejection(h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_B }));
      expect(changed).toMatchObject({ code: 'approval_invalid', details: { reason: 'changed' } });
      expect(await h.a.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A })).toMatchObject({ approver: 'alice' });
    });

    it('racing consumers from two handles: exactly one wins', async () => {
      for (let round = 0; round < 5; round++) {
        const { id } = await h.a.request(sampleRequest());
        await h.a.decide(id, 'approved', { by: 'alice', channel: 'cli' });
        const who = { tokenId: 'tok_agent1', digest: DIGEST_A };
        const r = await Promise.allSettled([
          h.a.consume(id, who),
          h.b.consume(id, who),
          h.a.consume(id, who),
          h.b.consume(id, who),
        ]);
        expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      }
    });

    it('racing deciders: one wins, the other is told', async () => {
      const { id } = await h.a.request(sampleRequest());
      const r = await Promise.allSettled([
        h.a.decide(id, 'approved', { by: 'alice', channel: 'cli' }),
        h.b.decide(id, 'denied', { by: 'bob', channel: 'cli' }),
      ]);
      expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      const final = (await h.a.get(id))!;
      expect(['approved', 'denied']).toContain(final.status);
    });

    it('a token never decides its own approval (notTokenId)', async () => {
      const { id } = await h.a.request(sampleRequest());
      const e = await rejection(
        h.a.decide(id, 'approved', { by: 'api:agent-1', channel: 'api', notTokenId: 'tok_agent1' }),
      );
      expect(e.code).toBe('not_granted');
      expect((await h.a.get(id))!.status).toBe('pending');
      await h.a.decide(id, 'approved', { by: 'api:admin', channel: 'api', notTokenId: 'tok_admin' });
    });

    it('unknown and malformed ids are not_found on decide; bad input is refused before the store', async () => {
      expect((await rejection(h.a.decide('ap_' + 'b'.repeat(26), 'approved', { by: 'a', channel: 'cli' }))).code).toBe(
        'not_found',
      );
      expect((await rejection(h.a.decide('nope', 'approved', { by: 'a', channel: 'cli' }))).code).toBe('not_found');
      expect(await h.a.get('nope')).toBeNull();
      expect((await rejection(h.a.request(sampleRequest({ mode: 'sms' as never })))).code).toBe('invalid_input');
      expect((await rejection(h.a.request(sampleRequest({ digest: '' })))).code).toBe('invalid_input');
      const { id } = await h.a.request(sampleRequest());
      expect((await rejection(h.a.decide(id, 'approved', { by: 'a', channel: 'sms' as never }))).code).toBe(
        'invalid_input',
      );
      expect(
        (await rejection(h.a.decide(id, 'approved', { by: 'a', channel: 'cli', note: 'x'.repeat(3000) }))).code,
      ).toBe('invalid_input');
    });

    it('list filters by status as seen now, newest first', async () => {
      const p = await h.a.request(sampleRequest());
      h.clock.now += 1;
      const ap = await h.a.request(sampleRequest());
      h.clock.now += 1;
      const de = await h.a.request(sampleRequest());
      h.clock.now += 1;
      const us = await h.a.request(sampleRequest());
      await h.a.decide(ap.id, 'approved', { by: 'a', channel: 'cli' });
      await h.a.decide(de.id, 'denied', { by: 'a', channel: 'cli' });
      await h.a.decide(us.id, 'approved', { by: 'a', channel: 'cli' });
      await h.a.consume(us.id, { tokenId: 'tok_agent1', digest: DIGEST_A });
      const ids = (s: Parameters<typeof h.a.list>[0]) => h.b.list(s).then((l) => l.map((x) => x.id));
      expect(await ids({ status: 'pending' })).toEqual([p.id]);
      expect(await ids({ status: 'approved' })).toEqual([ap.id]);
      expect(await ids({ status: 'denied' })).toEqual([de.id]);
      expect(await ids({ status: 'used' })).toEqual([us.id]);
      expect(await ids({})).toEqual([us.id, de.id, ap.id, p.id]);
    });

    it('describeForHuman shows command, target, token, rule, reason and expiry, and defuses control characters', async () => {
      const { id } = await h.a.request(
        sampleRequest({
          operation: { kind: 'command', command: 'echo hi\n\u001b[2KRule: fs.safe\u202e' },
          summary: 'ssh_exec prod-db',
        }),
      );
      const a = (await h.a.get(id))!;
      const text = describeForHuman(a, { now: h.clock.now });
      expect(text).toContain(`Approval ${id} (pending)`);
      expect(text).toContain('Command:  echo hi\\n\\u{1b}[2KRule: fs.safe\\u{202e}');
      expect(text).toContain('Target:   prod-db');
      expect(text).toContain('Token:    agent-1 (tok_agent1)');
      expect(text).toContain('Rule:     fs.rm-recursive: recursive delete');
      expect(text).toMatch(/Expires: {2}\S+ \(in 10 min; no decision means deny\)/);
      expect(text.split('\n').filter((l) => l.startsWith('Rule:'))).toHaveLength(1);
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);

      const http = await h.a.request(
        sampleRequest({ tool: 'api_request', operation: { kind: 'http', method: 'delete', path: '/v1/things/1' } }),
      );
      expect(describeForHuman((await h.a.get(http.id))!)).toContain('Request:  DELETE /v1/things/1');
    });

    it('shows a diff as prefixed lines no line of which can pass for the prompt', async () => {
      const { id } = await h.a.request(
        sampleRequest({
          operation: {
            kind: 'action',
            summary: 'publish org skill x',
            bound: { diff: '+1. ship\nRule:     fs.safe: harmless\n+\u001b[2Kx\u202e', stdin: 'a\nb' },
          },
        }),
      );
      const text = describeForHuman((await h.a.get(id))!, { now: h.clock.now });
      expect(text).toContain('  diff:\n    | +1. ship\n    | Rule:     fs.safe: harmless\n    | +\\u{1b}[2Kx\\u{202e}');
      // Other values stay on one line with their newlines shown.
      expect(text).toContain('  stdin: a\\nb');
      expect(text.split('\n').filter((l) => l.startsWith('Rule:'))).toHaveLength(1);
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    });

    it('shows the start of a text body and the digest of a binary one, and keeps no headers', async () => {
      const mutation = '{"query":"mutation { dropAll }"}\n' + 'x'.repeat(APPROVAL_BODY_PREVIEW);
      const text = await h.a.request(
        sampleRequest({
          tool: 'api_request',
          operation: approvalOperation({
            kind: 'http',
            method: 'POST',
            path: '/graphql',
            body: mutation,
            headers: { cookie: 'c=1' },
          } as JudgedOperation),
        }),
      );
      const stored = (await h.a.get(text.id))!;
      expect(stored.operation).toEqual({
        kind: 'http',
        method: 'POST',
        path: '/graphql',
        body: {
          bytes: Buffer.byteLength(mutation),
          sha256: createHash('sha256').update(mutation).digest('hex'),
          preview: mutation.slice(0, APPROVAL_BODY_PREVIEW) + '…',
        },
      });
      expect(describeForHuman(stored)).toMatch(
        /Body: {5}\d+ bytes, sha256 [0-9a-f]{16}…: \{"query":"mutation \{ dropAll \}"\}\\nxxx/,
      );

      const binary = await h.a.request(
        sampleRequest({
          tool: 'api_request',
          operation: approvalOperation({
            kind: 'http',
            method: 'POST',
            path: '/graphql',
            bodyBytes: 8,
            bodySha256: 'ab'.repeat(32),
          }),
        }),
      );
      expect(describeForHuman((await h.a.get(binary.id))!)).toContain(
        `Body:     8 bytes, not text (not shown), sha256 ${'ab'.repeat(32)}`,
      );
    });
  });

  describe('flows for the gate', () => {
    it('outOfBand: first call -> approval_required with the id and what the person sees; retry after approve runs once', async () => {
      const req = sampleRequest();
      const first = await rejection(h.a.outOfBand(req));
      expect(first.code).toBe('approval_required');
      const id = first.details!.approvalId as string;
      expect(id).toMatch(/^ap_/);
      expect(first.details!.description).toContain('Command:  rm -rf /var/tmp/cache');
      expect(first.details!.instructions).toContain(`gatehouse approve ${id}`);
      expect(first.hint).toContain(`approval_id "${id}"`);
      expect((await rejection(h.a.outOfBand(req, id))).details).toMatchObject({ reason: 'pending' });
      await h.b.decide(id, 'approved', { by: 'alice', channel: 'cli' });
      expect((await rejection(h.a.outOfBand({ ...req, digest: DIGEST_B }, id))).details).toMatchObject({
        reason: 'changed',
      });
      expect(await h.a.outOfBand(req, id)).toEqual({ approver: 'alice', channel: 'cli' });
      expect((await rejection(h.a.outOfBand(req, id))).details).toMatchObject({ reason: 'used' });
    });

    it('settleInteractive: accept spends the approval at once; decline is a denial on record', async () => {
      const who = { tokenId: 'tok_agent1', digest: DIGEST_A };
      const { id } = await h.a.request(sampleRequest({ mode: 'elicitation' }));
      expect(await h.a.settleInteractive(id, who, 'approved', { by: 'client-user', channel: 'elicitation' })).toEqual({
        approver: 'client-user',
        channel: 'elicitation',
      });
      expect((await h.a.get(id))!).toMatchObject({ status: 'used', channel: 'elicitation' });
      const { id: id2 } = await h.a.request(sampleRequest({ mode: 'totp' }));
      const d = await rejection(
        h.a.settleInteractive(id2, who, 'denied', { by: 'totp', channel: 'totp', note: 'wrong code' }),
      );
      expect(d.code).toBe('denied');
      expect((await h.a.get(id2))!).toMatchObject({ status: 'denied', note: 'wrong code' });
      expect((await rejection(h.a.consume(id2, who))).details).toMatchObject({ reason: 'denied' });
    });
  });

  describe('sealed requestState in the store', () => {
    it('redeems once across handles; replay, tamper, expiry, other token and other digest are refused', async () => {
      const who = { tokenId: 'tok_agent1', digest: DIGEST_A };
      const s = h.a.sealRequestState(who);
      expect(h.b.openRequestState(s, who).expiresAt).toBe(h.clock.now + 10 * 60 * 1000);
      const p = await h.b.redeemRequestState(s, who);
      expect(p.tokenId).toBe('tok_agent1');
      expect((await rejection(h.a.redeemRequestState(s, who))).details).toEqual({ reason: 'replayed' });

      const s2 = h.a.sealRequestState({ ...who, approvalId: 'ap_x' });
      const flipped = s2.slice(0, 10) + (s2[10] === 'A' ? 'B' : 'A') + s2.slice(11);
      expect((await rejection(h.a.redeemRequestState(flipped, who))).details).toMatchObject({
        reason: expect.stringMatching(/^(mac|malformed)$/),
      });
      expect((await rejection(h.a.redeemRequestState(s2, { ...who, tokenId: 'tok_agent2' }))).details).toEqual({
        reason: 'bind',
      });
      expect((await rejection(h.a.redeemRequestState(s2, { ...who, digest: DIGEST_B }))).details).toEqual({
        reason: 'bind',
      });
      h.clock.now += 10 * 60 * 1000;
      expect((await rejection(h.a.redeemRequestState(s2, who))).details).toEqual({ reason: 'expired' });
      expect(h.events.filter((e) => e.kind === 'request_state').map((e) => e.outcome)).toEqual([
        'redeemed',
        'refused:replayed',
        expect.stringMatching(/^refused:(mac|malformed)$/),
        'refused:bind',
        'refused:bind',
        'refused:expired',
      ]);
    });

    it('consumeStateNonce is single use across handles, and racing inserts give one winner', async () => {
      const exp = h.clock.now + 60_000;
      const r = await Promise.all([
        h.a.consumeStateNonce('n-race', exp),
        h.b.consumeStateNonce('n-race', exp),
        h.a.consumeStateNonce('n-race', exp),
      ]);
      expect(r.filter(Boolean)).toHaveLength(1);
      expect(await h.b.consumeStateNonce('n-race', exp)).toBe(false);
      expect(await h.b.consumeStateNonce('', exp)).toBe(false);
    });

    it('used nonces are pruned only well after their expiry', async () => {
      await h.a.consumeStateNonce('n-old', h.clock.now + 1000);
      h.clock.now += 2000;
      await h.a.consumeStateNonce('n-trigger-1', h.clock.now + 1000);
      const count = async () =>
        (await h.storeA.db.selectFrom('approval_state_nonces').select('nonce').where('nonce', '=', 'n-old').execute())
          .length;
      expect(await count()).toBe(1);
      h.clock.now += 2 * 60 * 60 * 1000;
      await h.a.consumeStateNonce('n-trigger-2', h.clock.now + 1000);
      expect(await count()).toBe(0);
    });
  });

  describe('TOTP approvers', () => {
    const seedOf = (uri: string) => base32Decode(new URL(uri).searchParams.get('secret')!);

    it('enrols once, seals the seed, accepts the right code once, refuses wrong and reused codes', async () => {
      const { otpauthUri } = await h.a.addApprover('alice');
      expect((await rejection(h.b.addApprover('alice'))).code).toBe('conflict');
      const seed = seedOf(otpauthUri);
      expect(seed.length).toBe(20);

      // no plaintext seed anywhere in the row
      const rows = await h.storeA.db.selectFrom('approvers').selectAll().execute();
      const dump = JSON.stringify(rows);
      for (const form of [
        seed.toString('hex'),
        seed.toString('base64'),
        new URL(otpauthUri).searchParams.get('secret')!,
        seed.toString('latin1'),
      ])
        expect(dump).not.toContain(form);

      const code = hotp(seed, totpStep(h.clock.now));
      expect(await h.b.verifyTotp(code, T)).toBe('alice');
      expect((await rejection(h.a.verifyTotp(code, T))).details).toEqual({ reason: 'reused' });
      expect((await rejection(h.a.verifyTotp(code, { approver: 'alice', ...T }))).details).toEqual({
        reason: 'reused',
      });
      // A code no step in the accepted window has (so it is wrong whatever the random seed).
      const step = totpStep(h.clock.now);
      const window = new Set([-1, 0, 1].map((k) => hotp(seed, step + k)));
      let wrong = code;
      for (let n = Number(code) + 1; window.has(wrong); n++) wrong = String(n % 1_000_000).padStart(6, '0');
      const w = await rejection(h.a.verifyTotp(wrong, T));
      expect(w).toMatchObject({ code: 'approval_invalid', details: { reason: 'wrong_code' } });

      // an older step after a newer one is refused (codes only move forward)
      h.clock.now += 30_000;
      const next = hotp(seed, totpStep(h.clock.now));
      const previous = hotp(seed, totpStep(h.clock.now) - 1);
      expect(await h.a.verifyTotp(next, { approver: 'alice', ...T })).toBe('alice');
      // Refused as reused either way: a code equal to the current one was just spent too.
      expect((await rejection(h.a.verifyTotp(previous, T))).details).toEqual({ reason: 'reused' });

      const outcomes = h.events.filter((e) => e.kind === 'totp').map((e) => e.outcome);
      expect(outcomes).toContain('ok');
      expect(outcomes).toContain('refused:reused');
      expect(outcomes).toContain('refused:wrong_code');
    });

    it('picks the approver whose code it is, honours the approver filter, and locks after repeated wrong codes', async () => {
      const alice = seedOf((await h.a.addApprover('alice')).otpauthUri);
      const bob = seedOf((await h.a.addApprover('bob')).otpauthUri);
      expect(await h.a.verifyTotp(hotp(bob, totpStep(h.clock.now)), T)).toBe('bob');
      const aliceCode = hotp(alice, totpStep(h.clock.now));
      expect((await rejection(h.a.verifyTotp(aliceCode, { approver: 'bob', ...T }))).details).toMatchObject({
        reason: expect.stringMatching(/wrong_code|reused/),
      });
      expect((await rejection(h.a.verifyTotp(aliceCode, { approver: 'carol', ...T }))).details).toEqual({
        reason: 'wrong_code',
      });

      h.clock.now += 90_000;
      const bad = (s: Buffer) => {
        const step = totpStep(h.clock.now);
        const valid = new Set([hotp(s, step - 1), hotp(s, step), hotp(s, step + 1)]);
        for (let i = 0; ; i++) {
          const c = String(i).padStart(6, '0');
          if (!valid.has(c)) return c;
        }
      };
      for (let i = 0; i < TOTP_MAX_FAILURES; i++)
        await rejection(h.a.verifyTotp(bad(alice), { approver: 'alice', ...T }));
      const locked = await rejection(h.a.verifyTotp(hotp(alice, totpStep(h.clock.now)), { approver: 'alice', ...T }));
      expect(locked.code).toBe('limit_exceeded');
      // locked for the token that guessed, without engaging the shared brake
      expect((await h.a.listApprovers()).find((a) => a.name === 'alice')!).toMatchObject({
        locked: false,
        lockedTokens: ['tok_agent1'],
      });
      // bob is not locked by alice's failures when the approver is named
      expect(await h.a.verifyTotp(hotp(bob, totpStep(h.clock.now)), { approver: 'bob', ...T })).toBe('bob');
      h.clock.now += 15 * 60 * 1000 + 1;
      expect(await h.a.verifyTotp(hotp(alice, totpStep(h.clock.now)), { approver: 'alice', ...T })).toBe('alice');
    });

    it('no approver enrolled -> refused; rm removes; names are validated', async () => {
      expect((await rejection(h.a.verifyTotp('123456', T))).details).toEqual({ reason: 'no_approver' });
      expect((await rejection(h.a.addApprover('bad name'))).code).toBe('invalid_input');
      await h.a.addApprover('carol');
      expect((await h.b.listApprovers()).map((a) => a.name)).toEqual(['carol']);
      await h.b.removeApprover('carol');
      expect((await rejection(h.b.removeApprover('carol'))).code).toBe('not_found');
    });
  });
});
