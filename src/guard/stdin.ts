import { parseOpts, texts, type View } from './argv.js';
import type { SimpleCommand } from './extract.js';
import { INTERPRETER_VALUE_OPTS } from './interpreter-options.js';
import { INTERPRETERS } from './rules-sys.js';
import { SHELLS } from './wrappers.js';

/**
 * What standard input IS to a program: the one table behind judging the line's `stdin`, heredocs,
 * here-strings and static text piped into a program (issue 13.1, issue 14 item 3). Wrappers
 * (`sudo`, `env`, `timeout`, `ssh host CMD`, `docker exec -i`) are not in it: the analyzer unwraps
 * them and asks about the program they run, which reads the same descriptor 0.
 *
 * - `script`: a shell reads its script from stdin (`sh`, `bash -s`, `bash /dev/stdin`, `source
 *   /dev/stdin`, `at`): parsed as bash and judged with the same rules (`foreign`: the language is
 *   not bash's, or the shell is on another host, so also approve).
 * - `code`: runs stdin as code the guard cannot judge (python, node, perl, awk -f -, gdb, ed, vim,
 *   sftp/ftp batch commands, crontab, make -f -) or applies it to files (git apply, patch, tar x,
 *   cpio -i): approve (`scan`: interpreter code, also scanned for the obvious deny signatures).
 * - `sql`: psql, mysql, sqlite3 or redis-cli reads statements and client commands from stdin: the
 *   database rules judge the visible text as they judge `psql -c` (DROP, DELETE without WHERE, and
 *   client commands that run programs or touch files are approve); unknown text is approve.
 * - `xargs`: builds commands from stdin (followed like static text piped into xargs).
 * - `data`: anything else (cat, grep, tee, wc …): no change to the verdict.
 */
export type StdinUse =
  | { kind: 'data' }
  | { kind: 'script'; what: string; foreign?: boolean }
  | { kind: 'code'; what: string; scan?: boolean }
  | { kind: 'sql'; what: string }
  | { kind: 'xargs' };

const DATA: StdinUse = { kind: 'data' };
const STDIN_PATHS = /^(-|\/dev\/stdin|\/dev\/fd\/0|\/proc\/self\/fd\/0)$/;
/** Shells whose language is bash's (their script is judged as bash). */
const BASH_LIKE = /^(bash|sh|dash|ksh|mksh|ash|rbash|yash|posh|zsh)$/;

/** bash/sh: reads its script from stdin with no script operand and no -c, with -s, or with /dev/stdin. */
function shellReadsStdin(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-') {
      const next = args[i + 1];
      return next === undefined || STDIN_PATHS.test(next);
    }
    if (a === '--rcfile' || a === '--init-file' || a === '-o' || a === '+o' || a === '-O' || a === '+O') {
      i++;
      continue;
    }
    if (a === '--version' || a === '--help') return false;
    if (a === '--command') return false;
    if (a.startsWith('--')) continue;
    if (/^[-+][A-Za-z]+$/.test(a)) {
      if (a.startsWith('-') && a.includes('c')) return false;
      if (a.startsWith('-') && a.includes('s')) return true;
      continue;
    }
    return STDIN_PATHS.test(a);
  }
  return true;
}

/** Options after which an interpreter reads more code from stdin even when it has a script. */
const INTERACTIVE_AFTER: Record<string, RegExp> = {
  python: /^-[A-Za-z]*i/,
  node: /^(-i|--interactive)$/,
  lua: /^-i$/,
  php: /^-a$/,
};
/** Options that take the code from the command line instead (then stdin is data). */
const CODE_OPTS = /^(-c|-e|-E|-r|-p|--eval|--print|--command|-m|-Command|-EncodedCommand)$/;

function interpreterReadsStdin(prog: string, args: readonly string[]): boolean {
  const base = prog
    .replace(/[0-9.]+$/, '')
    .replace(/^pypy$/, 'python')
    .replace(/^nodejs$/, 'node')
    .replace(/^luajit$/, 'lua');
  const values = INTERPRETER_VALUE_OPTS[base] ?? [];
  const interactive = INTERACTIVE_AFTER[base];
  if (interactive && args.some((a) => interactive.test(a))) return true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      const next = args[i + 1];
      return next === undefined || STDIN_PATHS.test(next);
    }
    if (a === '-') return true;
    if (
      CODE_OPTS.test(a) ||
      (base === 'python' && /^-[A-Za-z]*[cm]$/.test(a)) ||
      (base === 'perl' && /^-[A-Za-z]*[eE]$/.test(a))
    )
      return false;
    if (a.startsWith('-')) {
      if (values.includes(a)) i++;
      continue;
    }
    // deno/bun: `deno run -` and `bun run -` read stdin; other subcommands take a file.
    if ((base === 'deno' || base === 'bun') && (a === 'run' || a === 'eval'))
      return a === 'run' && STDIN_PATHS.test(args[i + 1] ?? '');
    return STDIN_PATHS.test(a);
  }
  return true;
}

