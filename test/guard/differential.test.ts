import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { staticCommand, staticCommands, type StaticCommand } from '../../src/guard/static-commands.js';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import { loadBashParser, type Parser } from '../../src/guard/parser.js';
import { PROP_TIMEOUT } from './prop-seed.js';

// Each property spawns bash hundreds of times: a loaded CI machine needs more than the default.
vi.setConfig({ testTimeout: PROP_TIMEOUT });

/**
 * Differential test of the guard's static word evaluation against real bash.
 *
 * For every generated command line that the guard reads as ONE simple command whose words it
 * resolved statically (`staticCommand`), bash is asked what argv it would run, and the two are
 * compared byte for byte. Bash is made to expand words without running anything:
 *
 * - arg mode: the line is run as `printargs LINE`, where `printargs` is a shell function printing
 *   its arguments NUL-separated, so every word of LINE (assignments included) is only an argument;
 * - command mode (when the guard's program name has no `/` and is not `printf`): LINE runs as is,
 *   and bash's `command_not_found_handle` prints the argv it would have executed plus the values
 *   of the guard's assignments (temporary assignments reach the handler). This checks what bash
 *   takes as assignment, program name and reserved word.
 *
 * Containment: `bash -r` (restricted: no output redirection, no `/` in command names, no `cd`,
 * `exec` or PATH changes), every builtin except `printf` disabled with `enable -n`, PATH a
 * directory that does not exist, an empty environment except HOME and the locale, a temporary
 * working directory, no stdin and a timeout. Nothing the line names can be found or run.
 *
 * HOME is the literal `~`: the guard keeps `~` (and `$HOME`) as the text `~` meaning "the home
 * directory", so with HOME=~ bash's tilde expansion of `~` and `~/x` gives the same bytes.
 * The working directory holds a few short file names so that a glob the guard missed would match
 * something in bash and show up as a difference.
 *
 * Where the guard does not resolve a command statically, it must not be `allow` when the reason
 * is structural (a parse finding, or a program name only known at run time).
 *
 * Runs: GUARD_DIFF_RUNS (default 2000 per property), GUARD_DIFF_SEED (default fixed).
 * Bash missing: skipped loudly, or failed with CI=true.
 */
const BASH = '/bin/bash';
const hasBash = existsSync(BASH);
const CI = process.env.CI === 'true';
if (!hasBash)
  console.warn(
    `differential.test: ${BASH} is missing, the differential test against bash is ${CI ? 'FAILING (CI=true)' : 'SKIPPED'}`,
  );
const RUNS = Number(process.env.GUARD_DIFF_RUNS ?? 2000);
const SEED = Number(process.env.GUARD_PROP_SEED ?? process.env.GUARD_DIFF_SEED ?? 20_260_717);

let parser: Parser;
let g: GuardEngine;
let work = '';
let disable = '';
const stats = {
  generated: 0,
  resolved: 0,
  bashRuns: 0,
  unresolvedStructural: 0,
  compoundResolved: 0,
  compoundCommands: 0,
};

beforeAll(async () => {
  parser = await loadBashParser();
  g = await loadGuard({ decisionCache: 0 });
  work = mkdtempSync(join(tmpdir(), 'guard-diff-'));
  outWork = mkdtempSync(join(tmpdir(), 'guard-diff-out-'));
  // Names a missed glob or brace would match (`*`, `?`, `[ab]`, `a*`, `-*`).
  for (const f of FIXTURES) writeFileSync(join(work, f), '');
  resetOutWork();
  if (hasBash) {
    const r = spawnSync(BASH, ['--norc', '--noprofile', '-c', 'compgen -b'], { encoding: 'utf8' });
    disable = r.stdout
      .split('\n')
      .filter((b) => b && b !== 'printf' && b !== 'enable')
      .concat('enable')
      .join(' ');
  }
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (outWork) rmSync(outWork, { recursive: true, force: true });
  console.log(`differential.test: ${JSON.stringify(stats)}`);
});

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\[[A-Za-z0-9_]*\])?$/;
/** Program names command mode cannot observe: the handler's own tools, `%job` (bash runs `fg`), `~…` (may expand to a path). */
const NOT_OBSERVABLE = /^(printf|command_not_found_handle|printargs)$|^[%~]/;

interface BashResult {
  argv: Buffer[];
  status: number | null;
  stderr: string;
}

/** Runs a script in the contained bash (see the file comment); stdout and stderr as bytes. */
function spawnBash(script: string, locale: string): { stdout: Buffer; stderr: Buffer; status: number | null } {
  const r = spawnSync(BASH, ['--norc', '--noprofile', '-r', '-c', script], {
    cwd: work,
    env: { PATH: '/nonexistent-gatehouse-diff', HOME: '~', LC_ALL: locale },
    input: '',
    timeout: 3000,
    maxBuffer: 1 << 20,
  });
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: r.stderr ?? Buffer.alloc(0), status: r.status };
}

