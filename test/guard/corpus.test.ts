import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

/**
 * Labelled corpus (test/guard/corpus.jsonl): expect = allow | approve | deny | notallow, judged in
 * the sandbox (`exec`), where the default policy lets a command nothing vouches for run.
 *
 * Issue 14 made allow a judgment: on SSH targets the unknown is approve. Rows whose answer there
 * differs carry `ssh` (all of them `approve`: builds, tests, installs, editors, git history, remote
 * shells, scripts — they run code or change state, so a person sees them on a production host).
 * One row's expectation changed everywhere (`changed` says why): `xargs -a files.txt grep foo`
 * is approve, since the words xargs appends are only known at run time (item 4).
 * Fails if any non-benign command is allowed in either context, if a row's answer differs from
 * its label, or if more than 3% of the benign rows are flagged in the sandbox.
 */
interface Row {
  expect: 'allow' | 'approve' | 'deny' | 'notallow';
  class: string;
  cmd: string;
  ssh?: 'allow' | 'approve' | 'deny';
  changed?: string;
}
const rows: Row[] = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Row);

let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
});

function matches(expect: Row['expect'], got: string): boolean {
  return expect === 'notallow' ? got !== 'allow' : got === expect;
}

describe('guard corpus', () => {
  it('has several hundred labelled lines', () => {
    expect(rows.length).toBeGreaterThan(500);
  });

  it('in the sandbox: never allows a dangerous command, flags < 3% of benign ones, and prints per-class accuracy', () => {
    const stats = new Map<string, { n: number; exact: number; allowed: number; flagged: number }>();
    const allowedBad: string[] = [];
    const flaggedBenign: string[] = [];
    for (const r of rows) {
      const d = g.checkCommand(r.cmd, { context: 'sandbox' });
      const key = `${r.class}/${r.expect}`;
      const s = stats.get(key) ?? { n: 0, exact: 0, allowed: 0, flagged: 0 };
      s.n++;
      if (matches(r.expect, d.decision)) s.exact++;
      if (d.decision === 'allow') s.allowed++;
      else s.flagged++;
      stats.set(key, s);
      if (r.expect !== 'allow' && d.decision === 'allow') allowedBad.push(`${JSON.stringify(r.cmd)} (${r.class})`);
      if (r.expect === 'allow' && d.decision !== 'allow')
        flaggedBenign.push(`${JSON.stringify(r.cmd)} -> ${d.decision} ${d.rule}`);
    }
    const table = [...stats].map(
      ([k, s]) =>
        `| ${k.padEnd(24)} | ${String(s.n).padStart(4)} | ${((100 * s.exact) / s.n).toFixed(1).padStart(6)}% exact | ${String(s.allowed).padStart(4)} allowed |`,
    );
    console.log(['| class/expected           |    n |   accuracy    |   allowed |', ...table].join('\n'));
    if (flaggedBenign.length) console.log('benign flagged:\n  ' + flaggedBenign.join('\n  '));
    expect(allowedBad).toEqual([]);
    const benign = rows.filter((r) => r.expect === 'allow').length;
    expect(flaggedBenign.length / benign).toBeLessThan(0.03);
  });

  it('on an SSH target: never allows a dangerous command, and answers every row as labelled', () => {
    const wrong: string[] = [];
    for (const r of rows) {
      const d = g.checkCommand(r.cmd, { context: 'ssh' });
      if (r.expect !== 'allow' && d.decision === 'allow') wrong.push(`allowed: ${JSON.stringify(r.cmd)} (${r.class})`);
      const want = r.ssh ?? (r.expect === 'allow' ? 'allow' : undefined);
      if (want !== undefined && d.decision !== want)
        wrong.push(`${JSON.stringify(r.cmd)}: ${d.decision} ${d.rule}, labelled ${want}`);
    }
    expect(wrong).toEqual([]);
  });

  it('reports the rule, a reason and the exact matched text', () => {
    const d = g.checkCommand('ls && sudo r""m -rf /');
    expect(d).toMatchObject({ decision: 'deny', rule: 'fs.rm-root' });
    expect(d.reason).toMatch(/deletes/);
    expect(d.matched).toBe('sudo r""m -rf /');
  });
});