/** The operand positions that read stdin for programs with an `-f FILE` style option. */
function fileOptIsStdin(args: readonly string[], opt: RegExp): boolean {
  for (const [i, a] of args.entries()) {
    if (opt.test(a)) return STDIN_PATHS.test(args[i + 1] ?? '');
    const glued = /^(-[A-Za-z])(.+)$/.exec(a);
    if (glued && opt.test(glued[1]!)) return STDIN_PATHS.test(glued[2]!);
    const eq = /^(--[a-z-]+)=(.*)$/.exec(a);
    if (eq && opt.test(eq[1]!)) return STDIN_PATHS.test(eq[2]!);
  }
  return false;
}

/** Programs the switch in stdinUse knows (shells and interpreters aside): any other reads stdin as data. */
const STDIN_PROGS: ReadonlySet<string> = new Set([
  'source',
  '.',
  'at',
  'batch',
  'xargs',
  'parallel',
  'awk',
  'gawk',
  'mawk',
  'nawk',
  'busybox-awk',
  'sed',
  'make',
  'gmake',
  'psql',
  'cockroach',
  'mysql',
  'mariadb',
  'sqlite3',
  'clickhouse-client',
  'sqlcmd',
  'cqlsh',
  'mongo',
  'mongosh',
  'influx',
  'sqlplus',
  'duckdb',
  'redis-cli',
  'crontab',
  'gdb',
  'lldb',
  'ed',
  'red',
  'ex',
  'vi',
  'vim',
  'nvim',
  'view',
  'dc',
  'expect',
  'ftp',
  'lftp',
  'smbclient',
  'sftp',
  'git',
  'ssh',
  'su',
  'runuser',
  'sudo',
  'doas',
  'patch',
  'tar',
  'bsdtar',
  'cpio',
]);

/** False when `prog` certainly reads its stdin as data (the common case, decided without allocating). */
export function mayRunStdin(prog: string): boolean {
  return STDIN_PROGS.has(prog) || SHELLS.has(prog) || INTERPRETERS.test(prog);
}