/**
 * Unrestricted bash inside bubblewrap, for output redirections (restricted bash refuses them):
 * the whole filesystem read-only but for a scratch directory, no network, its own PID space,
 * the same empty PATH and disabled builtins. Nothing a line writes can land outside `outWork`.
 */
const BWRAP = '/usr/bin/bwrap';
const hasBwrap = existsSync(BWRAP) && spawnSync(BWRAP, ['--ro-bind', '/', '/', '--', '/bin/true']).status === 0;
let outWork = '';
const FIXTURES = ['a', 'b', 'x', 'ab', 'rm', '-rf', 'é'];
/** Puts the sandbox's scratch directory back to the fixtures, all dated long ago. */
function resetOutWork(): void {
  const dir = Buffer.from(outWork);
  for (const f of readdirSync(dir, { encoding: 'buffer' }))
    if (!FIXTURES.includes(f.toString('utf8')))
      rmSync(Buffer.concat([dir, Buffer.from('/'), f]), { recursive: true, force: true });
  for (const f of FIXTURES) {
    writeFileSync(join(outWork, f), '');
    utimesSync(join(outWork, f), 1000, 1000);
  }
}
/** Names in the scratch directory that the last run created or wrote, as bytes. */
function writtenInOutWork(): Buffer[] {
  const dir = Buffer.from(outWork);
  return readdirSync(dir, { encoding: 'buffer' }).filter(
    (f) => statSync(Buffer.concat([dir, Buffer.from('/'), f])).mtimeMs > 1_000_000,
  );
}
function spawnSandboxedBash(script: string, locale: string): { stdout: Buffer; stderr: Buffer; status: number | null } {
  const r = spawnSync(
    BWRAP,
    [
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--tmpfs',
      '/tmp',
      '--bind',
      outWork,
      outWork,
      '--chdir',
      outWork,
      '--unshare-net',
      '--unshare-pid',
      '--unshare-ipc',
      '--die-with-parent',
      '--',
      BASH,
      '--norc',
      '--noprofile',
      '-c',
      script,
    ],
    {
      env: { PATH: '/nonexistent-gatehouse-diff', HOME: '~', LC_ALL: locale },
      input: '',
      timeout: 5000,
      maxBuffer: 1 << 20,
    },
  );
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: r.stderr ?? Buffer.alloc(0), status: r.status };
}

function runBash(script: string, locale: string): BashResult {
  const r = spawnBash(script, locale);
  const out = r.stdout;
  const argv: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < out.length; i++)
    if (out[i] === 0) {
      argv.push(out.subarray(from, i));
      from = i + 1;
    }
  if (from < out.length) argv.push(Buffer.concat([out.subarray(from), Buffer.from('<unterminated>')]));
  return { argv, status: r.status, stderr: r.stderr.toString('utf8') };
}

/**
 * First statement of every not-found handler. The handler runs after every builtin but printf is
 * disabled; if it ever named another command, that would call the handler again, in a new child,
 * forever (a process storm that outlives the spawn's timeout). A second entry instead fails on a
 * division by zero, which ends that child and shows up as an error on stderr.
 */
const HANDLER_GUARD = '__x=${__h:+$((1/0))}; __h=1; ';

const setup = (): string => `printargs() { printf '%s\\0' "$@"; }\nenable -n ${disable}\n`;

/** Bash's argv for `line` as arguments of a function: every word expanded, nothing run. */
function bashArgMode(line: string, locale: string): BashResult {
  return runBash(`${setup()}printargs ${line}`, locale);
}

