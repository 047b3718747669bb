/** The one text truncation and the one REDACTED marker (src/core/text.ts; issue 22 item 1). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cutText, REDACTED, TRUNCATION_MARKER, truncateText } from '../../src/core/text.js';
import { REDACTED as VAULT_REDACTED } from '../../src/vault/index.js';

describe('truncateText', () => {
  it('returns text that fits unchanged', () => {
    expect(truncateText('abc', 3)).toBe('abc');
    expect(truncateText('', 0)).toBe('');
  });
  it('is never longer than max, marker included', () => {
    expect(truncateText('abcdef', 4)).toBe(`abc${TRUNCATION_MARKER}`);
    expect(truncateText('abcdef', 1)).toBe(TRUNCATION_MARKER);
    expect(truncateText('abcdef', 0)).toBe('');
  });
  it('never splits a surrogate pair, at any length (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 0, max: 60 }), (s, max) => {
        for (const out of [truncateText(s, max), cutText(s, max)]) {
          expect(out.length).toBeLessThanOrEqual(Math.max(max, 0));
          expect(out.isWellFormed()).toBe(true);
        }
      }),
      { seed: 2201, numRuns: 1000 },
    );
    expect(cutText('a😀b', 2)).toBe('a');
    expect(truncateText('a😀b', 3)).toBe(`a${TRUNCATION_MARKER}`);
  });
  it('one REDACTED marker everywhere', () => {
    expect(VAULT_REDACTED).toBe(REDACTED);
  });
});
