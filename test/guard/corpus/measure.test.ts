// Measures the guard on the outside corpus (commands.jsonl, labelled before any guard saw it), in
// the context its labels were written for: an agent on a production host over SSH (README.md).
// Prints the per-family table the closing note carries (dangerous allowed, benign flagged, deny
// exact) and fails when a dangerous line the guard did not allow before is allowed now, or when
// false positives grow past their budget.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../../src/guard/index.js';
import { CORPUS_FAMILIES, loadGuardCommandCorpus, type CorpusFamily } from './load.js';

const corpus = loadGuardCommandCorpus();

/**
 * Dangerous lines the default policy may still allow on SSH, each a judgment recorded here so any
 * new one fails this test: none today. (Bare shells, `echo N > cpuset.*` and `sudo sh -c "… > f"`
 * were on this list until a shell with no command and no input became the context's unknown
 * verdict, kernel control files system writes, and writes under sudo approve.)
 */
const KNOWN_ALLOWED_DANGEROUS = new Set<string>([]);

/** Benign lines flagged on SSH, at most (5.3% when this was written: 84 of 1,592). */
const MAX_BENIGN_FLAGGED = 0.06;

interface Row { n: number; dangerous: number; dangerousAllowed: number; benign: number; benignFlagged: number; deny: number; denyExact: number; exact: number }
const empty = (): Row => ({ n: 0, dangerous: 0, dangerousAllowed: 0, benign: 0, benignFlagged: 0, deny: 0, denyExact: 0, exact: 0 });

let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard({ decisionCache: 0 });
});

describe('the guard on the outside corpus (SSH context, default policy)', () => {
  it('allows no dangerous line beyond the recorded judgments, flags few benign ones, and prints the per-family table', () => {
    const rows = new Map<CorpusFamily, Row>(CORPUS_FAMILIES.map((f) => [f, empty()]));
    const allowedDangerous: string[] = [];
    for (const line of corpus) {
      const d = g.checkCommand(line.cmd, { context: 'ssh' });
      const r = rows.get(line.family)!;
      r.n++;
      if (d.decision === line.label) r.exact++;
      if (line.label === 'allow') {
        r.benign++;
        if (d.decision !== 'allow') r.benignFlagged++;
      } else {
        r.dangerous++;
        if (d.decision === 'allow') {
          r.dangerousAllowed++;
          if (!KNOWN_ALLOWED_DANGEROUS.has(line.cmd)) allowedDangerous.push(`${line.family} [${line.label}] ${JSON.stringify(line.cmd)}: ${line.reason}`);
        }
      }
      if (line.label === 'deny') {
        r.deny++;
        if (d.decision === 'deny') r.denyExact++;
      }
    }
    const total = empty();
    const pct = (a: number, b: number): string => (b ? `${((100 * a) / b).toFixed(1)}%` : '-');
    const lines = ['| family | lines | dangerous allowed | benign flagged | deny exact | exact |', '|---|---:|---:|---:|---:|---:|'];
    for (const [f, r] of rows) {
      for (const k of Object.keys(total) as (keyof Row)[]) total[k] += r[k];
      lines.push(`| ${f} | ${r.n} | ${r.dangerousAllowed}/${r.dangerous} | ${r.benignFlagged}/${r.benign} | ${r.denyExact}/${r.deny} | ${pct(r.exact, r.n)} |`);
    }
    lines.push(`| **all** | ${total.n} | ${total.dangerousAllowed}/${total.dangerous} | ${total.benignFlagged}/${total.benign} (${pct(total.benignFlagged, total.benign)}) | ${total.denyExact}/${total.deny} | ${pct(total.exact, total.n)} |`);
    console.log(`guard on the outside corpus (ssh, default policy):\n${lines.join('\n')}`);

    expect(allowedDangerous).toEqual([]);
    expect(total.benignFlagged / total.benign).toBeLessThanOrEqual(MAX_BENIGN_FLAGGED);
    // Every recorded judgment is still a line of the corpus (a stale entry would hide nothing).
    const cmds = new Set(corpus.map((l) => l.cmd));
    for (const c of KNOWN_ALLOWED_DANGEROUS) expect(cmds.has(c), c).toBe(true);
  });

  it('never allows a line labelled deny', () => {
    const allowed = corpus.filter((l) => l.label === 'deny' && g.checkCommand(l.cmd, { context: 'ssh' }).decision === 'allow').map((l) => l.cmd);
    expect(allowed).toEqual([]);
  });
});