/** Bash's assignments and argv for `line` run as a command that is not found. */
function bashCommandMode(line: string, assignNames: string[], locale: string): BashResult {
  const show = assignNames.map((n) => `printf '%s\\0' "${n}=\${${n}-<unset>}"; `).join('');
  return runBash(
    `command_not_found_handle() { ${HANDLER_GUARD}${show}printf '%s\\0' "$@"; }\n${setup()}${line}`,
    locale,
  );
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const show = (bs: Buffer[]): string => JSON.stringify(bs.map((b) => b.toString('utf8')));

/**
 * Bytes 0x80-0xff made by `\xHH` / `\NNN` escapes have no faithful JS string (the guard holds
 * U+0080-U+00FF, bash the raw byte). A name or path rule only ever matches ASCII, and no run of
 * bytes >= 0x80 contains an ASCII byte, so such words are compared with every run of non-ASCII
 * bytes collapsed to one marker: the ASCII skeleton must still agree exactly.
 */
function skeleton(b: Buffer): string {
  return b.toString('latin1').replace(/[\x80-\xff]+/g, '\x80');
}
const HIGH_BYTE_ESCAPE = /\\(x[89a-fA-F]|[2-7][0-7]{2}|[uU]|c)/;

function sameArgv(guard: string[], bash: Buffer[], line: string): boolean {
  if (guard.length !== bash.length) return false;
  for (let i = 0; i < guard.length; i++) {
    const gb = utf8(guard[i]);
    if (gb.equals(bash[i])) continue;
    if (HIGH_BYTE_ESCAPE.test(line) && skeleton(gb) === skeleton(bash[i])) continue;
    // `~+`, `~-`, `~user`: the guard keeps the text and its path rules read any `~name` prefix as a
    // home directory (`rm -rf ~+` is denied); bash expands them to $PWD, $OLDPWD, a user's home.
    if (/(^|[=:])~[^/:]/.test(guard[i])) continue;
    return false;
  }
  return true;
}

/** A disagreement between the guard and bash on `line`, described; undefined when they agree. */
function disagreement(line: string, loc: string): string | undefined {
  stats.generated++;
  // In the C locale bash writes code points it cannot encode as `\uXXXX` text; the guard's
  // reading is the UTF-8 one, so those lines are judged in C.UTF-8 only.
  const locale = loc === 'C' && /\\[uU]/.test(line) ? 'C.UTF-8' : loc;
  const sc: StaticCommand | undefined = staticCommand(line, parser);
  if (!sc) return undefined;
  stats.resolved++;
  const expectArgs = [...sc.assigns, ...sc.argv];
  // A line that starts with a comment or line break cannot follow `printargs ` (the prefix would
  // be commented out or end on its own); command mode still covers it.
  if (!/^[\s\\]*(#|\n)/.test(line)) {
    stats.bashRuns++;
    const a = bashArgMode(line, locale);
    if (a.status !== 0 || a.stderr || !sameArgv(expectArgs, a.argv, line)) {
      return `arg mode ${locale}: guard ${JSON.stringify(expectArgs)} bash ${show(a.argv)} status ${a.status} ${a.stderr.trim()}`;
    }
  }
  const prog = sc.argv[0];
  const names = sc.assigns.map((x) => x.slice(0, x.indexOf('=')));
  if (
    !prog.includes('/') &&
    !NOT_OBSERVABLE.test(prog) &&
    names.every((n) => NAME.test(n)) &&
    new Set(names).size === names.length
  ) {
    stats.bashRuns++;
    const c = bashCommandMode(line, names, locale);
    if (c.status !== 0 || c.stderr || !sameArgv(expectArgs, c.argv, line)) {
      return `command mode ${locale}: guard ${JSON.stringify(expectArgs)} bash ${show(c.argv)} status ${c.status} ${c.stderr.trim()}`;
    }
  }
  return undefined;
}

/**
 * Bash's argv for every command of a line of pipelines and lists, each printed by the not-found
 * handler as one record on stderr (a pipeline stage's stdout is the pipe; `>&2` duplicates a
 * descriptor, which restricted bash allows). Bash line-buffers its output, so a newline inside
 * an argument would flush mid-record and let concurrent stages interleave: newlines travel as a
 * marker and each record ends with another, making every record one write. Anything else on
 * stderr (an error) breaks the framing and shows up.
 */
const RECORD_END = Buffer.from('\x01END\x01', 'latin1');
const NEWLINE_MARK = '\x02NL\x02';
function bashCommandsMode(
  line: string,
  locale: string,
  sandboxed = false,
): { records: Buffer[][]; status: number | null; stderr: string; raw: string; written: Buffer[] } {
  if (sandboxed) resetOutWork();
  // Sandboxed (unrestricted bash, so output redirections work): records go to descriptor 9, a
  // copy of stderr made before the line runs, so the line's own redirections cannot divert them.
  const out = sandboxed ? 9 : 2;
  // One format with a conversion per argument: printf then makes one pass and one write, so
  // records from concurrent pipeline stages cannot interleave.
  const handler = `command_not_found_handle() { ${HANDLER_GUARD}f=; for _ in "$@" e; do f+='%s\\0'; done; printf "$f" "\${@//$'\\n'/$'\\2NL\\2'}" $'\\1END\\1' >&${out}; }`;
  const r = sandboxed
    ? spawnSandboxedBash(`exec 9>&2\n${handler}\n${setup()}${line}`, locale)
    : spawnBash(`${handler}\n${setup()}${line}`, locale);
  const err = r.stderr;
  const records: Buffer[][] = [];
  let cur: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < err.length; i++) {
    if (err[i] !== 0) continue;
    const a = err.subarray(from, i);
    from = i + 1;
    if (a.equals(RECORD_END)) {
      records.push(cur);
      cur = [];
    } else cur.push(Buffer.from(a.toString('latin1').split(NEWLINE_MARK).join('\n'), 'latin1'));
  }
  const rest = err.subarray(from).toString('utf8');
  if (cur.length) records.push([...cur, Buffer.from('<unterminated record>')]);
  return {
    records,
    status: r.status,
    stderr: rest,
    raw: err.toString('latin1'),
    written: sandboxed ? writtenInOutWork() : [],
  };
}

/**
 * Like disagreement(), for lines of several commands: the multiset of argvs must match. With `||`
 * or `&` bash may skip a command (the handler succeeds) or finish before a background one has
 * run, so there only the direction that matters to a guard is checked: every command bash ran is
 * one the guard judged.
 */
function compoundDisagreement(line: string, loc: string, sandboxed = false): string | undefined {
  const locale = loc === 'C' && /\\[uU]/.test(line) ? 'C.UTF-8' : loc;
  const all = staticCommands(line, parser);
  if (!all) return undefined;
  // Redirects alone run no program: they count only for what they write.
  const cmds = all.filter((c) => c.argv.length > 0);
  // Program names bash's restricted mode refuses or the handler cannot observe.
  if (cmds.some((c) => c.argv[0] === '' || c.argv[0].includes('/') || NOT_OBSERVABLE.test(c.argv[0]))) return undefined;
  stats.compoundResolved++;
  stats.compoundCommands += cmds.length;
  const b = bashCommandsMode(line, locale, sandboxed);
  // A redirection or expansion that fails when it runs (a copy of a descriptor the line closed, a
  // target that is missing, a directory or not writable, `${}`): bash refuses that command before
  // it runs, so there is nothing to compare.
  if (
    /: (Bad file descriptor|Is a directory|No such file or directory|Read-only file system|Permission denied|ambiguous redirect|bad substitution)\n/.test(
      b.raw,
    )
  )
    return undefined;
  // An output redirection that quoting spelled (`'>'`… closing a string): restricted bash refuses
  // it; the sandboxed property covers such lines.
  if (!sandboxed && /restricted: cannot redirect output/.test(b.raw)) return undefined;
  const want = cmds.map((c) => c.argv);
  const left = [...b.records];
  const unmatched = want.filter((w) => {
    const k = left.findIndex((r) => sameArgv(w, r, line));
    if (k < 0) return true;
    left.splice(k, 1);
    return false;
  });
  // `||` or a lone `&` (not `&&`, `<&`, `>&` or `&>`): bash may skip or lose commands.
  const partial = /\|\||(^|[^&<>])&(?![&>])/.test(line);
  if (b.stderr || left.length || (unmatched.length && !partial)) {
    return `guard ${JSON.stringify(want)} bash ${JSON.stringify(b.records.map((r) => r.map((x) => x.toString('utf8'))))} status ${b.status} ${JSON.stringify(b.stderr)} unmatched ${JSON.stringify(unmatched)} left ${show(left.flat())}`;
  }
  // Every file bash wrote is a target the guard judged as written (the direction a guard needs;
  // the guard may see more, e.g. `<>` on an existing file, which bash opens without a change).
  const guardWrites = all.flatMap((c) => c.writes ?? []).map((w) => utf8(w.replace(/^\.\//, '')));
  // High bytes from escapes are compared on their ASCII skeleton, as for argv (see skeleton()).
  const same = (a: Buffer, g: Buffer) => a.equals(g) || (HIGH_BYTE_ESCAPE.test(line) && skeleton(a) === skeleton(g));
  const missed = b.written.filter((f) => !guardWrites.some((g) => same(f, g)));
  if (missed.length) return `bash wrote ${show(missed)}; the guard's write targets ${show(guardWrites)}`;
  return undefined;
}

/** Structural reasons the guard could not resolve `line`: then it must never be `allow`. */
function mustNotAllow(line: string): string | undefined {
  if (staticCommand(line, parser)) return undefined;
  // Whole-input structure the guard could not read: a finding from the parse/extraction.
  const d = g.checkCommand(line);
  if (d.decision !== 'allow') return undefined;
  if (/^(parse|limits|exec\.dynamic-command)/.test(d.rule)) return `allowed with rule ${d.rule}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators: words from pieces rich in shell syntax.

const PLAIN = [
  'a',
  'b',
  'x',
  'rm',
  '-rf',
  '-',
  '/',
  '.',
  '..',
  '=',
  '#',
  '%',
  '+',
  ',',
  ':',
  '@',
  '^',
  '-c',
  'é',
  '日本',
  '\u00a0',
  '😀',
  '0',
  '1',
  '!',
  '$',
  '}',
  ']',
  '~',
];
/** Characters inside quotes and after backslashes (control characters included on purpose). */
const CHARS = [
  'a',
  'b',
  ' ',
  '\t',
  '\n',
  "'",
  '"',
  '\\',
  '$',
  '`',
  '#',
  '~',
  '{',
  '}',
  ',',
  '*',
  '?',
  '[',
  ']',
  '!',
  '=',
  ';',
  '&',
  '|',
  '<',
  '>',
  '(',
  ')',
  'é',
  '😀',
  '\x01',
  '\x7f',
  '\r',
  '\x1b',
  '\u2028',
  'x',
  '0',
  '7',
  '9',
  'u',
  'c',
];
const ANSI_ESC = [
  '\\x41',
  '\\x2f',
  '\\x7',
  '\\x',
  '\\xg',
  '\\xff',
  '\\xe9',
  '\\x00',
  '\\101',
  '\\0',
  '\\00',
  '\\000',
  '\\400',
  '\\777',
  '\\8',
  '\\u0041',
  '\\u00e9',
  '\\u',
  '\\u12345',
  '\\U0001F600',
  '\\U41',
  '\\U110000',
  '\\ud800',
  '\\c',
  '\\ca',
  '\\cA',
  '\\c@',
  '\\c?',
  '\\c[',
  '\\c\\\\',
  '\\c\\',
  "\\c'",
  '\\e',
  '\\E',
  '\\n',
  '\\t',
  '\\a',
  '\\b',
  '\\f',
  '\\r',
  '\\v',
  "\\'",
  '\\"',
  '\\?',
  '\\\\',
  '\\q',
  '\\ ',
  '\\$',
  '\\`',
  '\\\n',
  'a',
  '$',
  '"',
  ' ',
  '\n',
  'rm',
  '/',
  '\\/',
];
const DQ_ESC = [
  '\\\\',
  '\\$',
  '\\"',
  '\\`',
  '\\\n',
  '\\a',
  '\\n',
  "\\'",
  '\\ ',
  'a',
  ' ',
  "'",
  '#',
  '~',
  '*',
  '{a,b}',
  '$',
  '$ ',
  '$"',
  "$'",
  '!',
  '\n',
  'é',
  '\t',
];

const chars = (alphabet: string[], max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet), { maxLength: max }).map((a) => a.join(''));

const piece: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PLAIN) },
  {
    weight: 3,
    arbitrary: chars(
      CHARS.filter((c) => c !== "'"),
      4,
    ).map((s) => `'${s}'`),
  },
  { weight: 3, arbitrary: chars(DQ_ESC, 3).map((s) => `"${s}"`) },
  { weight: 3, arbitrary: chars(ANSI_ESC, 3).map((s) => `$'${s.replace(/(^|[^\\])'/g, "$1\\'")}'`) },
  { weight: 1, arbitrary: chars(DQ_ESC, 2).map((s) => `$"${s}"`) },
  { weight: 3, arbitrary: fc.constantFrom(...CHARS).map((c) => `\\${c}`) },
  { weight: 1, arbitrary: fc.constantFrom("''", '""', "$''", '$""') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '~',
      '~/x',
      '~/',
      '{a,b}',
      '{a..c}',
      '{}',
      '{a}',
      '{,}',
      'a{b',
      '{',
      '*',
      '?',
      '[a]',
      '[!a]',
      '[',
      '\\*',
      '#x',
      'a#b',
      '\\\n',
    ),
  },
);

