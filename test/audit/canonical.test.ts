import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalDetailJson,
  canonicalInt,
  canonicalText,
  clipForDisplay,
  isCanonicalText,
  REPLACEMENT,
} from '../../src/audit/canonical.js';
import { actionPayload, payloadParts } from '../../src/audit/index.js';

/** The canonical form (src/audit/canonical.ts), on its own: what it changes and what it keeps. */
describe('the canonical form of audit text', () => {
  it('replaces lone surrogates and NUL with U+FFFD, and nothing else', () => {
    expect(canonicalText('echo \ud800 x')).toBe(`echo ${REPLACEMENT} x`);
    expect(canonicalText('\udfff\ud800')).toBe(REPLACEMENT + REPLACEMENT);
    expect(canonicalText('a\0b\0')).toBe(`a${REPLACEMENT}b${REPLACEMENT}`);
    // What Node sends on the wire for a lone surrogate is the same character.
    expect(Buffer.from('x\ud800', 'utf8').toString('utf8')).toBe(canonicalText('x\ud800'));
    for (const kept of [
      '\u{1F600}',
      'e\u0301',
      '\u00e9',
      '\x01\x1b[0m\x7f',
      '\u0085',
      '\ufffe\uffff',
      '\ufeff',
      '\u2028',
      '',
    ])
      expect(canonicalText(kept)).toBe(kept);
    // No Unicode normalisation: decomposed and composed forms stay different, as they ran.
    expect(canonicalText('e\u0301')).not.toBe(canonicalText('\u00e9'));
  });

  it('property: canonical text is well-formed, NUL-free, idempotent, and survives a UTF-8 round trip unchanged', () => {
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 64 }), (s) => {
        const c = canonicalText(s);
        expect(isCanonicalText(c)).toBe(true);
        expect(canonicalText(c)).toBe(c);
        expect(Buffer.from(c, 'utf8').toString('utf8')).toBe(c);
        expect(c.length).toBe(s.length); // one unit for one unit: nothing is dropped or merged
      }),
      { seed: 4242, numRuns: 500 },
    );
  });

  it('whole numbers: rounded, clamped to 32 bits, NaN as null', () => {
    expect([1.5, -1.5, NaN, Infinity, -Infinity, 2 ** 40, -0, undefined, null, 200].map(canonicalInt)).toEqual([
      2,
      -1,
      null,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31 - 1,
      0,
      null,
      null,
      200,
    ]);
    expect(Object.is(canonicalInt(-0.2), 0)).toBe(true);
  });

  it('a display clip never ends in half a surrogate pair', () => {
    const s = 'ab\u{1F600}cd';
    expect(clipForDisplay(s, 3, '…')).toBe('ab…');
    expect(clipForDisplay(s, 4, '…')).toBe('ab\u{1F600}…');
    expect(clipForDisplay(s, 10, '…')).toBe(s);
  });

  it('detail JSON: strings and keys canonical and scrubbed, cycles, bigints and toJSON never throw', () => {
    const scrub = (s: string) => s.replaceAll('hunter2', '[REDACTED]');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const shared = { x: 'hunter2' };
    const json = canonicalDetailJson(
      { s: 'pw=hunter2\0', n: 10n, d: new Date(0), cyclic, twice: [shared, shared], 'k\ud800': 'v' },
      scrub,
    );
    expect(isCanonicalText(json)).toBe(true);
    const back = JSON.parse(json) as Record<string, unknown>;
    expect(back.s).toBe(`pw=[REDACTED]${REPLACEMENT}`);
    expect(back.n).toBe('10');
    expect(back.d).toBe('1970-01-01T00:00:00.000Z');
    expect(back[`k${REPLACEMENT}`]).toBe('v');
    expect(JSON.stringify(back.cyclic)).toContain('[repeated or cyclic value]');
    expect(json).not.toContain('hunter2');
    // Without a cycle, a value referenced twice is written twice, as JSON.stringify does.
    expect(JSON.parse(canonicalDetailJson({ twice: [shared, shared] }, scrub))).toEqual({
      twice: [{ x: '[REDACTED]' }, { x: '[REDACTED]' }],
    });
    const throwing = {
      toJSON: () => {
        throw new Error('nope');
      },
    };
    expect(JSON.parse(canonicalDetailJson({ throwing }, scrub))).toEqual({ unserialisable: 'nope' });
  });

  it('payloadParts: the parts are the whole canonical text, each within the limit, never cut inside a character', () => {
    const unit = fc.oneof(
      fc.constantFrom('a', '\n', 'é', '€', '\u{1F600}', '\ud800', '\0'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 300 }), fc.integer({ min: 4, max: 64 }), (text, max) => {
        const parts = payloadParts('transcript', text, max);
        const names = Object.keys(parts);
        if (names.length === 1 && names[0] === 'transcript')
          expect(Buffer.byteLength(parts.transcript)).toBeLessThanOrEqual(max);
        else expect(names).toEqual(names.map((_, i) => `transcript.${i + 1}`));
        for (const p of Object.values(parts)) {
          expect(Buffer.byteLength(p)).toBeLessThanOrEqual(max);
          expect(isCanonicalText(p)).toBe(true);
        }
        expect(Object.values(parts).join('')).toBe(canonicalText(text));
      }),
      { seed: 777, numRuns: 1500 },
    );
    expect(payloadParts('t', 'short')).toEqual({ t: 'short' });
  });

  it('actionPayload names the full inputs, env and bound inputs as JSON with sorted keys', () => {
    expect(
      actionPayload({
        command: 'sh',
        stdin: 'rm -rf ~\n',
        env: { Z: '1', A: '2' },
        bound: { timeout: '30', cwd: '/srv' },
      }),
    ).toEqual({
      command: 'sh',
      stdin: 'rm -rf ~\n',
      env: '{"A":"2","Z":"1"}',
      bound: '{"cwd":"/srv","timeout":"30"}',
    });
    expect(actionPayload({ bound: {} })).toBeUndefined();
  });
});
