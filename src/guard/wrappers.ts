import { execEnvEntry } from '../core/index.js';
import { parseOpts, progName, type View } from './argv.js';
import { finding, type Finding } from './types.js';
import { commandVarCode, hookCode } from './shell-code.js';
import { dynamicWord, literalWord, type Word } from './words.js';

/**
 * Wrappers: programs that run another argv (`sudo rm …`) or a shell string (`bash -c '…'`).
 * The inner argv is analysed like a top-level command; shell strings are re-parsed (depth-limited
 * by the analyzer). A fixed 8-item unwrap list is a known bypass (Claude Code #92542), so the
 * table is broad, and unknown programs whose arguments contain a dangerous argv are caught by the
 * analyzer's embedded-argv scan.
 */
export interface Unwrapped {
  argvs: Word[][];
  /** Shell source to re-parse (dynamic strings cannot be: approve instead). */
  scripts: { text: string; dynamic: boolean }[];
  findings: Finding[];
}

/**
 * watch and ssh join their arguments with spaces and hand them to a shell, so quoting is lost.
 * Analyse both the joined text (what really runs) and the raw source (what was meant).
 */
function pushJoined(u: Unwrapped, ws: Word[]): void {
  const dynamic = ws.some((w) => w.dynamic);
  const joined = ws.map((w) => w.text).join(' ');
  const raw = ws.map((w) => w.raw).join(' ');
  u.scripts.push({ text: joined, dynamic });
  if (raw !== joined) u.scripts.push({ text: raw, dynamic });
}

const none = (): Unwrapped => ({ argvs: [], scripts: [], findings: [] });

export const SHELLS = new Set([
  'bash',
  'sh',
  'zsh',
  'dash',
  'ksh',
  'mksh',
  'ash',
  'fish',
  'csh',
  'tcsh',
  'rbash',
  'yash',
  'posh',
]);

/** Skips leading NAME=value words (env, sudo) and returns the rest. */
function skipAssigns(ws: Word[]): { rest: Word[]; assigns: Word[] } {
  let i = 0;
  while (i < ws.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[i]!.text)) i++;
  return { rest: ws.slice(i), assigns: ws.slice(0, i) };
}

function rest(args: Word[], o: { posIdx: number[] }, skip = 0): Word[] {
  const i = o.posIdx[skip];
  return i === undefined ? [] : args.slice(i);
}

/** Runs the argv after options; `valueShort`/`valueLong` list options taking a value. */
function simple(v: View, valueShort: string, valueLong: readonly string[] = [], skipPositional = 0): Unwrapped {
  const o = parseOpts(v.args, valueShort, valueLong, true);
  const u = none();
  const inner = rest(v.args, o, skipPositional);
  if (inner.length) u.argvs.push(inner);
  return u;
}

function shellScriptArgs(v: View): Unwrapped {
  const u = none();
  // bash [-abefhkmnptuvxBCHP] [-o opt] [-O opt] [--rcfile f] -c STRING [name [args]] | [script [args]]
  let i = 0;
  let cmdString = false;
  const args = v.args;
  for (; i < args.length; i++) {
    const a = args[i]!.text;
    if (a === '--' || a === '-') {
      i++;
      break;
    }
    if (a === '--rcfile' || a === '--init-file' || a === '-o' || a === '-O' || a === '+O' || a === '+o') {
      i++;
      continue;
    }
    if (a.startsWith('--')) {
      if (a === '--command') cmdString = true;
      continue;
    }
    if (/^[-+][A-Za-z]+$/.test(a)) {
      if (a.startsWith('-') && a.includes('c')) cmdString = true;
      if (a.startsWith('-') && a.includes('i'))
        u.findings.push(finding('approve', 'exec.shell-interactive', 'starts an interactive shell', v.text));
      continue;
    }
    break;
  }
  // The command string, or the script operand (absent when the options run to the end).
  const s = args[i];
  if (cmdString) {
    if (!s)
      u.findings.push(finding('approve', 'parse.error', `${v.prog} -c without a command`, v.text, { floor: true }));
    else u.scripts.push({ text: s.text, dynamic: s.dynamic });
  } else if (s?.dynamic && !s.fields) {
    // `bash <(…)`, `sh "$F"`: a script whose name, and so whose content, is only known at run time.
    u.findings.push(
      finding('approve', 'exec.dynamic-script', `${v.prog} runs a script only known at run time (${s.raw})`, v.text, {
        floor: true,
      }),
    );
  }
  // A script read from standard input (`sh`, `bash -s`, `bash /dev/stdin`) is judged by the
  // analyzer's stdin rules (src/guard/stdin.ts), with heredocs and the caller's stdin alike.
  return u;
}