const word: fc.Arbitrary<string> = fc.array(piece, { minLength: 1, maxLength: 4 }).map((ps) => ps.join(''));
const assignName = fc.constantFrom('A', 'a_1', '_x', 'PATHX', '1a', 'a-b', "'A'", 'A\\', 'a[0]', 'é');
const assignment = fc
  .tuple(assignName, fc.constantFrom('=', '+='), fc.oneof(word, fc.constant('')))
  .map(([n, op, v]) => `${n}${op}${v}`);
const sep = fc.constantFrom(' ', ' ', '\t', '  ', ' \\\n');

const line: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(assignment, { maxLength: 2 }),
    fc.array(word, { minLength: 1, maxLength: 5 }),
    fc.array(sep, { minLength: 7, maxLength: 7 }),
  )
  .map(([as, ws, ss]) => [...as, ...ws].map((w, i) => (i ? ss[i % ss.length] : '') + w).join(''));

/**
 * Dangerous argvs spelled with every character in a random quoting style: bash must read the
 * same argv as the guard, and the guard's decision must be the plain spelling's decision.
 */
const DANGEROUS = [
  ['rm', '-rf', '/'],
  ['rm', '-r', '-f', '~'],
  ['cat', '/etc/shadow'],
  ['sudo', 'rm', '-rf', '/'],
  ['bash', '-c', 'rm -rf /'],
  ['dd', 'if=/dev/zero', 'of=/dev/sda'],
  ['mkfs.ext4', '/dev/sda'],
  ['shutdown', 'now'],
  ['git', 'push', '--force'],
];
const spell = (c: string): fc.Arbitrary<string> => {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
  const oct = c.charCodeAt(0).toString(8);
  const opts: string[] = [`'${c}'`, `$'\\x${hex}'`, `$'\\${oct}'`, `$'\\u${hex.padStart(4, '0')}'`, `$"${c}"`];
  if (c !== "'") opts.push(`$'${c}'`);
  if (/[A-Za-z0-9_./=-]/.test(c)) opts.push(c, `"${c}"`, `\\${c}`, `${c}''`, `""${c}`);
  if (c === ' ') opts.push('\\ ', '" "');
  if (c === '~') opts.push('~');
  return fc.constantFrom(...opts);
};
const spelledWord = (w: string): fc.Arbitrary<string> => fc.tuple(...[...w].map(spell)).map((ps) => ps.join(''));
const dangerous: fc.Arbitrary<{ argv: string[]; line: string }> = fc.constantFrom(...DANGEROUS).chain((argv) =>
  fc.tuple(...argv.map(spelledWord), sep).map(([...parts]) => {
    const s = parts.pop() as string;
    return { argv, line: parts.join(s) };
  }),
);

