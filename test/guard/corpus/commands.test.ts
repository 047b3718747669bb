// Integrity of the outside corpus itself (not of the guard): every line is well-formed, parses as
// bash, is unique, and the corpus keeps the shape the brief asked for. The guard is deliberately
// not imported here; measuring it on this corpus is measure.test.ts beside this file.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS_FAMILIES, loadGuardCommandCorpus } from './load.js';

const corpus = loadGuardCommandCorpus();

function bashParses(script: string, dir: string): boolean {
  const f = join(dir, 'check.sh');
  writeFileSync(f, script);
  return spawnSync('bash', ['-n', f], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

describe('guard outside corpus (test/guard/corpus/commands.jsonl)', () => {
  it('has at least 2,000 labelled lines with a reason and a source each', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(2000);
    for (const l of corpus) {
      expect(l.reason.length, l.cmd).toBeGreaterThanOrEqual(8);
      expect(l.source.length, l.cmd).toBeGreaterThan(0);
      expect(CORPUS_FAMILIES as readonly string[]).toContain(l.family);
    }
  });

  it('has no duplicate command lines after whitespace normalisation', () => {
    const seen = new Map<string, number>();
    const dups: string[] = [];
    for (const l of corpus) {
      const k = l.cmd.replace(/\s+/g, ' ').trim();
      if (seen.has(k)) dups.push(k);
      seen.set(k, 1);
    }
    expect(dups).toEqual([]);
  });

  it('every line parses as bash (bash -n)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-corpus-'));
    try {
      // One bash -n over all lines, each wrapped as a function body (parsed, never run); only if
      // that fails, check line by line to name the offenders.
      const all = corpus.map((l, i) => `__corpus_${i}() {\n${l.cmd}\n}\n`).join('');
      if (bashParses(all, dir)) return;
      const bad = corpus.filter((l) => !bashParses(`__c() {\n${l.cmd}\n}\n`, dir)).map((l) => l.cmd);
      expect(bad).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a realistic benign share (>= 40% allow) and every label represented', () => {
    const allow = corpus.filter((l) => l.label === 'allow').length;
    expect(allow / corpus.length).toBeGreaterThanOrEqual(0.4);
    expect(corpus.some((l) => l.label === 'deny')).toBe(true);
    expect(corpus.some((l) => l.label === 'approve')).toBe(true);
  });

  it('keeps hand-written lines under 15% of the total', () => {
    const written = corpus.filter((l) => l.source === 'written').length;
    expect(written / corpus.length).toBeLessThan(0.15);
  });

  it('covers every dangerous family the issue names with at least 40 lines', () => {
    for (const f of ['embedded-code', 'secret-disclosure', 'exfiltration', 'interpreter', 'indirection', 'destructive-cli', 'readonly-form']) {
      expect(corpus.filter((l) => l.family === f).length, f).toBeGreaterThanOrEqual(40);
    }
  });
});
