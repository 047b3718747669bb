import { subcommand, type View } from './argv.js';
import { globToRegExp } from './glob.js';
import { INTERPRETER_VALUE_OPTS } from './interpreter-options.js';
import { EX_INTERPRETER, exShell, gdbShell, GIT_VALUE_OPTS } from './option-code.js';
import { normalizePath } from './paths.js';
import type { RuleEnv } from './rules-fs.js';
import { finding, type Finding } from './types.js';
import type { Word } from './words.js';

/**
 * Code the guard cannot read (issue 14 item 3) and options that run commands (item 0):
 *
 * - a script file run by a shell (`bash ./x.sh`, `sh x`), sourced (`source x`, `. x`), run by an
 *   interpreter (`python3 x.py`, `node app.js`), or a project's code run by its tool (`make`,
 *   `npm run X`, `just X`, `cargo test`, `go run .` …) is approve, unless the policy's
 *   `script_paths_allowed` matches the script or project file (RuleEnv.scriptPathsAllowed);
 * - a program option that runs a command (`zip -TT`, `gdb -ex 'shell …'`, `man -P`, `rsync -e`,
 *   `sort --compress-program`, `tar --to-command`, `git --upload-pack`, `ssh -o ProxyCommand` …)
 *   is approve, except plain known forms (`tar -I zstd`, `rsync -e ssh`); the command itself is
 *   judged too (src/guard/option-code.ts, through the analyzer), so a catastrophe in it is deny.
 */

/** The rule of the allow a script or project file gets when `script_paths_allowed` matches it. */
export const SCRIPT_ALLOWED = 'exec.script-allowed';

const ap = (rule: string, reason: string, v: View): Finding => finding('approve', rule, reason, v.text);

/** A script or project file the policy lets run without approval. */
export function scriptAllowed(path: string, env: RuleEnv): boolean {
  const globs = env.scriptPathsAllowed;
  if (!globs || !globs.length) return false;
  const n = normalizePath(path);
  // A path that leaves the working directory never matches a relative pattern by accident.
  return globs.some((g) => globToRegExp(normalizePath(g)).test(n));
}

function scriptFinding(v: View, path: Word | string, what: string, env: RuleEnv): Finding[] {
  const text = typeof path === 'string' ? path : path.text;
  if (typeof path !== 'string' && path.dynamic && !path.fields)
    return [
      finding(
        'approve',
        'exec.script-file',
        `${what} named only at run time (${path.raw}), whose content the guard cannot read`,
        v.text,
        { floor: true },
      ),
    ];
  // The policy vouches for this file: an explicit allow, which the analyzer takes as the judgment
  // for this argv (the program is then not "unknown").
  if (scriptAllowed(text, env))
    return [
      finding('allow', SCRIPT_ALLOWED, `${what} (${text}); the policy's script_paths_allowed lets it run`, v.text),
    ];
  return [unreadable(v, `${what} (${text}), whose content the guard cannot read`, env)];
}

/**
 * Code the guard cannot read is the unknown: it gets the context's unknown_command verdict
 * (RuleEnv.unreadableScript; approve when absent). A script named only at run time is a floor
 * finding instead, approve in every context.
 */
function unreadable(v: View, reason: string, env: RuleEnv): Finding {
  const u = env.unreadableScript;
  if (!u || u.verdict === 'approve') return ap('exec.script-file', reason, v);
  return finding(
    u.verdict,
    'exec.script-file',
    `${reason}; the ${u.policy} policy's unknown_command for this context is ${u.verdict}`,
    v.text,
  );
}

const STDIN_PATH = /^(-|\/dev\/stdin|\/dev\/fd\/0|\/proc\/self\/fd\/0)$/;

/* ---------------- shells and source ---------------- */