/**
 * Lines of several commands: input redirections and here-strings among the words (they must
 * not become arguments, and words around them must), joined by `;`, `|`, `&&`, `||`, `&` and
 * newlines, some inside `( … )` or `{ …; }`, and sometimes a heredoc at the end. Output
 * redirections are left out: restricted bash refuses them.
 */
const redirection = fc.oneof(
  fc.constantFrom('<a', '< a', '0<a', '<"a"', "<'a'", '<\\a', '3<a', '<>a'),
  word.map((w) => `<<<${w}`),
  word.map((w) => `<<< ${w}`),
);
const segmentWith = (redir: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.array(word, { minLength: 1, maxLength: 4 }),
      fc.array(redir, { maxLength: 2 }),
      fc.array(fc.nat(4), { minLength: 2, maxLength: 2 }),
      fc.array(sep, { minLength: 6, maxLength: 6 }),
    )
    .map(([ws, rs, at, ss]) => {
      const parts = [...ws];
      // A redirection may come first, between words, or last; a word that follows `<` is its target.
      rs.forEach((r, i) => parts.splice(Math.min(at[i], parts.length), 0, r));
      return parts.map((p, i) => (i ? ss[i % ss.length] : '') + p).join('');
    });
const segment = segmentWith(redirection);
/** Output redirections and descriptor copies (never descriptor 9, which carries the records). */
const outRedirection = fc.oneof(
  redirection,
  fc.constantFrom(
    '>o',
    '> o',
    '>>o',
    '2>o',
    '&>o',
    '>|o',
    '>"o"',
    "1>'o'",
    '2>&1',
    '>&2',
    '1>&2',
    '2>/dev/null',
    '>/dev/null',
    '>&-',
    '3>o',
    'o>o',
    '>o\\',
  ),
);
const outCompound: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(segmentWith(outRedirection), { minLength: 1, maxLength: 3 }),
    fc.array(fc.constantFrom(' ; ', ' | ', ' && ', '\n'), { minLength: 2, maxLength: 2 }),
  )
  .map(([segs, js]) => segs.map((s, i) => (i ? js[i - 1] : '') + s).join(''));