/** `NAME=value` words a wrapper puts in its program's environment that hijack execution (src/core/exec-env.ts). */
function hijackAssigns(assigns: readonly Word[]): string[] {
  const out: string[] = [];
  for (const a of assigns) {
    const name = a.text.slice(0, a.text.indexOf('='));
    if (execEnvEntry(name) && !(name === 'PATH' && /^PATH=\$\{?PATH\}?(:|$)/.test(a.raw.replace(/["']/g, ''))))
      out.push(name);
  }
  return out;
}

/**
 * `NAME=value` words a wrapper puts in its program's environment whose value is code: prompt and
 * hook variables (`env PS4='$(CMD)' bash -x …`) and commands tools run (`sudo LESSOPEN='|CMD' less`).
 */
function assignScripts(u: Unwrapped, assigns: readonly Word[]): void {
  for (const a of assigns) {
    const eq = a.text.indexOf('=');
    const name = a.text.slice(0, eq);
    const value = a.text.slice(eq + 1);
    const e = hookCode(name, value, a.dynamic, name) ?? commandVarCode(name, value, a.dynamic);
    if (e) u.scripts.push({ text: e.text, dynamic: e.dynamic });
  }
}

/** The `NAME=value` words before a wrapper's command: hijacking variables are approve, code in them is judged. */
function envAssigns(u: Unwrapped, v: View, assigns: readonly Word[]): void {
  const hijack = hijackAssigns(assigns);
  if (hijack.length) {
    const why = `runs a command with ${hijack.join(', ')} set, which changes what code it loads or runs`;
    u.findings.push(finding('approve', 'exec.env-hijack', why, v.text));
  }
  assignScripts(u, assigns);
}

/* ------------------------- one handler per wrapper family ------------------------- */

/** How a wrapper's arguments become the argvs and shell strings it runs (undefined: it runs none here). */
type Unwrapper = (v: View) => Unwrapped | undefined;

/** A wrapper that runs the argv after its options (`valueShort`/`valueLong` take a value; `skip` operands first). */
const afterOptions =
  (valueShort = '', valueLong: readonly string[] = [], skip = 0): Unwrapper =>
  (v) =>
    simple(v, valueShort, valueLong, skip);

/**
 * Long options taking a value in any of the plain wrappers below (time --output/--format, stdbuf
 * --input/--output/--error, systemd-run --property/--setenv/--unit/--uid). The group shares one
 * list: reading an option's value as the command would hide the command that really runs.
 */
const PLAIN_VALUE_LONG: readonly string[] = ['output', 'format', 'input', 'error', 'property', 'setenv', 'unit', 'uid'];

const SUDO_VALUE_LONG = [
  'user',
  'group',
  'prompt',
  'chdir',
  'host',
  'close-from',
  'role',
  'type',
  'other-user',
  'command-timeout',
];

/** `sudo`, `doas`: NAME=value words, then the command; with no command, a root shell or an edit. */
function sudoCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'ugpCDhRTUrt', SUDO_VALUE_LONG, true);
  const u = none();
  const inner = skipAssigns(rest(v.args, o));
  envAssigns(u, v, inner.assigns);
  const [sh, ...shArgs] = inner.rest;
  if (sh) {
    u.argvs.push(inner.rest);
    // `sudo bash`, `doas sh -l`: a shell with no command string and no script is an interactive
    // root shell. Lines typed into it later carry no `sudo` for the guard to see: as `sudo -i`.
    const flagsOnly = shArgs.every((a) => /^(-[A-Za-z]*|--[a-z-]+)$/.test(a.text) && !/^-[A-Za-z]*c/.test(a.text));
    if (SHELLS.has(sh.text.slice(sh.text.lastIndexOf('/') + 1)) && flagsOnly) {
      u.findings.push(finding('approve', 'priv.root-shell', `opens a root shell (${sh.text})`, v.text));
    }
  } else if (o.short.has('i') || o.short.has('s') || o.long.has('login') || o.long.has('shell')) {
    u.findings.push(finding('approve', 'priv.root-shell', 'opens a root shell', v.text));
  } else if (o.short.has('e') || o.long.has('edit')) {
    u.findings.push(finding('approve', 'priv.sudoedit', 'edits a file as another user', v.text));
  }
  return u;
}

/** `su -c`, `runuser [-u USER] CMD…`, `sg GROUP CMD`: a command string or argv as another user, else a shell. */
function switchUser(v: View): Unwrapped {
  const o = parseOpts(
    v.args,
    'cgGsuw',
    ['command', 'group', 'supp-group', 'shell', 'user', 'whitelist-environment', 'session-command'],
    false,
  );
  const u = none();
  const c = o.values.get('c') ?? o.long.get('command') ?? o.long.get('session-command');
  if (c !== undefined) {
    const w = v.args.find((x) => x.text === c || x.text.endsWith(c));
    u.scripts.push({ text: c, dynamic: w?.dynamic ?? false });
  } else if (v.prog === 'runuser' && o.pos.length) u.argvs.push(o.pos);
  else if (v.prog === 'sg' && o.pos.length > 1)
    u.scripts.push({
      text: o.pos
        .slice(1)
        .map((w) => w.text)
        .join(' '),
      dynamic: o.pos.slice(1).some((w) => w.dynamic),
    });
  else u.findings.push(finding('approve', 'priv.root-shell', 'opens a shell as another user', v.text));
  return u;
}

/** `env [-S STRING] [NAME=value…] CMD…`: the split string is a command line of its own. */
function envCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'uCS', ['unset', 'chdir', 'split-string'], true);
  const u = none();
  const split = o.values.get('S') ?? o.long.get('split-string');
  if (split !== undefined) u.scripts.push({ text: split, dynamic: false });
  const inner = skipAssigns(rest(v.args, o));
  envAssigns(u, v, inner.assigns);
  if (inner.rest.length) u.argvs.push(inner.rest);
  return u;
}

/** `command CMD…` runs CMD; `command -v`/`-V` only says what CMD is. */
function commandBuiltin(v: View): Unwrapped {
  if (v.args.some((a) => a.text === '-v' || a.text === '-V')) return none();
  return simple(v, '');
}

/** `flock [opts] FILE -c STRING` or `flock [opts] FILE CMD ARGS…` (-c may also precede FILE). */
function flockCommand(v: View): Unwrapped {
  const u = none();
  let i = 0;
  let script: Word | undefined;
  for (; i < v.args.length; i++) {
    const t = v.args[i]!.text;
    if (t === '-c' || t === '--command') {
      script = v.args[++i];
      continue;
    }
    if (t === '-w' || t === '-E' || t === '--timeout' || t === '--conflict-exit-code') {
      i++;
      continue;
    }
    if (t.startsWith('-')) continue;
    break;
  }
  const after = v.args.slice(i + 1);
  if (!script && (after[0]?.text === '-c' || after[0]?.text === '--command')) script = after[1];
  if (script) {
    u.scripts.push({ text: script.text, dynamic: script.dynamic });
    return u;
  }
  if (after.length) u.argvs.push(after);
  return u;
}

/** `script -c STRING`: a command line run under a recorded terminal (without -c, an interactive shell). */
function scriptCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'cEtIOBT', ['command', 'log-out', 'log-in', 'timing'], false);
  const u = none();
  const c = o.values.get('c') ?? o.long.get('command');
  if (c !== undefined) u.scripts.push({ text: c, dynamic: false });
  return u;
}