/** `bash [opts] FILE`, `sh FILE`: the script operand (undefined for -c, stdin, -n). */
export function shellScriptOperand(args: readonly Word[]): Word | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.text;
    if (a === '--') return args[i + 1];
    if (a === '-') return undefined;
    if (a === '--rcfile' || a === '--init-file' || a === '-o' || a === '+o' || a === '-O' || a === '+O') {
      i++;
      continue;
    }
    if (a === '--version' || a === '--help' || a === '--command') return undefined;
    if (a.startsWith('--')) continue;
    if (/^[-+][A-Za-z]+$/.test(a)) {
      // -c: the command is a string (judged as a line); -s: stdin; -n: read only, never run.
      if (a.startsWith('-') && /[csn]/.test(a)) return undefined;
      continue;
    }
    return args[i];
  }
  return undefined;
}

export function shellRule(v: View, env: RuleEnv): Finding[] {
  const s = shellScriptOperand(v.args);
  if (!s || STDIN_PATH.test(s.text)) return [];
  return scriptFinding(v, s, `${v.prog} runs a script file`, env);
}

export function sourceRule(v: View, env: RuleEnv): Finding[] {
  const f = v.args[0];
  // `. --x` is not a file (an unknown program's argument read as a command, `jar … -C classes . --release 10`).
  if (!f || STDIN_PATH.test(f.text) || f.text.startsWith('-')) return [];
  return scriptFinding(v, f, `${v.prog} runs a file in the current shell`, env);
}

/* ---------------- interpreters ---------------- */

/** Options that load code from a module besides the script (`node -r ./x`, `ruby -r ./x`, `lua -l x`, `perl -M./x`). */
const LOADS_CODE: Record<string, RegExp> = {
  node: /^(-r|--require|--import|--loader|--experimental-loader)(=.*)?$/,
  ruby: /^-r/,
  lua: /^-l/,
  perl: /^-[Mm]/,
};

export function baseInterpreter(prog: string): string {
  return prog
    .replace(/[0-9.]+$/, '')
    .replace(/^pypy$/, 'python')
    .replace(/^nodejs$/, 'node')
    .replace(/^luajit$/, 'lua')
    .replace(/^powershell$/, 'pwsh');
}

/** Version and help forms: nothing runs. `-v` is python's verbose flag, everyone else's version. */
function versionOrHelp(base: string, a: string): boolean {
  return a === '--version' || a === '-V' || a === '--help' || a === '-h' || (a === '-v' && base !== 'python');
}

/**
 * The script an interpreter runs from a file (item 3), when it has no inline code (the caller
 * checked) and does not read stdin: its first operand after options. `deno run F`, `bun F`.
 */