const joiner = fc.constantFrom(' ; ', ';', ' | ', '|', ' && ', '\n', ' |\n', ' || ', ' & ', '&');
const grouped = fc.oneof(
  { weight: 4, arbitrary: segment },
  { weight: 1, arbitrary: segment.map((s) => `( ${s} )`) },
  { weight: 1, arbitrary: segment.map((s) => `(${s})`) },
  { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `{ ${a}; ${b}; }`) },
);
const heredoc = fc.constantFrom('', ' <<EOF\nrm -rf /\nEOF', " <<'EOF'\n$(x)\nEOF", ' <<-EOF\n\tx\n\tEOF');
const compound: fc.Arbitrary<string> = fc
  .tuple(fc.array(grouped, { minLength: 1, maxLength: 3 }), fc.array(joiner, { minLength: 2, maxLength: 2 }), heredoc)
  .map(([segs, js, hd]) => segs.map((s, i) => (i ? js[i - 1] : '') + s).join('') + hd);

const locale = fc.constantFrom('C.UTF-8', 'C');

describe.skipIf(!hasBash && !CI)('guard word evaluation agrees with bash', () => {
  it('bash is present (CI=true requires it)', () => {
    expect(hasBash, `${BASH} is missing`).toBe(true);
  });

  it('random shell words: the guard argv is the argv bash runs, byte for byte', () => {
    fc.assert(
      fc.property(line, locale, (l, loc) => {
        const d = disagreement(l, loc);
        expect(d, `${JSON.stringify(l)}: ${d}`).toBeUndefined();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("pipelines, lists and input redirections: every command's argv is the argv bash runs", () => {
    fc.assert(
      fc.property(compound, locale, (l, loc) => {
        const d = compoundDisagreement(l, loc);
        expect(d, `${JSON.stringify(l)}: ${d}`).toBeUndefined();
      }),
      { seed: SEED + 3, numRuns: RUNS * 2 },
    );
  });

  it.skipIf(!hasBwrap && !CI)(
    "output redirections (unrestricted bash in bubblewrap): every command's argv is the argv bash runs",
    () => {
      expect(hasBwrap, `${BWRAP} is missing or cannot run: the output-redirection differential needs it`).toBe(true);
      fc.assert(
        fc.property(outCompound, locale, (l, loc) => {
          const d = compoundDisagreement(l, loc, true);
          expect(d, `${JSON.stringify(l)}: ${d}`).toBeUndefined();
        }),
        { seed: SEED + 4, numRuns: RUNS },
      );
    },
  );

  it('commands the guard cannot resolve for structural reasons are never allowed', () => {
    fc.assert(
      fc.property(line, (l) => {
        const d = mustNotAllow(l);
        expect(d, `${JSON.stringify(l)}: ${d}`).toBeUndefined();
      }),
      { seed: SEED + 1, numRuns: RUNS * 2 },
    );
  });

  it('dangerous commands in any spelling: same argv as bash, same decision as the plain spelling', () => {
    const plain = new Map(DANGEROUS.map((a) => [a.join(' '), g.checkCommand(a.map((w) => `'${w}'`).join(' '))]));
    fc.assert(
      fc.property(dangerous, locale, ({ argv, line: l }, loc) => {
        const d = disagreement(l, loc);
        expect(d, `${JSON.stringify(l)}: ${d}`).toBeUndefined();
        const got = g.checkCommand(l);
        const want = plain.get(argv.join(' '));
        expect(got.decision, JSON.stringify(l)).not.toBe('allow');
        // A spelling the parser reads differently from bash fails closed (parse.*) instead of
        // reaching the rule; anything it reads faithfully must get the plain spelling's verdict.
        if (!got.rule.startsWith('parse.'))
          expect({ decision: got.decision, rule: got.rule }, JSON.stringify(l)).toEqual({
            decision: want?.decision,
            rule: want?.rule,
          });
      }),
      { seed: SEED + 2, numRuns: Math.max(200, Math.floor(RUNS / 4)) },
    );
  });
});

/**
 * Exploration aid: GUARD_DIFF_COLLECT=1 prints every disagreement in a sample instead of stopping
 * at the first. Registered only when asked for, so a normal run (and CI) shows no skipped test.
 */
if (process.env.GUARD_DIFF_COLLECT === '1' && hasBash)
  describe('collect disagreements', () => {
    it('lists them', () => {
      const found = new Map<string, string>();
      for (const l of fc.sample(line, { seed: SEED, numRuns: RUNS })) {
        const d = disagreement(l, 'C.UTF-8');
        if (d) found.set(l, d);
      }
      for (const [l, d] of found) console.log(JSON.stringify(l), d);
      console.log(`collected ${found.size} disagreements`);
    });
  });

/**
 * Disagreements the differential found, minimized. DENY: each was `allow` while bash runs
 * `rm -rf /` (or `rm` inside a subscript). ARGV: the argv the guard now reads, as bash does.
 */
const REGRESSION_DENY: [string, string][] = [
  ["$'rm\\x00' -rf /", 'a NUL ends a $\'…\' string in bash; the guard kept "rm\\0"'],
  ["$'rm\\c@' -rf /", '\\c@ is a NUL too'],
  ['rm$"" -rf /', 'a bare $ before "…" is $"…" quoting; the guard kept "rm$"'],
  ['x=1 rm$"" -rf /', 'same, after an assignment'],
  ['bash -c rm" "-rf" "/', 'blanks-only "…" strings were dropped: the guard re-parsed "rm-rf/"'],
  ['A=]\\echo rm -rf /', 'tree-sitter ends the value at "]"; bash reads A=]echo and runs rm'],
  ['a[$(rm -rf /)]=1 ls', 'substitutions in an assignment subscript run'],
  ['"r"m$1 -rf /', 'tree-sitter splits "r"m$ and 1; bash expands $1 (empty) and runs rm'],
  ["echo $'\\\\' \nrm -rf /\n#'", "tree-sitter runs $'\\\\' on to the last quote; bash ends it and runs rm"],
  // Found by the pipelines-and-redirections property:
  [
    "<<< ''\\echo rm -rf /",
    "tree-sitter ends the here-string at '' and runs \\echo; bash's here-string is ''\\echo and it runs rm (was allow)",
  ],
  ["cat <<< ''\\x rm -rf /", 'same, after a program name'],
  ['0<a rm -rf /', 'tree-sitter reads a program "0"; bash reads the descriptor 0 and runs rm (was approve)'],
  ['{} ; rm -rf /', 'tree-sitter reads an empty group; bash runs a program "{}", then rm'],
  // Found by the output-redirection property (bash in bubblewrap):
  ['rm -rf >&- /', 'tree-sitter gives ">&-" (close stdout) the target "/"; bash passes "/" to rm (was approve)'],
  ['rm -rf 2>&- ~', 'same for another descriptor'],
  ['> /etc/passwd', 'a redirect with no command was never judged: it truncates the file (was allow)'],
  ['>~/.bashrc', 'same, a startup file'],
];
/** Lines of several commands: the argv of each, as bash builds them (pipelines, lists, redirects). */
const REGRESSION_COMPOUND: [string, string[][] | undefined][] = [
  [
    'echo x | rm <a -rf /',
    [
      ['echo', 'x'],
      ['rm', '-rf', '/'],
    ],
  ],
  ['x && a <a \\a', [['x'], ['a', 'a']]],
  ["a <a $''\\a''", [['a', 'a']]],
  ["'a' ; [!a]", undefined],
  ['<a a{b "" \\\n0<a', undefined],
  ["'a' >&- $'' ; a", [['a', ''], ['a']]],
  ["'a' \\\n\n2>/dev/null \\a", undefined],
  // An empty group is a syntax error to bash (nothing runs); tree-sitter accepts it.
  ['\\a ; { }', undefined],
  // tree-sitter joins `$ $` across the blank into `$$`; bash reads a here-string `$` and an argument.
  ["a <<<$ $'' <<-EOF\n\tx\n\tEOF", undefined],
  // tree-sitter splits `]\ {a..c}` into `]\ {` and `a..c}`; bash brace-expands the joined word.
  ['x ]\\ {a..c}', undefined],
];
const REGRESSION_ARGV: [string, StaticCommand | undefined][] = [
  ['x "\t"', { assigns: [], argv: ['x', '\t'] }],
  ['x "$ " "a$" $" "', { assigns: [], argv: ['x', '$ ', 'a$', ' '] }],
  ["x $'\\c?' $'\\c' $'\\c\\\\a'", { assigns: [], argv: ['x', '\x7f', '\\c', '\x1ca'] }],
  ["x $'a\\0b'c", { assigns: [], argv: ['x', 'ac'] }],
  ['1a=x cat y', { assigns: [], argv: ['1a=x', 'cat', 'y'] }],
  ['A=1 1a=x B=2 cat', { assigns: ['A=1'], argv: ['1a=x', 'B=2', 'cat'] }],
  ['A+=1 cat', { assigns: ['A+=1'], argv: ['cat'] }],
  ['A=]\\b c', { assigns: ['A=]b'], argv: ['c'] }],
  ['x \\a\\\n\\\n""', { assigns: [], argv: ['x', 'a'] }],
  ['x {a..c}', undefined],
  ['$ ""\'\'', undefined],
  ["!'' x", undefined],
  ["x ''$$", undefined],
  ['A=\\\n a', undefined],
  ['x "$\\\n{a,b}"', undefined],
  ['A=""\\\n A= x', undefined],
  ["x $$'a'", undefined],
];

describe('differential regressions', () => {
  it.each(REGRESSION_DENY)('denies %j (%s)', (cmd) => {
    expect(g.checkCommand(cmd).decision).toBe('deny');
  });
  it.each(REGRESSION_ARGV)('reads %j as bash does', (cmd, want) => {
    expect(staticCommand(cmd, parser)).toEqual(want);
  });
  it.each(REGRESSION_COMPOUND)('reads the commands of %j as bash does', (cmd, want) => {
    expect(staticCommands(cmd, parser)?.map((c) => c.argv)).toEqual(want);
  });
  describe.skipIf(!hasBash && !CI)('with bash as the judge', () => {
    it.each(REGRESSION_ARGV.filter(([, w]) => w !== undefined))('bash agrees on %j', (cmd) => {
      expect(disagreement(cmd, 'C.UTF-8')).toBeUndefined();
    });
    it.each(REGRESSION_COMPOUND.filter(([, w]) => w !== undefined))('bash agrees on the commands of %j', (cmd) => {
      expect(compoundDisagreement(cmd, 'C.UTF-8')).toBeUndefined();
    });
  });
});
