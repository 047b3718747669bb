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

export const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh', 'rbash', 'yash', 'posh']);

/** Skips leading NAME=value words (env, sudo) and returns the rest. */
function skipAssigns(ws: Word[]): { rest: Word[]; assigns: Word[] } {
  let i = 0;
  while (i < ws.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[i].text)) i++;
  return { rest: ws.slice(i), assigns: ws.slice(0, i) };
}

function rest(args: Word[], o: { posIdx: number[] }, skip = 0): Word[] {
  const i = o.posIdx[skip];
  return i === undefined ? [] : args.slice(i);
}

/** Runs the argv after options; `valueShort`/`valueLong` list options taking a value. */
function simple(v: View, valueShort: string, valueLong: string[] = [], skipPositional = 0): Unwrapped {
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
    const a = args[i].text;
    if (a === '--' || a === '-') { i++; break; }
    if (a === '--rcfile' || a === '--init-file' || a === '-o' || a === '-O' || a === '+O' || a === '+o') { i++; continue; }
    if (a.startsWith('--')) { if (a === '--command') cmdString = true; continue; }
    if (/^[-+][A-Za-z]+$/.test(a)) {
      if (a.startsWith('-') && a.includes('c')) cmdString = true;
      if (a.startsWith('-') && a.includes('i')) u.findings.push(finding('approve', 'exec.shell-interactive', 'starts an interactive shell', v.text));
      continue;
    }
    break;
  }
  if (cmdString) {
    const s = args[i];
    if (!s) u.findings.push(finding('approve', 'parse.error', `${v.prog} -c without a command`, v.text, { floor: true }));
    else u.scripts.push({ text: s.text, dynamic: s.dynamic });
  } else if (args[i]?.dynamic && !args[i].fields) {
    // `bash <(…)`, `sh "$F"`: a script whose name, and so whose content, is only known at run time.
    u.findings.push(finding('approve', 'exec.dynamic-script', `${v.prog} runs a script only known at run time (${args[i].raw})`, v.text, { floor: true }));
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
    if (execEnvEntry(name) && !(name === 'PATH' && /^PATH=\$\{?PATH\}?(:|$)/.test(a.raw.replace(/["']/g, '')))) out.push(name);
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

/**
 * Every `case` label of unwrap()'s switch. Any other program (shells aside) is not a wrapper, and
 * unwrap answers without walking ~60 string comparisons. A test checks this list against the
 * switch's labels in this file, so the two cannot drift apart.
 */
export const WRAPPER_PROGS: ReadonlySet<string> = new Set([
  'sudo', 'doas', 'su', 'runuser', 'sg', 'env', 'nice', 'ionice', 'nohup', 'setsid', 'builtin', 'caffeinate', 'unbuffer', 'rlwrap',
  'torsocks', 'proxychains', 'proxychains4', 'catchsegv', 'dbus-run-session', 'xvfb-run', 'time', 'stdbuf', 'chronic', 'ifne', 'pv',
  'systemd-run', 'firejail', 'valgrind', 'nocache', 'eatmydata', 'fakeroot', 'then', 'do', 'timeout', 'taskset', 'chrt', 'chroot',
  'nsenter', 'unshare', 'strace', 'ltrace', 'busybox', 'command', 'exec', 'sshpass', 'flock', 'script', 'watch', 'xargs', 'parallel',
  'ssh', 'docker', 'podman', 'nerdctl', 'kubectl', 'oc', 'find', 'coproc',
]);

export function unwrap(v: View): Unwrapped | undefined {
  if (!WRAPPER_PROGS.has(v.prog) && !SHELLS.has(v.prog)) return undefined;
  switch (v.prog) {
    case 'sudo': case 'doas': {
      const o = parseOpts(v.args, 'ugpCDhRTUrt', ['user', 'group', 'prompt', 'chdir', 'host', 'close-from', 'role', 'type', 'other-user', 'command-timeout'], true);
      const u = none();
      const inner = skipAssigns(rest(v.args, o));
      const hijack = hijackAssigns(inner.assigns);
      if (hijack.length) u.findings.push(finding('approve', 'exec.env-hijack', `runs a command with ${hijack.join(', ')} set, which changes what code it loads or runs`, v.text));
      assignScripts(u, inner.assigns);
      if (inner.rest.length) {
        u.argvs.push(inner.rest);
        // `sudo bash`, `doas sh -l`: a shell with no command string and no script is an interactive
        // root shell. Lines typed into it later carry no `sudo` for the guard to see: as `sudo -i`.
        const [sh, ...shArgs] = inner.rest;
        if (SHELLS.has(sh.text.slice(sh.text.lastIndexOf('/') + 1)) && shArgs.every((a) => /^(-[A-Za-z]*|--[a-z-]+)$/.test(a.text) && !/^-[A-Za-z]*c/.test(a.text))) {
          u.findings.push(finding('approve', 'priv.root-shell', `opens a root shell (${sh.text})`, v.text));
        }
      } else if (o.short.has('i') || o.short.has('s') || o.long.has('login') || o.long.has('shell')) u.findings.push(finding('approve', 'priv.root-shell', 'opens a root shell', v.text));
      else if (o.short.has('e') || o.long.has('edit')) u.findings.push(finding('approve', 'priv.sudoedit', 'edits a file as another user', v.text));
      return u;
    }
    case 'su': case 'runuser': case 'sg': {
      const o = parseOpts(v.args, 'cgGsuw', ['command', 'group', 'supp-group', 'shell', 'user', 'whitelist-environment', 'session-command'], false);
      const u = none();
      const c = o.values.get('c') ?? o.long.get('command') ?? o.long.get('session-command');
      if (c !== undefined) {
        const w = v.args.find((x) => x.text === c || x.text.endsWith(c));
        u.scripts.push({ text: c, dynamic: w?.dynamic ?? false });
      } else if (v.prog === 'runuser' && o.pos.length) u.argvs.push(o.pos);
      else if (v.prog === 'sg' && o.pos.length > 1) u.scripts.push({ text: o.pos.slice(1).map((w) => w.text).join(' '), dynamic: o.pos.slice(1).some((w) => w.dynamic) });
      else u.findings.push(finding('approve', 'priv.root-shell', 'opens a shell as another user', v.text));
      return u;
    }
    case 'env': {
      const o = parseOpts(v.args, 'uCS', ['unset', 'chdir', 'split-string'], true);
      const u = none();
      const split = o.values.get('S') ?? o.long.get('split-string');
      if (split !== undefined) u.scripts.push({ text: split, dynamic: false });
      const inner = skipAssigns(rest(v.args, o));
      const hijack = hijackAssigns(inner.assigns);
      if (hijack.length) u.findings.push(finding('approve', 'exec.env-hijack', `runs a command with ${hijack.join(', ')} set, which changes what code it loads or runs`, v.text));
      assignScripts(u, inner.assigns);
      if (inner.rest.length) u.argvs.push(inner.rest);
      return u;
    }
    case 'nice': return simple(v, 'n', ['adjustment']);
    case 'ionice': return simple(v, 'cnpPu', ['class', 'classdata', 'pid', 'pgid', 'uid']);
    case 'nohup': case 'setsid': case 'builtin': case 'caffeinate': case 'unbuffer': case 'rlwrap': case 'torsocks': case 'proxychains': case 'proxychains4': case 'catchsegv': case 'dbus-run-session': case 'xvfb-run': case 'time': case 'stdbuf': case 'chronic': case 'ifne': case 'pv': case 'systemd-run': case 'firejail': case 'valgrind': case 'nocache': case 'eatmydata': case 'fakeroot': case 'then': case 'do': case 'coproc':
      return simple(v, v.prog === 'time' ? 'fo' : v.prog === 'stdbuf' ? 'ioe' : v.prog === 'systemd-run' ? 'pEu' : '', ['output', 'format', 'input', 'error', 'property', 'setenv', 'unit', 'uid']);
    case 'timeout': return simple(v, 'sk', ['signal', 'kill-after'], 1);
    case 'taskset': {
      const o = parseOpts(v.args, '', [], true);
      return simple(v, '', [], o.short.has('c') || o.short.has('p') || o.long.has('cpu-list') ? 1 : 1);
    }
    case 'chrt': return simple(v, '', [], 1);
    case 'chroot': return simple(v, '', ['userspec', 'groups'], 1);
    case 'nsenter': return simple(v, 'tSGw', ['target', 'setuid', 'setgid', 'wd']);
    case 'unshare': return simple(v, '', ['map-user', 'map-group', 'setuid', 'setgid', 'wd']);
    case 'strace': case 'ltrace': return simple(v, 'oeEpsSuPaXI', ['output']);
    case 'busybox': case 'command': case 'exec': {
      if (v.prog === 'command' && v.args.some((a) => a.text === '-v' || a.text === '-V')) return none();
      return simple(v, v.prog === 'exec' ? 'a' : '');
    }
    case 'sshpass': return simple(v, 'pfde', []);
    case 'flock': {
      // flock [opts] FILE -c STRING | flock [opts] FILE CMD ARGS…  (-c may also precede FILE)
      const u = none();
      let i = 0;
      let script: Word | undefined;
      for (; i < v.args.length; i++) {
        const t = v.args[i].text;
        if (t === '-c' || t === '--command') { script = v.args[++i]; continue; }
        if (t === '-w' || t === '-E' || t === '--timeout' || t === '--conflict-exit-code') { i++; continue; }
        if (t.startsWith('-')) continue;
        break;
      }
      const after = v.args.slice(i + 1);
      if (!script && (after[0]?.text === '-c' || after[0]?.text === '--command')) script = after[1];
      if (script) { u.scripts.push({ text: script.text, dynamic: script.dynamic }); return u; }
      if (after.length) u.argvs.push(after);
      return u;
    }
    case 'script': {
      const o = parseOpts(v.args, 'cEtIOBT', ['command', 'log-out', 'log-in', 'timing'], false);
      const u = none();
      const c = o.values.get('c') ?? o.long.get('command');
      if (c !== undefined) u.scripts.push({ text: c, dynamic: false });
      return u;
    }
    case 'watch': {
      const o = parseOpts(v.args, 'nd', ['interval', 'differences'], true);
      const u = none();
      const inner = rest(v.args, o);
      if (!inner.length) return u;
      // watch passes its arguments to `sh -c` joined by spaces (unless -x).
      if (o.short.has('x') || o.long.has('exec')) u.argvs.push(inner);
      else pushJoined(u, inner);
      return u;
    }
    case 'xargs': {
      const o = parseOpts(v.args, 'IiLlnPdEsa', ['replace', 'max-lines', 'max-args', 'max-procs', 'delimiter', 'eof', 'max-chars', 'arg-file', 'process-slot-var'], true);
      const u = none();
      const inner = rest(v.args, o);
      // xargs appends input it reads: an unknown (dynamic) argument at the end.
      u.argvs.push(inner.length ? [...inner, dynamicWord('{xargs input}')] : [literalWord('echo'), dynamicWord('{xargs input}')]);
      return u;
    }
    case 'parallel': {
      const u = none();
      const sep = v.args.findIndex((a) => a.text === ':::' || a.text === '::::' || a.text === ':::+');
      const cmd = (sep < 0 ? v.args : v.args.slice(0, sep)).filter((a, i, arr) => !a.text.startsWith('-') || arr.slice(0, i).some((b) => !b.text.startsWith('-')));
      const inputs = sep < 0 ? [] : v.args.slice(sep + 1).filter((a) => !/^:::/.test(a.text)).slice(0, 8);
      const script = cmd.map((w) => w.text).join(' ');
      if (cmd.length) {
        // parallel runs the command through a shell once per input, appended (or in place of {}).
        const runs = inputs.length ? inputs.map((i) => (script.includes('{}') ? script.split('{}').join(i.text) : `${script} ${i.text}`)) : [`${script} __PARALLEL_ARG__`];
        for (const r of runs) u.scripts.push({ text: r, dynamic: cmd.some((w) => w.dynamic) || inputs.some((i) => i.dynamic) });
      }
      return u;
    }
    case 'ssh': {
      const o = parseOpts(v.args, 'BbcDEeFIiJLlmOopQRSWw', [], true);
      const u = none();
      const opts = [...(v.args.filter((a) => /^-o/.test(a.text)).map((a) => a.text)), ...v.args.map((a) => a.text)].join(' ');
      if (/ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|ProxyUseFdpass/i.test(opts)) {
        u.findings.push(finding('approve', 'exec.ssh-local-command', 'ssh option runs a local command (ProxyCommand/LocalCommand)', v.text));
      }
      const remote = rest(v.args, o, 1);
      if (o.pos.length === 0) return u;
      if (!remote.length) { u.findings.push(finding('approve', 'exec.ssh-interactive', 'opens an interactive remote shell', v.text)); return u; }
      pushJoined(u, remote);
      return u;
    }
    case 'docker': case 'podman': case 'nerdctl': {
      const sub = v.args[0]?.text;
      if (sub !== 'exec') return undefined;
      const o = parseOpts(v.args.slice(1), 'euw', ['env', 'user', 'workdir', 'env-file', 'detach-keys'], true);
      const u = none();
      const inner = rest(v.args.slice(1), o, 1);
      if (inner.length) u.argvs.push(inner);
      return u;
    }
    case 'kubectl': case 'oc': {
      const dd = v.args.findIndex((a) => a.text === '--');
      if (!v.args.some((a) => a.text === 'exec') || dd < 0) return undefined;
      const u = none();
      const inner = v.args.slice(dd + 1);
      if (inner.length) u.argvs.push(inner);
      return u;
    }
    case 'find': {
      const u = none();
      // `{}` is each found path; when find starts at / or ~ it is (at least) that root.
      const root = v.args.find((a) => !a.text.startsWith('-') && a.text !== '!' && a.text !== '(');
      const rootIsTop = root && !root.dynamic && /^(\/+|~\/?|\$HOME\/?)$/.test(root.text);
      for (let i = 0; i < v.args.length; i++) {
        const a = v.args[i].text;
        if (a === '-exec' || a === '-execdir' || a === '-ok' || a === '-okdir') {
          const inner: Word[] = [];
          let j = i + 1;
          for (; j < v.args.length; j++) {
            const t = v.args[j].text;
            if (t === ';' || t === '+') break;
            inner.push(t === '{}' && rootIsTop && root ? root : t.includes('{}') ? dynamicWord(t) : v.args[j]);
          }
          if (inner.length) u.argvs.push(inner);
          i = j;
        }
      }
      return u;
    }
    default:
      if (SHELLS.has(v.prog)) return shellScriptArgs(v);
      return undefined;
  }
}

export function isWrapperProg(p: string): boolean {
  return unwrap({ prog: p, path: p, args: [], sc: { argv: [], assigns: [], redirects: [], text: '', pipes: [] }, depth: 0, text: '' }) !== undefined;
}

export { progName };