export function interpreterScriptRule(v: View, env: RuleEnv): Finding[] {
  const base = baseInterpreter(v.prog);
  const args = v.args;
  const values = INTERPRETER_VALUE_OPTS[base] ?? [];
  const loads = LOADS_CODE[base];
  const out: Finding[] = [];
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const a = w.text;
    if (versionOrHelp(base, a)) return out;
    if (a === '--') {
      const s = args[i + 1];
      if (s && !STDIN_PATH.test(s.text)) out.push(...scriptFinding(v, s, `${v.prog} runs a script`, env));
      return out;
    }
    if (loads?.test(a)) {
      const glued = /^(-[A-Za-z])(.+)$/.exec(a);
      const eq = a.indexOf('=');
      const mod = eq > 0 ? a.slice(eq + 1) : glued && !a.startsWith('--') ? glued[2]! : (args[i + 1]?.text ?? '');
      if (!(eq > 0 || (glued && !a.startsWith('--')))) i++;
      // perl -Mstrict, ruby -rjson, node -r ts-node/register: a library by name (installed code, like any
      // import); a path (`./x`, `/tmp/x.js`) is a file the guard cannot read.
      if (/[/\\]|^\./.test(mod))
        out.push(...scriptFinding(v, mod.replace(/^-/, ''), `${v.prog} loads code from a file`, env));
      continue;
    }
    if (a.startsWith('-')) {
      if (values.includes(a)) i++;
      const next = args[i + 1];
      if (base === 'php' && (a === '-S' || a === '-l')) return out; // built-in server (a listener: netRule), lint
      if (base === 'php' && a === '-f' && next) {
        out.push(...scriptFinding(v, next, 'php runs a script', env));
        return out;
      }
      if (base === 'pwsh' && /^-(File|f)$/i.test(a) && next) {
        out.push(...scriptFinding(v, next, `${v.prog} runs a script`, env));
        return out;
      }
      if (base === 'node' && (a === '--check' || a === '-c')) return out;
      continue;
    }
    if (base === 'deno' || base === 'bun') {
      // deno run|test|bench|serve F, deno task X; bun run X, bun test, bun F, bun x PKG.
      if (/^(run|test|bench|serve|task|x|create|exec|repl)$/.test(a)) {
        const file = args.slice(i + 1).find((w) => !w.text.startsWith('-'));
        if (/^(https?|npm|jsr):/.test(file?.text ?? ''))
          out.push(
            ap('exec.remote-script', `${v.prog} ${a} runs code from ${file?.text}, fetched from the network`, v),
          );
        else
          out.push(
            ...scriptFinding(
              v,
              file ?? (base === 'deno' ? 'deno.json' : 'package.json'),
              `${v.prog} ${a} runs project code`,
              env,
            ),
          );
        return out;
      }
      if (base === 'deno') return out; // fmt, lint, check, info, doc, cache… run no code
      if (
        /^(install|i|add|a|remove|rm|update|outdated|pm|build|upgrade|init|link|unlink|publish|patch|why|audit|info|completions)$/.test(
          a,
        )
      )
        return out;
    }
    if (STDIN_PATH.test(a)) return out;
    if (/^(https?|ftp):\/\//.test(a))
      out.push(ap('exec.remote-script', `${v.prog} runs code from ${a}, fetched from the network`, v));
    else out.push(...scriptFinding(v, w, `${v.prog} runs a script`, env));
    return out;
  }
  return out;
}

/* ---------------- project runners ---------------- */

/** Value of `-X VAL`/`--long VAL`/`--long=VAL`/`-XVAL` for the first option of the set found. */
function optValue(args: readonly Word[], short: readonly string[], long: readonly string[]): string | undefined {
  for (const [i, w] of args.entries()) {
    const t = w.text;
    if (t === '--') return undefined;
    for (const s of short) {
      if (t === s) return args[i + 1]?.text;
      if (t.startsWith(s) && t.length > s.length && !t.startsWith('--')) return t.slice(s.length);
    }
    for (const l of long) {
      if (t === l) return args[i + 1]?.text;
      if (t.startsWith(l + '=')) return t.slice(l.length + 1);
    }
  }
  return undefined;
}

/** make -n/-q/-t (print, question, touch: no recipe runs), --version, --help. Short groups stop at a letter taking a value. */
function makeRunsNothing(t: readonly string[]): boolean {
  for (const x of t) {
    if (x === '--') return false;
    if (/^--(just-print|dry-run|recon|question|touch|version|help)$/.test(x)) return true;
    if (!/^-[A-Za-z]+$/.test(x)) continue;
    for (const ch of x.slice(1)) {
      if ('fCIoW'.includes(ch)) break;
      if ('nqtvh'.includes(ch)) return true;
    }
  }
  return false;
}

function inDir(dir: string | undefined, file: string): string {
  return dir ? `${dir.replace(/\/+$/, '')}/${file}` : file;
}

/**
 * Tools that run a project's own code (build recipes, package scripts, tests). Each names the
 * options that only list or simulate (no finding), the subcommands that run code, and the file
 * whose code runs (for `script_paths_allowed`).
 */