/** watch passes its arguments to `sh -c` joined by spaces (unless -x). */
function watchCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'nd', ['interval', 'differences'], true);
  const u = none();
  const inner = rest(v.args, o);
  if (!inner.length) return u;
  if (o.short.has('x') || o.long.has('exec')) u.argvs.push(inner);
  else pushJoined(u, inner);
  return u;
}

const XARGS_VALUE_LONG = [
  'replace',
  'max-lines',
  'max-args',
  'max-procs',
  'delimiter',
  'eof',
  'max-chars',
  'arg-file',
  'process-slot-var',
];

/** xargs appends input it reads: an unknown (dynamic) argument at the end (`echo` when no command is given). */
function xargsCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'IiLlnPdEsa', XARGS_VALUE_LONG, true);
  const u = none();
  const inner = rest(v.args, o);
  u.argvs.push(
    inner.length ? [...inner, dynamicWord('{xargs input}')] : [literalWord('echo'), dynamicWord('{xargs input}')],
  );
  return u;
}

/** parallel runs the command through a shell once per input, appended (or in place of {}). */
function parallelCommand(v: View): Unwrapped {
  const u = none();
  const sep = v.args.findIndex((a) => a.text === ':::' || a.text === '::::' || a.text === ':::+');
  const cmd = (sep < 0 ? v.args : v.args.slice(0, sep)).filter(
    (a, i, arr) => !a.text.startsWith('-') || arr.slice(0, i).some((b) => !b.text.startsWith('-')),
  );
  const inputs =
    sep < 0
      ? []
      : v.args
          .slice(sep + 1)
          .filter((a) => !/^:::/.test(a.text))
          .slice(0, 8);
  const script = cmd.map((w) => w.text).join(' ');
  if (cmd.length) {
    const runs = inputs.length
      ? inputs.map((i) => (script.includes('{}') ? script.split('{}').join(i.text) : `${script} ${i.text}`))
      : [`${script} __PARALLEL_ARG__`];
    for (const r of runs)
      u.scripts.push({ text: r, dynamic: cmd.some((w) => w.dynamic) || inputs.some((i) => i.dynamic) });
  }
  return u;
}