/** What `v.prog` (a program, not a wrapper) does with its standard input. */
export function stdinUse(v: View): StdinUse {
  const p = v.prog;
  if (!mayRunStdin(p)) return DATA;
  const a = texts(v.args);
  if (SHELLS.has(p)) {
    if (!shellReadsStdin(a)) return DATA;
    return BASH_LIKE.test(p) ? { kind: 'script', what: p } : { kind: 'script', what: p, foreign: true };
  }
  if ((p === 'source' || p === '.') && STDIN_PATHS.test(a[0] ?? '') && a[0] !== '-') return { kind: 'script', what: p };
  if (p === 'at' || p === 'batch')
    return a.some((x) => /^-[A-Za-z]*[fldrclq]/.test(x)) ? DATA : { kind: 'script', what: p };
  if (INTERPRETERS.test(p)) return interpreterReadsStdin(p, a) ? { kind: 'code', what: p, scan: true } : DATA;
  switch (p) {
    case 'xargs':
      return a.some((x) => /^(-a|--arg-file)/.test(x)) ? DATA : { kind: 'xargs' };
    case 'parallel':
      return a.some((x) => /^:::/.test(x) || /^(-a|--arg-file)/.test(x))
        ? DATA
        : { kind: 'code', what: 'parallel (each line becomes part of a shell command)' };
    case 'awk':
    case 'gawk':
    case 'mawk':
    case 'nawk':
    case 'busybox-awk':
      return fileOptIsStdin(a, /^(-f|--file)$/) ? { kind: 'code', what: p, scan: true } : DATA;
    case 'sed':
      return fileOptIsStdin(a, /^(-f|--file)$/)
        ? { kind: 'code', what: 'sed script (e runs commands, w writes files)' }
        : DATA;
    case 'make':
    case 'gmake':
      return fileOptIsStdin(a, /^(-f|--file|--makefile)$/) ? { kind: 'code', what: 'make rules' } : DATA;
    case 'psql':
    case 'cockroach':
      return a.some((x) => /^(-c|--command)(=|$)|^-c./.test(x)) ||
        (a.some((x) => /^(-f|--file)(=|$)|^-f./.test(x)) && !fileOptIsStdin(a, /^(-f|--file)$/))
        ? DATA
        : { kind: 'sql', what: p };
    case 'mysql':
    case 'mariadb':
      return a.some((x) => /^(-e|--execute)(=|$)|^-e./.test(x)) ? DATA : { kind: 'sql', what: p };
    case 'sqlite3': {
      const o = parseOpts(v.args, '', ['cmd', 'init', 'separator', 'nullvalue', 'newline']);
      return o.pos.length > 1 ? DATA : { kind: 'sql', what: p };
    }
    case 'clickhouse-client':
    case 'sqlcmd':
    case 'cqlsh':
    case 'mongo':
    case 'mongosh':
    case 'influx':
    case 'sqlplus':
    case 'duckdb':
      // Clients whose scripting or shell escapes (sqlcmd !!, sqlplus HOST, mongo run(), duckdb .shell) are not modelled.
      return a.some((x) => /^(-q|--query|--eval|-e|--execute|-Q)(=|$)/.test(x))
        ? DATA
        : { kind: 'code', what: `${p} statements` };
    case 'redis-cli': {
      const o = parseOpts(v.args, 'hpasnurdDc', [
        'user',
        'pass',
        'askpass',
        'tls',
        'sni',
        'cacert',
        'cert',
        'key',
        'eval',
      ]);
      return o.pos.length && !o.short.has('x') ? DATA : { kind: 'sql', what: p };
    }
    case 'crontab':
      return a.some((x) => /^-[A-Za-z]*[lre]/.test(x)) || a.some((x) => !x.startsWith('-') && x !== '-')
        ? DATA
        : { kind: 'code', what: 'crontab (installs scheduled commands)' };
    case 'gdb':
    case 'lldb':
    case 'ed':
    case 'red':
    case 'ex':
    case 'vi':
    case 'vim':
    case 'nvim':
    case 'view':
    case 'dc':
    case 'expect':
    case 'ftp':
    case 'lftp':
    case 'smbclient':
      return { kind: 'code', what: `${p} commands (they can run shell commands)` };
    case 'sftp':
      return a.includes('-b') && !fileOptIsStdin(a, /^-b$/)
        ? DATA
        : { kind: 'code', what: 'sftp commands (! runs local commands)' };
    case 'git': {
      const at = a.findIndex((x) => !x.startsWith('-'));
      const sub = at < 0 ? undefined : a[at];
      if (sub === undefined || !/^(apply|am)$/.test(sub)) return DATA;
      const operands = a.slice(at + 1).filter((x) => !x.startsWith('-') || x === '-');
      return operands.every((x) => x === '-')
        ? { kind: 'code', what: `git ${sub} (writes the files a patch names)` }
        : DATA;
    }
    case 'ssh': {
      // With no remote command, the remote login shell (whatever it is) reads stdin as its script.
      const o = parseOpts(v.args, 'BbcDEeFIiJLlmOopQRSWw', [], true);
      return o.pos.length === 1
        ? { kind: 'script', what: 'the remote login shell (ssh with no command)', foreign: true }
        : DATA;
    }
    case 'su':
    case 'runuser': {
      const o = parseOpts(
        v.args,
        'cgGsuw',
        ['command', 'group', 'supp-group', 'shell', 'user', 'whitelist-environment', 'session-command'],
        false,
      );
      const cmd =
        o.values.has('c') ||
        o.long.has('command') ||
        o.long.has('session-command') ||
        (p === 'runuser' && o.pos.length > 1);
      return cmd ? DATA : { kind: 'script', what: `the shell ${p} starts`, foreign: true };
    }
    case 'sudo':
    case 'doas': {
      const o = parseOpts(
        v.args,
        'ugpCDhRTUrt',
        ['user', 'group', 'prompt', 'chdir', 'host', 'close-from', 'role', 'type', 'other-user', 'command-timeout'],
        true,
      );
      const shell = o.short.has('s') || o.short.has('i') || o.long.has('shell') || o.long.has('login');
      return shell && !o.pos.some((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.text))
        ? { kind: 'script', what: `the shell ${p} starts`, foreign: true }
        : DATA;
    }
    case 'patch':
      return a.some((x) => /^(-i|--input)(=|$)|^-i./.test(x))
        ? DATA
        : { kind: 'code', what: 'patch (writes the files a patch names)' };
    case 'tar':
    case 'bsdtar': {
      const extract = a.some(
        (x) => x === '--extract' || x === '--get' || (/^-?[A-Za-z]*x/.test(x) && !x.startsWith('--')),
      );
      if (!extract) return DATA;
      const file = a.findIndex(
        (x) => x === '-f' || x === '--file' || (/^-?[A-Za-z]*f$/.test(x) && !x.startsWith('--')),
      );
      if (file >= 0 && !STDIN_PATHS.test(a[file + 1] ?? '-')) return DATA;
      if (a.some((x) => /^--file=/.test(x) && !STDIN_PATHS.test(x.slice(7)))) return DATA;
      return { kind: 'code', what: `${p} extracting an archive from standard input (writes the files it names)` };
    }
    case 'cpio':
      return a.some((x) => /^-[A-Za-z]*i/.test(x) || x === '--extract')
        ? { kind: 'code', what: 'cpio extracting an archive (writes the files it names, absolute paths included)' }
        : DATA;
    default:
      return DATA;
  }
}

/** Whether a command reads the standard input of the line it is part of (see analyze.ts). */
export function readsOuterStdin(c: SimpleCommand): boolean {
  if (c.stdin) return false;
  for (const p of c.pipes) if (p.stage > 0) return false;
  return stdinRedirect(c) === undefined;
}

/** The input redirection on descriptor 0 (`<f`, `0<f`, `<>f`, `<&3`), if any. */
export function stdinRedirect(c: SimpleCommand): SimpleCommand['redirects'][number] | undefined {
  for (const r of c.redirects) {
    if ((r.fd === null || r.fd === '0') && (r.op === '<' || r.op === '<>' || r.op === '<&')) return r;
  }
  return undefined;
}
