import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffLines, unifiedDiff } from '../../src/knowledge/line-diff.js';

/** The length of a longest common subsequence, by dynamic programming (the reference). */
function lcs(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
  return t[a.length]![b.length]!;
}

describe('line diff', () => {
  it('gives a shortest edit script that turns one text into the other', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 30 });
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const s = diffLines(a, b)!;
        expect(s.filter((l) => l.op !== '+').map((l) => l.text)).toEqual(a);
        expect(s.filter((l) => l.op !== '-').map((l) => l.text)).toEqual(b);
        expect(s.filter((l) => l.op !== ' ').length).toBe(a.length + b.length - 2 * lcs(a, b));
      }),
      // A fixed seed: CI is reproducible, and fast-check prints the seed and path of a failure.
      { numRuns: 400, seed: 0x5eed15 },
    );
  });

  it('shows hunks with their line numbers and context', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].join('\n');
    const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9', '10', '11'].join('\n');
    expect(unifiedDiff(a, b, 1)).toBe(
      ['@@ -4,3 +4,3 @@', ' 4', '-5', '+five', ' 6', '@@ -10,1 +10,2 @@', ' 10', '+11'].join('\n'),
    );
    expect(unifiedDiff(a, a)).toBe('');
  });

  it('declines rather than computing a huge script', () => {
    const a = Array.from({ length: 300 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 300 }, (_, i) => `b${i}`);
    expect(diffLines(a, b, 100)).toBeUndefined();
    expect(diffLines(a, b, 600)).toHaveLength(600);
  });
});
