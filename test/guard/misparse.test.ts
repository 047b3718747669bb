import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import { PROP_SEED, PROP_TIMEOUT } from './prop-seed.js';

vi.setConfig({ testTimeout: PROP_TIMEOUT });

/**
 * Silent misparses: inputs tree-sitter-bash reads WITHOUT an error node, but differently from
 * bash. Each was a real bypass (allowed while bash runs `rm -rf /`) before the faithfulness check
 * (src/guard/faithful.ts). Bash itself is the oracle: with PATH holding only a fake `rm` that
 * records its call, the test shows bash really runs the hidden command, and the guard must not
 * allow it.
 */
let g: GuardEngine;
let dir = '';
let marker = '';
let fakeBin = '';
let work = '';
const BASH = '/bin/bash';
const hasBash = existsSync(BASH);
if (!hasBash) console.warn('misparse.test: /bin/bash is missing, the bash-oracle checks are skipped');

beforeAll(async () => {
  g = await loadGuard();
  dir = mkdtempSync(join(tmpdir(), 'guard-misparse-'));
  marker = join(dir, 'marker');
  fakeBin = join(dir, 'bin');
  work = join(dir, 'work');
  mkdirSync(fakeBin);
  mkdirSync(work);
  writeFileSync(join(fakeBin, 'rm'), `#!/bin/sh\necho "rm $*" >> '${marker}'\n`);
  chmodSync(join(fakeBin, 'rm'), 0o755);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `cmd` in bash with only the fake `rm` on PATH; true when bash ran `rm`. */
function bashRunsRm(cmd: string): boolean {
  rmSync(marker, { force: true });
  spawnSync(BASH, ['-c', cmd], { cwd: work, env: { PATH: fakeBin }, input: '', timeout: 3000 });
  return existsSync(marker) && readFileSync(marker, 'utf8').includes('rm -rf /');
}

/** Each hid `rm -rf /` from the parse tree; bash runs it. */
const BYPASSES = [
  'ls ` `\nrm -rf /', // CI fuzz seed 2089539735: `` ` ` `` and the newline vanish into a "word"
  'ls ``\nrm -rf /',
  'x ``\n rm -rf /',
  'ls x\\\n#; rm -rf /', // `\`-newline then `#`: bash reads `x#`, tree-sitter a comment
  'ls x\\\n\\\n#;rm -rf /',
  'xEOF\\ \\\n#;rm -rf /', // the escaped blank does not start a comment either
];

/** Misread without an error node; bash rejects them (syntax error), so the guard must not allow. */
const SYNTAX_ERRORS = [
  'ls <<<\nrm -rf /', // tree-sitter takes `rm` on the next line as the here-string
  'ls <<<\nls',
  '\\ # | then esac', // `\ ` is skipped as an extra; bash runs a command named " #"
  ']] x',
  '! if',
];

describe('guard: silent misparses fail closed', () => {
  it.each(BYPASSES)('denies %j', (cmd) => {
    const d = g.checkCommand(cmd);
    expect(d.decision, JSON.stringify(d)).toBe('deny');
    expect(d.rule).toBe('fs.rm-root');
  });

  describe.skipIf(!hasBash && process.env.CI !== 'true')('with bash as the oracle', () => {
    it.each(BYPASSES)('bash really runs the hidden rm in %j', (cmd) => {
      expect(bashRunsRm(cmd)).toBe(true);
    });

    it.each(SYNTAX_ERRORS)('bash rejects %j', (cmd) => {
      expect(spawnSync(BASH, ['-n', '-c', cmd]).status).not.toBe(0);
    });

    it('random token soup with a hidden rm that bash runs is never allowed', () => {
      const tok = fc.constantFrom(
        'ls',
        'echo',
        'x',
        'EOF',
        '$(',
        ')',
        '`',
        '``',
        '"',
        "'",
        "$'",
        "$'\\n'",
        '$"',
        '|',
        '&&',
        '&',
        ';',
        ';;',
        '\n',
        '\r',
        '\t',
        '\\\n',
        '\\ ',
        '{',
        '}',
        '(',
        '((',
        '))',
        '$((',
        '<<EOF',
        '<<<',
        '$x',
        '${',
        '\\',
        ' ',
        '#',
        '<(',
        '>',
        '<',
        '*',
        '=',
        '[[',
        ']]',
        'case',
        'in',
        'esac',
        'if',
        'then',
        'fi',
        '!',
      );
      const tail = fc.constantFrom(
        '\nrm -rf /',
        ';rm -rf /',
        '\\\n#;rm -rf /',
        ' \\\n#;rm -rf /',
        '`rm -rf /`',
        '&rm -rf /',
        '|rm -rf /',
        '\r\nrm -rf /',
      );
      fc.assert(
        fc.property(fc.array(tok, { maxLength: 24 }), fc.constantFrom(' ', ''), tail, (ts, sep, t) => {
          const cmd = ts.join(sep) + t;
          if (g.checkCommand(cmd).decision !== 'allow') return;
          expect(bashRunsRm(cmd), `allowed, but bash runs rm: ${JSON.stringify(cmd)}`).toBe(false);
        }),
        { seed: PROP_SEED, numRuns: 600 },
      );
    });
  });

  it.each(SYNTAX_ERRORS)('does not allow %j', (cmd) => {
    expect(g.checkCommand(cmd).decision).not.toBe('allow');
  });

  it('reports the misparse as parse.differential when nothing worse is found', () => {
    expect(g.checkCommand('ls ``\nls')).toMatchObject({ decision: 'approve', rule: 'parse.differential' });
    expect(g.checkCommand('ls <<<\nls')).toMatchObject({ decision: 'approve', rule: 'parse.differential' });
    expect(g.checkCommand('ls x\\\n# c')).toMatchObject({ decision: 'approve', rule: 'parse.differential' });
    expect(g.checkCommand('\\ # c')).toMatchObject({ decision: 'approve', rule: 'parse.differential' });
  });

  it.each([
    'ls \\\n  -la',
    'echo a\\ b',
    'ls # c\necho x',
    'ls \\\n# c',
    'ls x\\\\\n# c',
    'echo `date`',
    'echo "`date`"',
    'echo "a\nb"',
    "echo $'a\\nb'",
    'for f in *.txt; do\n  wc -l "$f"\ndone',
    'if true\nthen ls\nfi',
    'ls |\n grep x',
    'ls &&\n pwd',
    'echo {a,b}',
    'f() { ls; }; f',
    '[[ -n "$x" && $x =~ ^(a|b)$ ]] && echo ok',
    'case "$x" in a|b) ls;; *) pwd;; esac',
  ])('still allows the faithful %j', (cmd) => {
    expect(g.checkCommand(cmd)).toMatchObject({ decision: 'allow' });
  });
});