/** `ssh HOST CMD…`: the remote command line (joined, as ssh does); options that run local commands. */
function sshCommand(v: View): Unwrapped {
  const o = parseOpts(v.args, 'BbcDEeFIiJLlmOopQRSWw', [], true);
  const u = none();
  const opts = [...v.args.filter((a) => /^-o/.test(a.text)).map((a) => a.text), ...v.args.map((a) => a.text)].join(' ');
  if (/ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|ProxyUseFdpass/i.test(opts)) {
    u.findings.push(
      finding(
        'approve',
        'exec.ssh-local-command',
        'ssh option runs a local command (ProxyCommand/LocalCommand)',
        v.text,
      ),
    );
  }
  const remote = rest(v.args, o, 1);
  if (o.pos.length === 0) return u;
  if (!remote.length) {
    u.findings.push(finding('approve', 'exec.ssh-interactive', 'opens an interactive remote shell', v.text));
    return u;
  }
  pushJoined(u, remote);
  return u;
}

/** `docker exec [opts] CTR CMD…` (podman, nerdctl alike); other subcommands are not wrappers. */
function containerExec(v: View): Unwrapped | undefined {
  const sub = v.args[0]?.text;
  if (sub !== 'exec') return undefined;
  const o = parseOpts(v.args.slice(1), 'euw', ['env', 'user', 'workdir', 'env-file', 'detach-keys'], true);
  const u = none();
  const inner = rest(v.args.slice(1), o, 1);
  if (inner.length) u.argvs.push(inner);
  return u;
}

