import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  base32Decode,
  hotp,
  totpStep,
  TOTP_BRAKE_BURST,
  TOTP_BRAKE_INTERVAL_MS,
  TOTP_LOCK_WINDOW_MS,
  TOTP_MAX_FAILURES,
} from '../../src/approvals/index.js';
import { setLogSink } from '../../src/core/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { DIGEST_A, plainSql, rejection, sampleRequest, twoHandles, type TwoHandles } from './helpers.js';

/**
 * Issue 21.7: concurrent attempts bypassed the TOTP lockout (40 of 40, then 83 of 300 wrong codes
 * were checked before the lock applied). Issue 21.11: any TOTP-mode agent could lock code
 * approvals for every approver for 15 minutes. An attempt is now reserved before its code is
 * compared, per (approver, token) and against a shared per-approver brake.
 */
const fixtures = await storeFixtures();
afterAll(async () => {
  for (const f of fixtures) await f.cleanup();
});

const seedOf = (uri: string) => base32Decode(new URL(uri).searchParams.get('secret')!);

describe.each(fixtures)('TOTP brute-force brakes on $name', (fx) => {
  let h: TwoHandles;
  let seed: Buffer;
  let logged: string[] = [];
  beforeEach(async () => {
    logged = [];
    setLogSink((line) => void logged.push(line));
    h = await twoHandles(fx);
    seed = seedOf((await h.a.addApprover('alice')).otpauthUri);
  });
  afterEach(async () => {
    setLogSink((line) => void process.stderr.write(line + '\n'));
    await h.close();
  });

  /** A code that is wrong for `s` at the test clock (none of the three accepted steps). */
  const wrong = (s: Buffer, n = 0) => {
    const step = totpStep(h.clock.now);
    const valid = new Set([hotp(s, step - 1), hotp(s, step), hotp(s, step + 1)]);
    for (let i = n; ; i++) {
      const c = String(i).padStart(6, '0');
      if (!valid.has(c)) return c;
    }
  };
  const right = () => hotp(seed, totpStep(h.clock.now));
  /** Codes actually compared: each comparison that found no match is audited as wrong_code. */
  const checked = () => h.events.filter((e) => e.kind === 'totp' && e.outcome === 'refused:wrong_code').length;

  it('concurrent wrong codes from two store handles (two processes) never check more than TOTP_MAX_FAILURES', async () => {
    const attempts = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? h.a : h.b).verifyTotp(wrong(seed, i), { tokenId: 'tok_agent1' }),
    );
    const results = await Promise.allSettled(attempts);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(checked()).toBe(TOTP_MAX_FAILURES);
    const codes = results.map((r) => (r as PromiseRejectedResult).reason.code);
    expect(codes.filter((c) => c === 'approval_invalid')).toHaveLength(TOTP_MAX_FAILURES);
    expect(codes.filter((c) => c === 'limit_exceeded')).toHaveLength(40 - TOTP_MAX_FAILURES);
    // locked for this token: even the right code is not checked now
    expect((await rejection(h.b.verifyTotp(right(), { tokenId: 'tok_agent1' }))).details).toEqual({ reason: 'locked' });
    expect(checked()).toBe(TOTP_MAX_FAILURES);
    expect((await h.a.listApprovers())[0].lockedTokens).toEqual(['tok_agent1']);
    // until the window is over
    h.clock.now += TOTP_LOCK_WINDOW_MS + 1;
    expect(await h.a.verifyTotp(right(), { tokenId: 'tok_agent1' })).toBe('alice');
  });

  it("one token's wrong codes do not lock another token's approvals", async () => {
    for (let i = 0; i < TOTP_MAX_FAILURES + 3; i++)
      await rejection(h.a.verifyTotp(wrong(seed, i), { tokenId: 'tok_guesser' }));
    expect((await rejection(h.a.verifyTotp(right(), { tokenId: 'tok_guesser' }))).code).toBe('limit_exceeded');
    expect(await h.b.verifyTotp(right(), { tokenId: 'tok_agent2' })).toBe('alice');

    // and through the flow the gate uses: the other token's approval by code goes through
    const { id } = await h.a.request(sampleRequest({ tokenId: 'tok_agent2', mode: 'totp' }));
    h.clock.now += 30_000;
    expect(await h.a.settleTotp(id, { tokenId: 'tok_agent2', digest: DIGEST_A }, right())).toEqual({
      approver: 'alice',
      channel: 'totp',
    });
  });

  it('many tokens guessing in parallel are bounded in total by the shared brake, which slows rather than locks', async () => {
    const tokens = Array.from({ length: TOTP_BRAKE_BURST + 10 }, (_, i) => `tok_g${i}`);
    const results = await Promise.allSettled(
      tokens.map((t, i) => (i % 2 ? h.a : h.b).verifyTotp(wrong(seed, i), { tokenId: t })),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(checked()).toBe(TOTP_BRAKE_BURST);
    const braked = await rejection(h.a.verifyTotp(right(), { tokenId: 'tok_person' }));
    expect(braked).toMatchObject({ code: 'limit_exceeded', details: { reason: 'braked' } });
    // the operator is told the brake is engaged
    expect(logged.some((l) => l.includes('"level":"warn"') && l.includes('braked') && l.includes('alice'))).toBe(true);
    expect((await h.b.listApprovers())[0].locked).toBe(true);
    // capacity comes back one attempt per interval, not after a 15-minute lock
    h.clock.now += TOTP_BRAKE_INTERVAL_MS;
    expect(await h.b.verifyTotp(right(), { tokenId: 'tok_person' })).toBe('alice');
    // a right code gives its attempt back: the next person is not braked either
    h.clock.now += 30_000;
    expect(await h.a.verifyTotp(right(), { tokenId: 'tok_person2' })).toBe('alice');
  });

  it('a locked-out token does not spend the shared brake', async () => {
    for (let i = 0; i < TOTP_MAX_FAILURES + 50; i++)
      await rejection(h.a.verifyTotp(wrong(seed, i), { tokenId: 'tok_guesser' }));
    expect(checked()).toBe(TOTP_MAX_FAILURES);
    expect((await h.a.listApprovers())[0].locked).toBe(false);
  });

  it('the shared brake is also kept in memory: a database writer who resets it does not make this process check more', async () => {
    const tokens = Array.from({ length: TOTP_BRAKE_BURST }, (_, i) => `tok_g${i}`);
    for (const [i, t] of tokens.entries()) await rejection(h.a.verifyTotp(wrong(seed, i), { tokenId: t }));
    const db = await plainSql(fx);
    try {
      await db.run(`UPDATE approvers SET brake_tat = NULL`);
      await db.run(`DELETE FROM approval_code_attempts`);
    } finally {
      await db.close();
    }
    expect((await rejection(h.a.verifyTotp(wrong(seed, 99), { tokenId: 'tok_new' }))).details).toEqual({
      reason: 'braked',
    });
    expect(checked()).toBe(TOTP_BRAKE_BURST);
  });

  it('settleTotp: a wrong code denies the approval on record, scoped to the asking token', async () => {
    const who = { tokenId: 'tok_agent1', digest: DIGEST_A };
    const { id } = await h.a.request(sampleRequest({ mode: 'totp' }));
    const e = await rejection(h.a.settleTotp(id, who, wrong(seed)));
    expect(e.details).toEqual({ reason: 'wrong_code' });
    expect((await h.b.get(id))!).toMatchObject({
      status: 'denied',
      channel: 'totp',
      note: 'code refused (wrong_code)',
    });
    expect(h.events.find((x) => x.kind === 'totp' && x.outcome === 'refused:wrong_code')).toMatchObject({
      tokenId: 'tok_agent1',
    });
    // another token's pending approval is not touched by this token's answer
    const { id: theirs } = await h.a.request(sampleRequest({ tokenId: 'tok_agent2', mode: 'totp' }));
    await rejection(h.a.settleTotp(theirs, who, wrong(seed, 1)));
    expect((await h.a.get(theirs))!.status).toBe('pending');
  });
});
