import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WRAPPER_PROGS } from '../../src/guard/wrappers.js';

/**
 * unwrap() returns early for programs outside WRAPPER_PROGS (a speed shortcut). That list must be
 * exactly the switch's case labels: a wrapper added to the switch but not the list would never be
 * unwrapped (its inner command unchecked), so the two are compared from the source text.
 */
describe('wrapper table', () => {
  it('WRAPPER_PROGS lists exactly the case labels of unwrap()', () => {
    const src = readFileSync(new URL('../../src/guard/wrappers.ts', import.meta.url), 'utf8');
    const start = src.indexOf('export function unwrap(');
    const end = src.indexOf('\nexport function', start + 1);
    expect(start).toBeGreaterThan(0);
    const body = src.slice(start, end < 0 ? undefined : end);
    const labels = new Set([...body.matchAll(/case '([^']+)':/g)].map((m) => m[1]));
    expect(labels.size).toBeGreaterThan(40);
    expect([...WRAPPER_PROGS].sort()).toEqual([...labels].sort());
  });
});

describe('data-flow role table', () => {
  it('ROLE_PROGS covers every program name roleOf() tests', async () => {
    const { ROLE_PROGS } = await import('../../src/guard/analyze.js');
    const { SHELLS } = await import('../../src/guard/wrappers.js');
    const { INTERPRETERS } = await import('../../src/guard/rules-sys.js');
    const src = readFileSync(new URL('../../src/guard/analyze.ts', import.meta.url), 'utf8');
    const start = src.indexOf('\nfunction roleOf(');
    const end = src.indexOf('\n}\n', start);
    expect(start).toBeGreaterThan(0);
    const body = src.slice(start, end);
    const names = new Set<string>();
    for (const m of body.matchAll(/\/\^\(([^)]*)\)\$\/\.test\(prog\)/g)) for (const n of m[1].split('|')) names.add(n);
    for (const m of body.matchAll(/prog === '([^']+)'/g)) names.add(m[1]);
    expect(names.size).toBeGreaterThan(40);
    const missing = [...names].filter((n) => !ROLE_PROGS.has(n) && !SHELLS.has(n) && !INTERPRETERS.test(n));
    expect(missing).toEqual([]);
  });
});