/** `kubectl exec … -- CMD…` (oc alike): the argv after `--`; other forms are not wrappers. */
function kubectlExec(v: View): Unwrapped | undefined {
  const dd = v.args.findIndex((a) => a.text === '--');
  if (!v.args.some((a) => a.text === 'exec') || dd < 0) return undefined;
  const u = none();
  const inner = v.args.slice(dd + 1);
  if (inner.length) u.argvs.push(inner);
  return u;
}

/** `find … -exec CMD… ;` (and -execdir, -ok, -okdir): each command, `{}` being each found path. */
function findExec(v: View): Unwrapped {
  const u = none();
  // When find starts at / or ~, `{}` is (at least) that root.
  const root = v.args.find((a) => !a.text.startsWith('-') && a.text !== '!' && a.text !== '(');
  const rootIsTop = root && !root.dynamic && /^(\/+|~\/?|\$HOME\/?)$/.test(root.text);
  for (let i = 0; i < v.args.length; i++) {
    const a = v.args[i]!.text;
    if (a === '-exec' || a === '-execdir' || a === '-ok' || a === '-okdir') {
      const inner: Word[] = [];
      let j = i + 1;
      for (; j < v.args.length; j++) {
        const w = v.args[j]!;
        if (w.text === ';' || w.text === '+') break;
        inner.push(w.text === '{}' && rootIsTop && root ? root : w.text.includes('{}') ? dynamicWord(w.text) : w);
      }
      if (inner.length) u.argvs.push(inner);
      i = j;
    }
  }
  return u;
}

/* ------------------------------ the wrapper table ------------------------------ */

/**
 * Where a wrapper runs its command. `here`: the same host and user, so the program is judged as
 * the inner command (nice, timeout, xargs, watch, env, exec …). `privileged`: the inner command
 * runs as another user (sudo, doas, su, runuser, sg): judged like `here`, plus the policy's
 * `sudo_requires_approval`. `elsewhere`: the command runs on another host, container, namespace
 * or under another service manager (ssh, docker exec, kubectl exec, chroot, systemd-run …): not
 * harmless whatever it runs, so the unknown verdict applies.
 */
export type WrapperWhere = 'here' | 'privileged' | 'elsewhere';
/** `inherits`: the program inherits the caller's environment unchanged (variables known outside stay known inside). */
export interface WrapperInfo {
  readonly where: WrapperWhere;
  readonly inherits: boolean;
}
interface Wrapper extends WrapperInfo {
  readonly unwrap: Unwrapper;
}

/** The same host, user and environment as the caller. */
const HERE: WrapperInfo = { where: 'here', inherits: true };
/** Here, but the program may set, clear or replace the environment its command sees. */
const HERE_OWN_ENV: WrapperInfo = { where: 'here', inherits: false };
const PRIVILEGED: WrapperInfo = { where: 'privileged', inherits: false };
const ELSEWHERE: WrapperInfo = { where: 'elsewhere', inherits: false };

/**
 * Program name -> how it runs its command and how to unwrap it: the one wrapper table. The
 * analyzer, the data-flow roles (src/guard/analyze.ts) and the known-program table's help forms
 * (src/guard/known-programs.ts) all read it, so a wrapper is never known to one and not another.
 * Shells are not in it: they run shell strings, not argvs (shellScriptArgs, SHELLS).
 */
const WRAPPERS = new Map<string, Wrapper>();
const wrap = (names: string, info: WrapperInfo, unwrap: Unwrapper): void => {
  for (const n of names.split(/\s+/)) {
    if (!n) continue;
    // Two handlers for one name would leave one of them silently unused.
    if (WRAPPERS.has(n)) throw new Error(`wrapper ${n} is registered twice`);
    WRAPPERS.set(n, { ...info, unwrap });
  }
};

