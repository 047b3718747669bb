/** The guessability estimate behind the agent audience (src/vault/redact/strength.ts). */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isGuessable } from '../../src/vault/index.js';
import { estimateBits } from '../../src/vault/redact/strength.js';

const GUESSABLE = [
  '1234',
  '493817',
  '00000000',
  'admin',
  'hunter2',
  'password123',
  'Summer2024!',
  'Summer2024!!',
  'Welcome2024!!',
  'P@ssw0rd2024!',
  'Password1234!',
  'Company2024Q1!',
  'qwertyuiop123',
  'iloveyou12345',
  '1234567890123',
  'aaaaaaaaaaaaaaaa',
  'abcabcabcabcabc',
  'hunter2hunter2',
  'deadbeefcafebabe',
  'Tr0ub4dor&3',
  'letmein-letmein',
  'correct-horse-9',
];

const STRONG = [
  '3f9a0c1be27d48a5',
  '962464dc5fcfb7dd5cdc0c1071c6f207',
  'b04d6d08276e0fb5bbc2cc8b76afdeee0c4f1a2b',
  '550e8400-e29b-41d4-a716-446655440000',
  'q9Xz/+abK3mP0wLs',
  'DCxHR/LpBCw4sq+n==',
  'h7KpQ2mZx9LwR4tB',
  'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  'AKIA2OGYBAH6ZQBXAGTK',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'xoxb-2048-4096-q7RkT2vLmZ9pWx3N',
  'CANARY-7f3a9c-pässword"/+&=',
  'correcthorsebatterystaple',
];

describe('isGuessable', () => {
  for (const v of GUESSABLE)
    it(`guessable: ${v} (${estimateBits(v).toFixed(1)} bits)`, () => expect(isGuessable(v)).toBe(true));
  for (const v of STRONG)
    it(`strong: ${v} (${estimateBits(v).toFixed(1)} bits)`, () => expect(isGuessable(v)).toBe(false));

  it('random tokens of 16+ characters come out strong (fast-check, fixed seed)', () => {
    const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const b64 = alnum + '+/';
    const token = (alphabet: string, min: number, max: number) =>
      fc
        .array(fc.integer({ min: 0, max: alphabet.length - 1 }), { minLength: min, maxLength: max })
        .map((xs) => xs.map((x) => alphabet[x]).join(''));
    let weak = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.oneof(token(alnum, 16, 48), token(b64, 16, 64), token('0123456789abcdef', 32, 64)), (t) => {
        runs++;
        if (isGuessable(t)) weak++;
      }),
      { seed: 1306, numRuns: 2000 },
    );
    // A random token can, by chance, hold structure (a long repeat, a date); the estimate may
    // call a rare one guessable. Never more than a fraction of a percent.
    expect(weak / runs).toBeLessThan(0.005);
  });

  it('random 16-character hex tokens (64 bits): almost all strong', () => {
    let weak = 0;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 16, maxLength: 16 }), (xs) => {
        if (isGuessable(xs.map((x) => x.toString(16)).join(''))) weak++;
      }),
      { seed: 1616, numRuns: 2000 },
    );
    expect(weak / 2000).toBeLessThan(0.01);
  });

  it('UUIDs are strong', () => {
    for (let i = 0; i < 200; i++) expect(isGuessable(randomUUID())).toBe(false);
  });

  it('analyses a bounded prefix of very long values (bounded time)', () => {
    expect(isGuessable('a'.repeat(100_000))).toBe(true);
    expect(isGuessable('x9'.repeat(50_000))).toBe(true);
  });

  it('gives the same verdict from memory as computed, also after many other values pushed it out', () => {
    const strong = randomUUID() + randomUUID();
    expect([isGuessable('P@ssw0rd2024!'), isGuessable(strong)]).toEqual([true, false]);
    for (let i = 0; i < 3000; i++) isGuessable(`${i}-${randomUUID()}`);
    expect([isGuessable('P@ssw0rd2024!'), isGuessable(strong)]).toEqual([true, false]);
    expect([isGuessable('P@ssw0rd2024!'), isGuessable(strong)]).toEqual([true, false]);
  });
});