export function runnerRule(v: View, env: RuleEnv): Finding[] {
  const a = v.args;
  const t = a.map((w) => w.text);
  const has = (re: RegExp): boolean => t.some((x) => re.test(x));
  const run = (file: string, what: string): Finding[] => scriptFinding(v, file, what, env);
  switch (v.prog) {
    case 'make':
    case 'gmake':
    case 'bmake':
    case 'pmake':
    case 'remake': {
      if (makeRunsNothing(t)) return [];
      const f = optValue(a, ['-f'], ['--file', '--makefile']);
      if (f !== undefined && STDIN_PATH.test(f)) return [];
      const dir = optValue(a, ['-C'], ['--directory']);
      return run(
        f !== undefined ? (dir && !f.startsWith('/') ? inDir(dir, f) : f) : inDir(dir, 'Makefile'),
        `${v.prog} runs the recipes of a makefile`,
      );
    }
    case 'just': {
      if (
        has(
          /^(-l|--list|--summary|-n|--dry-run|--show|-s|--dump|--variables|--version|-V|-h|--help|--choose|--fmt|--edit|--init)$/,
        )
      )
        return [];
      return run(
        optValue(a, ['-f'], ['--justfile']) ?? inDir(optValue(a, ['-d'], ['--working-directory']), 'justfile'),
        'just runs the recipes of a justfile',
      );
    }
    case 'rake':
      if (has(/^(-T|--tasks|-P|--prereqs|-W|--where|-D|--describe|-n|--dry-run|--version|-V|-h|--help)$/)) return [];
      return run(optValue(a, ['-f'], ['--rakefile']) ?? 'Rakefile', 'rake runs the tasks of a Rakefile');
    case 'gradle':
    case 'gradlew':
      if (
        has(/^(--dry-run|-m|--version|-v|--help|-h|-\?)$/) ||
        (t.length && t.every((x) => /^(tasks|help|projects|properties|dependencies|--\S+|-q)$/.test(x)))
      )
        return [];
      return run(
        optValue(a, ['-b'], ['--build-file']) ?? inDir(optValue(a, ['-p'], ['--project-dir']), 'build.gradle'),
        `${v.prog} runs the build scripts of a project`,
      );
    case 'mvn':
    case 'mvnw':
      if (has(/^(-v|--version|-h|--help|-V)$/) && t.length === 1) return [];
      return run(optValue(a, ['-f'], ['--file']) ?? 'pom.xml', `${v.prog} runs the plugins and build of a project`);
    case 'ant':
      if (has(/^(-p|-projecthelp|-version|-h|-help|-diagnostics)$/)) return [];
      return run(optValue(a, ['-f'], ['-buildfile', '-file']) ?? 'build.xml', 'ant runs the targets of a build file');
    case 'npm':
    case 'pnpm':
    case 'yarn':
    case 'bun': {
      const { sub, index } = subcommand(a, ['--prefix', '-C', '--cwd', '--dir', '-w', '--workspace', '--filter', '-F']);
      const runs =
        v.prog === 'yarn'
          ? /^(run|test|start|exec|dlx|node)$/
          : v.prog === 'bun'
            ? /^(run|test|x|exec)$/
            : /^(run|run-script|rum|urn|test|tst|t|start|stop|restart|exec|x|dlx|explore|install-test|it|cit|install-ci-test)$/;
      if (!runs.test(sub)) return [];
      const rest = t.slice(index + 1);
      if ((sub === 'run' || sub === 'run-script') && !rest.some((x) => !x.startsWith('-'))) return []; // lists the scripts
      if (/^(exec|x|dlx)$/.test(sub))
        return [
          ap(
            'exec.package-run',
            `${v.prog} ${sub} runs a package's program (possibly fetched from the registry), whose code the guard cannot read`,
            v,
          ),
        ];
      const dir = optValue(a, ['-C'], ['--prefix', '--cwd', '--dir']);
      return run(inDir(dir, 'package.json'), `${v.prog} ${sub} runs a script of package.json`);
    }
    case 'npx':
    case 'pnpx':
    case 'bunx':
    case 'uvx':
    case 'pipx':
      if (v.prog === 'pipx' && !/^(run)$/.test(t.find((x) => !x.startsWith('-')) ?? '')) return [];
      if (has(/^(--version|-v|--help|-h)$/) && t.length === 1) return [];
      return [
        ap(
          'exec.package-run',
          `${v.prog} runs a package's program (possibly fetched from the registry), whose code the guard cannot read`,
          v,
        ),
      ];
    case 'go': {
      const { sub } = subcommand(a, ['-C']);
      if (!/^(run|test|generate)$/.test(sub)) return [];
      if (sub === 'test' && has(/^(-list|-n)$/)) return [];
      return run(inDir(optValue(a, ['-C'], []), 'go.mod'), `go ${sub} runs the project's code`);
    }
    case 'cargo': {
      const { sub } = subcommand(a, ['--manifest-path', '-Z', '--config', '-C']);
      if (!/^(run|r|test|t|bench|build|b|check|c|install|xtask)$/.test(sub)) return [];
      return run(
        optValue(a, [], ['--manifest-path']) ?? 'Cargo.toml',
        `cargo ${sub} runs the project's code (and its build scripts)`,
      );
    }
    case 'dotnet': {
      const { sub } = subcommand(a, []);
      if (!/^(run|test|build|msbuild|publish|pack|watch)$/.test(sub)) return [];
      return run('.', `dotnet ${sub} runs the project's code or build targets`);
    }
    case 'pytest':
    case 'py.test':
    case 'tox':
    case 'nox':
    case 'nosetests':
    case 'behave':
    case 'trial':
    case 'jest':
    case 'vitest':
    case 'mocha':
    case 'phpunit':
    case 'rspec':
    case 'ctest':
      if (has(/^(--collect-only|--co|--version|-V|-h|--help|-l|--list|--listTests)$/)) return [];
      return run(a.find((w) => !w.text.startsWith('-'))?.text ?? '.', `${v.prog} runs the project's tests`);
    case 'composer': {
      const { sub } = subcommand(a, ['-d', '--working-dir']);
      if (!/^(run-script|run|test|exec|install|update|create-project)$/.test(sub)) return [];
      return run(
        inDir(optValue(a, ['-d'], ['--working-dir']), 'composer.json'),
        `composer ${sub} runs the project's scripts`,
      );
    }
    case 'mix':
    case 'sbt':
    case 'lein':
    case 'stack':
    case 'cabal':
    case 'swift':
    case 'dune':
    case 'bazel':
    case 'bazelisk':
    case 'meson':
    case 'scons':
    case 'ninja':
    case 'cmake':
    case 'zig': {
      const { sub } = subcommand(a, ['-C', '-B', '-S', '-G', '-D', '-f']);
      if (has(/^(--version|-version|--help|-h|-n|--dry-run|--list|-t)$/) && !has(/^--build$/)) return [];
      if (v.prog === 'cmake' && !has(/^(--build|-S|-B|-P|--install)$/) && !a.some((w) => !w.text.startsWith('-')))
        return [];
      if (
        /^(mix|sbt|lein|stack|cabal|swift|dune|zig)$/.test(v.prog) &&
        !/^(run|test|exec|build|compile|bench|phx\.server|repl|ecto\.\w+)$/.test(sub)
      )
        return [];
      if (/^(bazel|bazelisk)$/.test(v.prog) && !/^(run|test|build|coverage)$/.test(sub)) return [];
      return run('.', `${v.prog} runs the project's build or code`);
    }
    case 'java':
      if (
        has(/^(-version|--version|-help|--help|-h|-\?|-showversion|--list-modules|-XshowSettings.*)$/) &&
        !has(/^-jar$/)
      )
        return [];
      if (!a.some((w) => !w.text.startsWith('-'))) return [];
      return run(
        optValue(a, ['-jar'], []) ??
          a.find((w) => !w.text.startsWith('-') && !/^(-cp|-classpath)$/.test(w.text))?.text ??
          '.',
        'java runs a program',
      );
    default:
      return [];
  }
}