/* ---- as another user ---- */
wrap('sudo doas', PRIVILEGED, sudoCommand);
wrap('su runuser sg', PRIVILEGED, switchUser);

/* ---- the same host and user ---- */
wrap('env', HERE_OWN_ENV, envCommand);
wrap('nice', HERE, afterOptions('n', ['adjustment']));
wrap('ionice', HERE, afterOptions('cnpPu', ['class', 'classdata', 'pid', 'pgid', 'uid']));
wrap('timeout', HERE, afterOptions('sk', ['signal', 'kill-after'], 1));
// taskset MASK CMD, taskset -c LIST CMD, chrt PRIO CMD: the first operand is not the command.
wrap('taskset chrt', HERE, afterOptions('', [], 1));
wrap('strace ltrace', HERE, afterOptions('oeEpsSuPaXI', ['output']));
wrap('time', HERE, afterOptions('fo', PLAIN_VALUE_LONG));
wrap('stdbuf', HERE, afterOptions('ioe', PLAIN_VALUE_LONG));
const plain = afterOptions('', PLAIN_VALUE_LONG);
wrap('nohup setsid builtin caffeinate unbuffer rlwrap torsocks proxychains proxychains4 catchsegv', HERE, plain);
wrap('chronic ifne pv valgrind nocache eatmydata fakeroot then do coproc', HERE, plain);
wrap('firejail dbus-run-session xvfb-run', HERE_OWN_ENV, plain);
wrap('command', HERE, commandBuiltin);
wrap('exec', HERE_OWN_ENV, afterOptions('a'));
wrap('busybox', HERE_OWN_ENV, afterOptions());
wrap('sshpass', HERE_OWN_ENV, afterOptions('pfde'));
wrap('flock', HERE, flockCommand);
wrap('script', HERE, scriptCommand);
wrap('watch', HERE, watchCommand);
wrap('xargs', HERE, xargsCommand);
wrap('parallel', HERE_OWN_ENV, parallelCommand);
wrap('find', HERE, findExec);

/* ---- another host, container, root or service manager ---- */
wrap('ssh', ELSEWHERE, sshCommand);
wrap('docker podman nerdctl', ELSEWHERE, containerExec);
wrap('kubectl oc', ELSEWHERE, kubectlExec);
wrap('chroot', ELSEWHERE, afterOptions('', ['userspec', 'groups'], 1));
wrap('nsenter', ELSEWHERE, afterOptions('tSGw', ['target', 'setuid', 'setgid', 'wd']));
wrap('unshare', ELSEWHERE, afterOptions('', ['map-user', 'map-group', 'setuid', 'setgid', 'wd']));
wrap('systemd-run', ELSEWHERE, afterOptions('pEu', PLAIN_VALUE_LONG));

/** Every wrapper name (shells aside): the table's keys. */
export const WRAPPER_PROGS: ReadonlySet<string> = new Set(WRAPPERS.keys());

/** Wrappers whose program inherits the caller's environment unchanged. */
export const ENV_INHERITING: ReadonlySet<string> = new Set([...WRAPPERS].filter(([, w]) => w.inherits).map(([n]) => n));

/** How a wrapper runs its command, or undefined for a program that is not one (shells included). */
export function wrapperInfo(prog: string): WrapperInfo | undefined {
  return WRAPPERS.get(prog);
}

/** What a wrapper or shell runs, or undefined for any other program (and `docker ps`, `kubectl get` …). */
export function unwrap(v: View): Unwrapped | undefined {
  const w = WRAPPERS.get(v.prog);
  if (w) return w.unwrap(v);
  return SHELLS.has(v.prog) ? shellScriptArgs(v) : undefined;
}

/** Whether `p` is in the wrapper table or is a shell. */
export function isWrapperProg(p: string): boolean {
  return WRAPPERS.has(p) || SHELLS.has(p);
}

export { progName };
