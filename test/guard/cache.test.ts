import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FindingCache } from '../../src/guard/engine.js';
import { loadGuard, type GuardContext, type GuardEngine } from '../../src/guard/index.js';
import { treeCopyMode } from '../../src/guard/parser.js';
import { finding } from '../../src/guard/types.js';

/**
 * The exact-match decision cache (src/guard/engine.ts): keyed by policy object and exact command
 * string, bounded LRU. A cached answer must be exactly the uncached one, never shared across
 * policies, and never mutable by a caller.
 */
const corpus = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { cmd: string }).cmd);

let cached: GuardEngine;
let uncached: GuardEngine;
let withTeam: GuardEngine;
beforeAll(async () => {
  cached = await loadGuard();
  uncached = await loadGuard({ decisionCache: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'gh-cache-'));
  const f = join(dir, 'team.yaml');
  writeFileSync(
    f,
    `version: 1
name: team
applies_to: { tokens: ['team-*'] }
commands:
  rules:
    - { id: no-make-deploy, commands: [make], args: ['^deploy'], decision: deny, message: deploys go through CI }
`,
  );
  withTeam = await loadGuard({ policyFiles: [f] });
});

describe('guard decision cache', () => {
  it('answers every corpus command exactly as the uncached engine, on the first call and on a hit', () => {
    const ctxs: (GuardContext | undefined)[] = [
      undefined,
      { policy: 'strict' },
      { token: 'ci-1' },
      { target: 'prod-db', token: 'x' },
    ];
    for (const ctx of ctxs) {
      for (const c of corpus) {
        const want = uncached.checkCommand(c, ctx);
        expect(cached.checkCommand(c, ctx), c).toEqual(want);
        expect(cached.checkCommand(c, ctx), c).toEqual(want);
      }
    }
  });

  it('switched to the verified fast tree copier after the first decisions', () => {
    // The deferred check runs after 64 decisions: made here, so the test stands on its own.
    for (const c of corpus.slice(0, 65)) uncached.checkCommand(c);
    expect(treeCopyMode()).toBe('fast');
  });

  it("never reuses one policy's answer for another", () => {
    // In the sandbox, default allows `make deploy`; strict needs approval; the team policy denies it.
    const sb = { context: 'sandbox' } as const;
    const seq: [GuardContext | undefined, string][] = [
      [sb, 'allow'],
      [{ ...sb, policy: 'strict' }, 'approve'],
      [{ ...sb, token: 'team-a' }, 'deny'],
      [sb, 'allow'],
      [{ ...sb, token: 'team-a' }, 'deny'],
      [{ ...sb, policy: 'strict' }, 'approve'],
      [undefined, 'approve'],
    ];
    for (const [ctx, want] of seq)
      expect(withTeam.checkCommand('make deploy', ctx).decision, JSON.stringify(ctx)).toBe(want);
    for (const [ctx, want] of [...seq].reverse())
      expect(withTeam.checkCommand('make deploy', ctx).decision, JSON.stringify(ctx)).toBe(want);
  });

  it('keys on the exact command text', () => {
    expect(cached.checkCommand('rm -rf /').decision).toBe('deny');
    expect(cached.checkCommand('rm -rf / ').decision).toBe('deny');
    expect(cached.checkCommand('echo "rm -rf /"').decision).toBe('allow');
    expect(cached.checkCommand('echo "rm -rf /"; rm -rf /').decision).toBe('deny');
    expect(cached.checkCommand('rm -rf /tmp/x').decision).not.toBe('deny');
  });

  it('hands out copies: a caller changing a decision does not change the next answer', () => {
    const d = cached.checkCommand('git status');
    const want = { ...d };
    d.decision = 'deny';
    d.reason = 'tampered';
    expect(cached.checkCommand('git status')).toEqual(want);
  });

  it('is a bounded LRU', () => {
    const c = new FindingCache(3);
    const f = (n: string) => finding('allow', n, n, n);
    c.set('a', f('a'));
    c.set('b', f('b'));
    c.set('c', f('c'));
    expect(c.get('a')?.rule).toBe('a'); // a is now the most recent
    c.set('d', f('d')); // evicts b, the least recently used
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')?.rule).toBe('a');
    expect(c.get('c')?.rule).toBe('c');
    expect(c.get('d')?.rule).toBe('d');
    for (let i = 0; i < 100; i++) c.set(`k${i}`, f(String(i)));
    expect(c.size).toBe(3);
  });

  it('still answers long and oversized commands (not cached) exactly', () => {
    const long = 'echo ' + 'a '.repeat(3000) + '; rm -rf /';
    expect(cached.checkCommand(long)).toEqual(uncached.checkCommand(long));
    expect(cached.checkCommand(long).decision).toBe('deny');
  });
});

describe('guard decision cache and the command input', () => {
  it('keys on stdin, env and session: the same command with other input gets its own answer, in any order', () => {
    const e = cached;
    // `sh` with no input reads commands nobody showed the guard: approve; with `ls` fed in: allow.
    const seq: [Parameters<GuardEngine['checkCommand']>[2], string][] = [
      [undefined, 'approve'],
      [{ stdin: 'rm -rf ~' }, 'deny'],
      [{ stdin: 'ls' }, 'allow'],
      [{ env: { BASH_ENV: '/tmp/x' } }, 'deny'],
      [{ session: true }, 'approve'],
      [undefined, 'approve'],
      [{ stdin: 'ls' }, 'allow'],
      [{ stdin: 'rm -rf ~' }, 'deny'],
      [{ session: true }, 'approve'],
      [{ env: {} }, 'approve'],
    ];
    for (const [input, want] of [...seq, ...[...seq].reverse()])
      expect(e.checkCommand('sh', undefined, input).decision, JSON.stringify(input)).toBe(want);
  });

  it('session lines are cached apart from plain commands and match the uncached answer', () => {
    for (const line of ["alias ls='rm -rf ~'", 'ls', 'set -o vi', 'cd /srv', '!!']) {
      const want = uncached.checkCommand(line, undefined, { session: true });
      expect(cached.checkCommand(line, undefined, { session: true }), line).toEqual(want);
      expect(cached.checkCommand(line, undefined, { session: true }), line).toEqual(want);
      expect(cached.checkCommand(line), line).toEqual(uncached.checkCommand(line));
    }
  });
});