/** A program run by an explicit path outside the system directories (`./deploy`, `/opt/app/run.sh`): a script or binary the guard cannot read. */
const TRUSTED_DIR = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;
export function pathProgramRule(v: View, env: RuleEnv): Finding[] {
  // A "path" with blanks is a quoted command line read as one word (watch's and ssh's raw reading), not a file anyone runs.
  if (!v.path.includes('/') || TRUSTED_DIR.test(v.path) || /\s/.test(v.path)) return [];
  return scriptFinding(v, v.path, `runs the program ${v.path}`, env);
}

/* ---------------- options that run commands ---------------- */

/** Compressors tar and sort may run: plain names with flags only. */
const COMPRESSOR =
  /^(\/usr\/bin\/|\/bin\/)?(gzip|pigz|bzip2|pbzip2|lbzip2|xz|pxz|pixz|zstd|pzstd|unzstd|lz4|lzip|plzip|lzop|brotli|lzma|compress|gunzip|bunzip2|unxz)(\s+-[-\w=.]+)*$/;
const PLAIN_PAGER = /^(cat|less|more|most|bat)(\s+-[-\w=]+)*$/;

/** Approvals for options that run commands (item 0); the commands themselves are judged through the analyzer. */
export function optionCommandRule(v: View, env: RuleEnv): Finding[] {
  const a = v.args;
  const t = a.map((w) => w.text);
  const out: Finding[] = [];
  const val = (short: readonly string[], long: readonly string[]): string | undefined => optValue(a, short, long);
  switch (v.prog) {
    case 'zip':
      if (val(['-TT'], ['--unzip-command']) !== undefined)
        out.push(ap('exec.option-command', 'zip -TT runs a command to test the archive', v));
      break;
    case 'gdb':
    case 'lldb': {
      const cmds = [
        ...valuesOf(
          a,
          ['-ex', '--ex', '-iex', '--iex', '-eval-command', '-init-eval-command', '-o', '-O', '-k', '-K'],
          ['--eval-command', '--init-eval-command', '--one-line', '--one-line-before-file', '--one-line-on-crash'],
        ),
      ];
      if (cmds.some((c) => gdbShell(c) !== undefined || /^\s*(platform\s+)?shell\b/.test(c)))
        out.push(ap('exec.option-command', `${v.prog} runs a shell command`, v));
      if (
        cmds.some((c) =>
          /^\s*(python|py|pi|python-interactive|guile|gu|script|call|print|p|compile|source)\b|\(/.test(c),
        )
      )
        out.push(
          ap('exec.interpreter-code', `${v.prog} runs code (python, a call, or a script) the guard cannot judge`, v),
        );
      if (val(['-x', '-ix', '-s'], ['--command', '--init-command', '--source', '-command']) !== undefined)
        out.push(unreadable(v, `${v.prog} runs a command file the guard cannot read`, env));
      if (val(['-p'], ['--pid', '-pid', '--attach-pid']) !== undefined || t.includes('attach'))
        out.push(
          ap(
            'proc.debug-attach',
            `${v.prog} attaches to a running process (reads its memory, secrets included, and can change it)`,
            v,
          ),
        );
      break;
    }
    case 'man': {
      const p = val(['-P', '-H'], ['--pager', '--html']);
      if (p !== undefined && !PLAIN_PAGER.test(p.trim()))
        out.push(ap('exec.option-command', 'man runs a pager or browser command', v));
      break;
    }
    case 'less':
    case 'more':
    case 'most':
      if (t.some((x) => /^\+{1,2}:*(!|\|.)/.test(x)))
        out.push(ap('exec.option-command', `${v.prog} +! runs a shell command`, v));
      break;
    case 'rsync': {
      const e =
        val(['-e'], ['--rsh']) ??
        (t.find((x, i) => /^-[a-zA-Z]+e$/.test(x) && i + 1 < t.length)
          ? t[t.findIndex((x) => /^-[a-zA-Z]+e$/.test(x)) + 1]
          : undefined);
      if (
        e !== undefined &&
        !(/^(ssh|rsh)\b/.test(e.trim()) && !/Proxy|LocalCommand|KnownHostsCommand|[;&|`$]/.test(e))
      )
        out.push(ap('exec.option-command', 'rsync -e runs a command as its remote shell', v));
      const rp = val([], ['--rsync-path']);
      if (rp !== undefined && !/^(\S*\/)?rsync$/.test(rp.trim()))
        out.push(ap('exec.option-command', `rsync --rsync-path runs ${rp} on the remote host`, v));
      break;
    }
    case 'scp':
    case 'sftp':
      if (val(['-S', '-D'], []) !== undefined)
        out.push(ap('exec.option-command', `${v.prog} -S/-D runs a program in place of ssh or the sftp server`, v));
      if (sshCommandOption(a))
        out.push(ap('exec.ssh-local-command', `${v.prog} option runs a local command (ProxyCommand/LocalCommand)`, v));
      break;
    case 'sort': {
      const p = val([], ['--compress-program']);
      if (p !== undefined && !COMPRESSOR.test(p.trim()))
        out.push(ap('exec.option-command', 'sort --compress-program runs a program', v));
      break;
    }
    case 'tar':
    case 'gtar':
    case 'bsdtar': {
      // A compressor named by -I/--use-compress-program is routine; any other command option is not.
      const compress = valuesOf(a, v.prog === 'bsdtar' ? [] : ['-I'], ['--use-compress-program']);
      const other = valuesOf(a, v.prog === 'bsdtar' ? [] : ['-F'], [
        '--to-command',
        '--info-script',
        '--new-volume-script',
        '--rsh-command',
      ]);
      if (
        other.length ||
        compress.some((c) => !COMPRESSOR.test(c.trim())) ||
        t.some((x) => /^--checkpoint-action=(exec|shell)=/.test(x))
      )
        out.push(ap('exec.tar-command', 'tar option runs a command', v));
      break;
    }
    case 'git': {
      const { sub, index } = subcommand(a, GIT_VALUE_OPTS);
      const rest = a.slice(index + 1);
      const r = rest.map((w) => w.text);
      if (t.some((x) => /^--exec-path=?/.test(x)) && !t.includes('--exec-path'))
        out.push(ap('exec.option-command', 'git --exec-path runs git commands from another directory', v));
      if (t.some((x) => /^--config-env/.test(x)))
        out.push(
          ap('exec.option-command', 'git --config-env sets configuration (possibly a command) from the environment', v),
        );
      if (
        /^(clone|fetch|pull|ls-remote|fetch-pack)$/.test(sub) &&
        (r.some((x) => /^--upload-pack/.test(x)) || (/^(clone|ls-remote)$/.test(sub) && r.includes('-u')))
      )
        out.push(ap('exec.option-command', `git ${sub} --upload-pack runs a command`, v));
      if (
        r.some((x) => /^ext::/.test(x)) ||
        t.some((x, i) => t[i - 1] === '-c' && /^protocol\.(ext\.)?allow=always$/i.test(x))
      )
        out.push(ap('exec.option-command', 'git ext:: transport runs a command', v));
      if (sub === 'submodule' && r.includes('foreach'))
        out.push(ap('exec.option-command', 'git submodule foreach runs a command in every submodule', v));
      if (sub === 'bisect' && r[0] === 'run') out.push(ap('exec.option-command', 'git bisect run runs a command', v));
      if (/^(difftool|mergetool)$/.test(sub) && r.some((x) => x === '-x' || /^--extcmd/.test(x)))
        out.push(ap('exec.option-command', `git ${sub} --extcmd runs a command`, v));
      if (sub === 'grep' && r.some((x) => /^(-O|--open-files-in-pager)/.test(x)))
        out.push(ap('exec.option-command', 'git grep -O runs a pager command', v));
      if (sub === 'send-email' && r.some((x) => /^--(sendmail-cmd|smtp-server=\/)/.test(x)))
        out.push(ap('exec.option-command', 'git send-email runs a mail command', v));
      if (sub === 'archive' && r.some((x) => /^--exec/.test(x)))
        out.push(ap('exec.option-command', 'git archive --exec runs a command', v));
      if (sub === 'filter-branch')
        for (const x of r)
          if (/^--[a-z-]+-filter$|^--setup$/.test(x)) {
            out.push(ap('exec.option-command', `git filter-branch ${x} runs a command`, v));
            break;
          }
      break;
    }
    case 'vi':
    case 'vim':
    case 'nvim':
    case 'ex':
    case 'view':
    case 'rvim':
    case 'gvim':
    case 'vimdiff': {
      for (const [i, x] of t.entries()) {
        const cmd =
          x === '-c' || x === '--cmd'
            ? t[i + 1]
            : x.startsWith('+') && !/^\+\d*$/.test(x) && !x.startsWith('+/')
              ? x.slice(1)
              : undefined;
        if (cmd === undefined) continue;
        if (exShell(cmd).length || /(^|[|:\s])(sh(ell)?|ter(m(inal)?)?)\b/.test(cmd))
          out.push(ap('exec.editor-command', `${v.prog} runs a shell command`, v));
        if (EX_INTERPRETER.test(cmd))
          out.push(ap('exec.interpreter-code', `${v.prog} runs code or a script the guard cannot judge`, v));
      }
      if (
        val(['-S', '-u', '-s', '-W'], []) !== undefined &&
        !/^(NONE|NORC|DEFAULTS)$/.test(val(['-S', '-u', '-s', '-W'], []) ?? '')
      )
        out.push(unreadable(v, `${v.prog} runs a script file the guard cannot read`, env));
      break;
    }
    case 'emacs':
      if (t.some((x) => /^(--?eval(=|$)|-l$|--load(=|$)|-f$|--funcall(=|$)|--script(=|$)|-x$)/.test(x)))
        out.push(ap('exec.interpreter-code', 'emacs evaluates Lisp code the guard cannot judge', v));
      break;
    case 'strace':
    case 'ltrace':
      if (valuesOf(a, ['-o'], ['--output']).some((x) => /^[|!]/.test(x)))
        out.push(ap('exec.option-command', `${v.prog} -o |CMD pipes the trace into a command`, v));
      if (val(['-p'], ['--attach']) !== undefined)
        out.push(
          ap('proc.debug-attach', `${v.prog} attaches to a running process (reads what it does, secrets included)`, v),
        );
      break;
    case 'gh':
      if (
        t[0] === 'alias' &&
        t[1] === 'set' &&
        (t.includes('--shell') || t.includes('-s') || t.some((x) => x.startsWith('!')))
      )
        out.push(ap('exec.option-command', 'gh alias set --shell defines a command that runs a shell string', v));
      break;
    case 'wget':
      if (val([], ['--use-askpass']) !== undefined)
        out.push(ap('exec.option-command', 'wget --use-askpass runs a program', v));
      break;
    default:
      break;
  }
  return out;
}

function valuesOf(args: readonly Word[], short: readonly string[], long: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    const next = args[i + 1];
    if (t === '--') break;
    let hit = false;
    for (const s of short) {
      if (t === s && next) {
        out.push(next.text);
        i++;
        hit = true;
        break;
      }
      if (t.startsWith(s) && t.length > s.length && !t.startsWith('--')) {
        out.push(t.slice(s.length));
        hit = true;
        break;
      }
    }
    if (hit) continue;
    for (const l of long) {
      if (t === l && next) {
        out.push(next.text);
        i++;
        break;
      }
      if (t.startsWith(l + '=')) {
        out.push(t.slice(l.length + 1));
        break;
      }
    }
  }
  return out;
}

/** `-o ProxyCommand=…` and friends among ssh-style options. */
export function sshCommandOption(args: readonly Word[]): boolean {
  for (const [i, w] of args.entries()) {
    const t = w.text;
    const opt = t === '-o' ? (args[i + 1]?.text ?? '') : t.startsWith('-o') ? t.slice(2) : '';
    if (/^\s*(ProxyCommand|LocalCommand|KnownHostsCommand|PermitLocalCommand)\s*(=|\s)\s*(?!none\b)\S/i.test(opt))
      return true;
  }
  return false;
}
