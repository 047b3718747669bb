import { progName, type View } from './argv.js';
import { builtinRule, KNOWN_BENIGN } from './builtins.js';
import { clip, extractScript, type Script, type SimpleCommand } from './extract.js';
import { withTree, type Parser } from './parser.js';
import { classifyRead, classifyWrite, mayBeSecretPath } from './paths.js';
import { catastrophicTarget } from './rules-fs.js';
import { INTERPRETERS } from './rules-sys.js';
import { finding, hardDeny, rank, type Finding } from './types.js';
import { staticEchoOutput } from './static-output.js';
import { SHELLS, unwrap } from './wrappers.js';
import { xargsRuns } from './xargs.js';
import type { Word } from './words.js';

/**
 * Turns a shell string into findings: parse, extract every command, unwrap wrappers and
 * re-parse shell strings (depth-limited), apply built-in and policy rules per argv, then join
 * commands with data-flow rules (network/decoder -> shell = deny, secrets -> network = deny).
 */
export interface AnalyzeOptions {
  parser: Parser;
  writeAllowed: readonly string[];
  maxReparseDepth: number;
  maxTreeDepth: number;
  maxNodes: number;
  /** Policy command rule for one argv (user rules), if any matches. */
  userRule(v: View): Finding | undefined;
  /** Verdict for a command no rule has an opinion on (allowlist / unknown_command). */
  baseline(v: View, known: boolean, script: ScriptInfo): Finding | undefined;
}

export interface ScriptInfo { functions: ReadonlySet<string> }

/** Control characters that shells and parsers may read differently (CR, NUL, …). */
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

export function analyze(text: string, depth: number, o: AnalyzeOptions, stdin?: SimpleCommand['stdin']): Finding[] {
  const out: Finding[] = [];
  let src = text;
  if (CONTROL.test(src)) {
    out.push(finding('approve', 'parse.control-chars', 'the command contains control characters (e.g. CR) that shells and parsers may read differently', clip(JSON.stringify(text)), { floor: true }));
    src = src.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ');
  }
  let script: Script;
  try {
    script = withTree(o.parser, src, (root) => extractScript(root, src, { maxDepth: o.maxTreeDepth, maxNodes: o.maxNodes }));
  } catch {
    out.push(finding('approve', 'parse.error', 'the command could not be parsed', clip(text), { floor: true }));
    out.push(...rawScan(text));
    return out;
  }
  if (stdin) {
    // A re-parsed string (`watch bash`, `sudo sh -c bash`) inherits its runner's stdin.
    for (const c of script.commands) if (!c.stdin && !c.pipes.length && c.feeds === undefined) c.stdin = stdin;
  }
  out.push(...script.findings);
  if (script.findings.some((f) => f.rule.startsWith('parse.') || f.rule.startsWith('limits.'))) out.push(...rawScan(text));
  const info: ScriptInfo = { functions: script.functions.size ? new Set(script.functions.keys()) : NO_FUNCTIONS };
  if (script.functions.size) for (const [name, fn] of script.functions) {
    if (fn.recursive && fn.forks) out.push(hardDeny('proc.fork-bomb', `function ${name} calls itself in the background or a pipe (fork bomb)`, clip(fn.text)));
  }
  for (const c of script.commands) analyzeCommand(c, depth, o, info, out);
  // Data flow needs two commands (a pipe, a substitution feeding another command, a variable or a
  // file handed from one to the next); a lone command has no partner, so flow() would find nothing.
  if (script.commands.length > 1) out.push(...flow(script.commands, script.commands.map(roleOf), depth, o));
  return out;
}

/** Shared empty function set for the (usual) script that defines no functions. Never mutated. */
const NO_FUNCTIONS: ReadonlySet<string> = new Set();

/** Conservative text scan for unparseable input: deny-class signatures only. */
export function rawScan(text: string): Finding[] {
  const out: Finding[] = [];
  const t = text.replace(/["'\\]/g, '');
  const m = clip(text);
  if (/\/dev\/(tcp|udp)\//.test(t)) out.push(hardDeny('net.dev-tcp', 'opens a network socket through /dev/tcp', m));
  if (/\/etc\/(g?shadow|sudoers)\b|\.ssh\/id_|\.aws\/credentials/.test(t)) out.push(hardDeny('secrets.read', 'mentions a secret file in text that cannot be parsed', m));
  if (/\brm\s+(-[a-zA-Z-]+\s+)*(\/|~|\/\*|\$HOME)(\s|$|;|&|\||\))/.test(t) && /\s-[a-zA-Z]*[rR]|--recursive/.test(t)) out.push(hardDeny('fs.rm-root', 'recursive delete of / or ~ in text that cannot be parsed', m));
  if (/\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b/.test(t) || /base64\s+(-d|--decode)[^|]*\|\s*(ba|z|da)?sh\b/.test(t)) out.push(hardDeny('remote.pipe-to-shell', 'pipes a download or decoded data into a shell', m));
  if (/:\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:/.test(t)) out.push(hardDeny('proc.fork-bomb', 'fork bomb', m));
  if (/\bmkfs(\.\w+)?\s+[^|;&]*\/dev\/|\bdd\b[^|;&]*\bof=\/dev\/(sd|nvme|hd|vd|xvd|mmcblk)/.test(t)) out.push(hardDeny('disk.wipe', 'erases a disk', m));
  return out;
}

const ASSIGN_HIJACK = /^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_INSERT_LIBRARIES|BASH_ENV|ENV|PROMPT_COMMAND|IFS|GIT_SSH_COMMAND|GIT_SSH|GIT_EXTERNAL_DIFF|GIT_ASKPASS|SSH_ASKPASS|PYTHONSTARTUP|NODE_OPTIONS|PERL5OPT|RUBYOPT|HISTFILE)$/;

function analyzeCommand(c: SimpleCommand, depth: number, o: AnalyzeOptions, info: ScriptInfo, out: Finding[]): void {
  for (const a of c.assigns) {
    if (ASSIGN_HIJACK.test(a.name)) out.push(finding('approve', 'exec.env-hijack', `sets ${a.name}, which changes how programs load code or split words`, c.text));
    if (a.name === 'PATH' && !a.value.vars.includes('PATH')) out.push(finding('approve', 'exec.env-hijack', 'replaces PATH, so program names may resolve elsewhere', c.text));
    if (a.value.text.includes('/dev/tcp/') || a.value.text.includes('/dev/udp/')) out.push(hardDeny('net.dev-tcp', 'refers to /dev/tcp', c.text));
  }
  for (const r of c.redirects) {
    if (!r.target) continue;
    const t = r.target;
    if (/^[<>]?&$|^>&$|^<&$/.test(r.op) && /^(\d+|-)$/.test(t.text)) continue;
    if (t.raw.startsWith('>(') || t.raw.startsWith('<(')) continue;
    const m = `${r.fd ?? ''}${r.op} ${t.raw}`;
    if (r.op.includes('>')) {
      const f = classifyWrite(t, m, o.writeAllowed);
      if (f) out.push({ ...f, reason: `redirect: ${f.reason}` });
    } else {
      const f = classifyRead(t, m);
      if (f) out.push(f);
    }
  }
  if (c.declaration) {
    // `export X=$(…)`, `declare -x …`: substitutions were extracted; the builtin itself is inert,
    // except `declare -f`/`export -f` exporting functions, and IFS/LD_* handled above.
    return;
  }
  analyzeArgv(c.argv, c, depth, o, info, out);
}

/** Pure wrappers: their arguments are scanned as the inner command's. */
const WRAPPER_NO_READ = new Set(['sudo', 'doas', 'env', 'nice', 'ionice', 'nohup', 'timeout', 'time', 'stdbuf', 'setsid', 'command', 'builtin', 'exec', 'xargs', 'watch', 'flock', 'taskset', 'chrt', 'strace', 'ltrace', 'busybox', 'runuser']);
const READ_EXEMPT = new Set(['ls', 'stat', 'test', '[', '[[', 'du', 'realpath', 'readlink', 'dirname', 'basename', 'echo', 'printf', 'which', 'type', 'mkdir', 'touch', 'find', 'locate', 'cd', 'pushd', 'chmod', 'chown', 'chgrp', 'rm', 'shred', 'unlink', 'file', 'ssh-keygen', 'ssh-add', 'ssh', 'true', 'false', ':', 'git', 'command', 'mv']);

const MAX_WRAPPERS = 16;

function analyzeArgv(argv: Word[], c: SimpleCommand, depth: number, o: AnalyzeOptions, info: ScriptInfo, out: Finding[], viaUnknown = false, wraps = 0): void {
  if (!argv.length) return;
  if (wraps > MAX_WRAPPERS) {
    // Bounded work: `sudo sudo sudo …` thousands deep would otherwise cost O(n²).
    out.push(finding('approve', 'limits.nesting', `more than ${MAX_WRAPPERS} nested wrapper programs`, c.text, { floor: true }));
    out.push(...rawScan(argv.map((w) => w.text).join(' ')));
    return;
  }
  const name = argv[0];
  const args = argv.slice(1);
  if (name.dynamic || name.glob) {
    out.push(finding('approve', 'exec.dynamic-command', `the program name (${name.raw}) is only known at run time`, c.text, { floor: true }));
    const cat = args.some((a) => /^-[a-zA-Z]*[rR]|^--recursive/.test(a.text)) ? args.map(catastrophicTarget).find(Boolean) : undefined;
    if (cat) out.push(hardDeny('fs.rm-root', `a run-time command with recursive flags targets ${cat}`, c.text));
    for (const a of args) { const f = classifyRead(a, c.text); if (f?.decision === 'deny') out.push(f); }
    return;
  }
  const prog = progName(name.text);
  const v: View = { prog, path: name.text, args, sc: c, depth, text: c.text };
  const own: Finding[] = [];
  const rule = builtinRule(prog);
  if (rule) own.push(...rule(v, { writeAllowed: o.writeAllowed }));
  // Arguments that name secret files are reads (except for programs that only look at metadata).
  if (!READ_EXEMPT.has(prog) && !WRAPPER_NO_READ.has(prog)) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      // classifyRead only ever reports a glob or a text with a secret-looking part; the `@file` and
      // `--opt=value` forms below read a suffix of this text, which has such a part only if the
      // whole text does. So plain arguments skip the three pattern tests.
      if (!a.glob && !mayBeSecretPath(a.text)) continue;
      const prev = args[i - 1]?.text;
      if (prev === '-i' && (prog === 'scp' || prog === 'rsync' || prog === 'sftp')) continue;
      // The destination of a copy is written, not read.
      if (i === args.length - 1 && /^(cp|install|ln|rsync|scp)$/.test(prog) && args.length > 1) continue;
      let p = a;
      const at = /^(?:[A-Za-z_-]*=)?@(.+)$/.exec(a.text);
      if (at) p = { ...a, text: at[1], prefix: a.prefix.replace(/^[^@]*@/, '') };
      else if (/^--?[A-Za-z-]+=/.test(a.text)) { const val = a.text.slice(a.text.indexOf('=') + 1); p = { ...a, text: val, prefix: a.prefix.slice(a.prefix.indexOf('=') + 1) }; }
      const f = classifyRead(p, c.text);
      if (f) own.push(f);
    }
  } else if (prog === 'ssh' || prog === 'scp') {
    // ok: key use
  }
  for (const a of args) if (/\/dev\/(tcp|udp)\//.test(a.text) && !own.some((f) => f.rule === 'net.dev-tcp')) own.push(hardDeny('net.dev-tcp', 'refers to /dev/tcp or /dev/udp (network socket)', c.text));

  // eval / source: strings and files that the shell itself runs.
  if (prog === 'eval') {
    if (args.some((a) => a.dynamic)) own.push(finding('approve', 'exec.eval-dynamic', 'eval of text only known at run time', c.text, { floor: true }));
    else recurse(args.map((a) => a.text).join(' '), c, depth, o, own);
  }
  if ((prog === 'source' || prog === '.') && args[0]?.dynamic) own.push(finding('approve', 'exec.source-dynamic', 'sources a file only known at run time', c.text, { floor: true }));

  const u = unwrap(v);
  let wrapper = false;
  if (u) {
    wrapper = u.argvs.length > 0 || u.scripts.length > 0;
    own.push(...u.findings);
    for (const inner of u.argvs) analyzeArgv(inner, c, depth, o, info, out, false, wraps + 1);
    for (const s of u.scripts) {
      if (s.dynamic) own.push(finding('approve', 'exec.dynamic-script', `${prog} runs a shell string only known at run time`, c.text, { floor: true }));
      recurse(s.text, c, depth, o, own, c.stdin);
    }
    if (wrapper && (prog === 'sudo' || prog === 'doas' || prog === 'su' || prog === 'runuser') && !own.some((f) => f.rule.startsWith('priv.'))) {
      own.push(finding('approve', 'priv.sudo', `${prog} runs a command with elevated privileges`, c.text));
    }
  }

  const user = o.userRule(v);
  if (user) {
    // Precedence: built-in final denies and fail-closed floors stay; a matching user rule replaces
    // the remaining built-in verdicts for this argv (it may lower approve to allow).
    for (const f of own) if (f.final || f.floor) out.push(f);
    out.push(user);
    return;
  }
  if (own.length) {
    out.push(...own);
    if (own.every((f) => f.decision === 'allow') && !wrapper) { const b = o.baseline(v, true, info); if (b) out.push(b); }
    return;
  }
  if (wrapper) return;
  const known = KNOWN_BENIGN.has(prog) || !!rule || info.functions.has(prog) || SHELLS.has(prog) || INTERPRETERS.test(prog);
  if (!known && !viaUnknown) {
    // An unknown program whose arguments contain a dangerous argv may be a wrapper we do not know.
    for (let i = 0; i < args.length; i++) {
      const p = progName(args[i].text);
      if (!builtinRule(p) && !SHELLS.has(p) && !UNWRAPPABLE.has(p) && p !== 'eval') continue;
      const sub: Finding[] = [];
      analyzeArgv(args.slice(i), c, depth, o, info, sub, true);
      const w = sub.reduce((m, f) => Math.max(m, rank(f.decision)), 0);
      if (w >= rank('approve')) {
        out.push(finding('approve', 'exec.embedded-command', `${prog} is not a known program and its arguments contain a command that needs approval (${args.slice(i).map((x) => x.text).join(' ').slice(0, 80)})`, c.text));
        break;
      }
    }
  }
  const b = o.baseline(v, known, info);
  if (b) out.push(b);
}

function recurse(text: string, c: SimpleCommand, depth: number, o: AnalyzeOptions, out: Finding[], stdin?: SimpleCommand['stdin']): void {
  if (depth + 1 > o.maxReparseDepth) {
    out.push(finding('approve', 'limits.nesting', `shell strings nest deeper than ${o.maxReparseDepth} levels`, c.text, { floor: true }));
    out.push(...rawScan(text));
    return;
  }
  out.push(...analyze(text, depth + 1, o, stdin));
}

/* ---------------- data flow ---------------- */

interface Role {
  net: boolean;
  decoder: boolean;
  envDump: boolean;
  /** Reads code from stdin (bash with no script, python -, …). */
  stdinCode: boolean;
  /** Runs code in any way (for substitutions: `bash -c "$(…)"`, `source <(…)`). */
  codeSink: boolean;
  netSink: boolean;
  /** Static text it prints (echo/printf/cat <<EOF) for `echo … | sh`. */
  staticOut?: string;
  downloads: string[];
  prog: string;
  words: Word[];
}

const UNWRAPPABLE = new Set(['sudo', 'doas', 'su', 'runuser', 'sg', 'env', 'nice', 'ionice', 'nohup', 'setsid', 'builtin', 'caffeinate', 'unbuffer', 'rlwrap', 'torsocks', 'proxychains', 'proxychains4', 'catchsegv', 'dbus-run-session', 'xvfb-run', 'time', 'stdbuf', 'chronic', 'ifne', 'pv', 'systemd-run', 'firejail', 'valgrind', 'nocache', 'eatmydata', 'fakeroot', 'timeout', 'taskset', 'chrt', 'chroot', 'nsenter', 'unshare', 'strace', 'ltrace', 'busybox', 'command', 'exec', 'sshpass', 'flock', 'script', 'watch', 'xargs', 'parallel', 'ssh', 'docker', 'podman', 'nerdctl', 'kubectl', 'oc', 'find']);

function effective(argv: Word[]): Word[][] {
  const chain: Word[][] = [argv];
  let cur = argv;
  for (let i = 0; i < 8 && cur.length; i++) {
    if (!UNWRAPPABLE.has(progName(cur[0].text))) break;
    const v: View = { prog: progName(cur[0].text), path: cur[0].text, args: cur.slice(1), sc: { argv: cur, assigns: [], redirects: [], text: '', pipes: [] }, depth: 0, text: '' };
    if (SHELLS.has(v.prog)) break;
    const u = unwrap(v);
    if (!u || !u.argvs.length) break;
    cur = u.argvs[0];
    chain.push(cur);
  }
  return chain;
}

/**
 * Every program name a test in roleOf() below looks at, apart from shells and interpreters.
 * Any other program has the plain role, so roleOf returns it without running those tests.
 * test/guard/wrappers.test.ts reads roleOf's source and fails if a program it tests is missing here.
 */
export const ROLE_PROGS: ReadonlySet<string> = new Set([
  // network clients
  'curl', 'wget', 'fetch', 'http', 'https', 'xh', 'aria2c', 'lynx', 'links', 'w3m', 'httpie', 'nc', 'ncat', 'netcat', 'socat',
  'telnet', 's_client', 'gh', 'scp', 'sftp', 'ftp', 'tftp', 'rsync', 'openssl',
  // decoders
  'base64', 'base32', 'basenc', 'gbase64', 'xxd', 'uudecode', 'rev', 'zcat', 'gunzip', 'bzcat', 'bunzip2', 'xzcat', 'unxz',
  'zstdcat', 'lzcat', 'brotli', 'unzstd', 'gzip', 'xz', 'bzip2', 'zstd', 'tr', 'printf', 'echo',
  // environment dumps
  'env', 'printenv', 'set', 'export', 'declare', 'typeset', 'compgen',
  // code sinks besides shells and interpreters
  'source', '.', 'eval',
  // network sinks
  'mail', 'mailx', 'sendmail', 'mutt', 'ssh',
  // static output
  'cat',
]);

/** Role of a program that is none of the above: nothing flows into or out of it as code or secrets. */
const NO_DOWNLOADS: string[] = [];

function roleOf(c: SimpleCommand): Role {
  const chain = effective(c.argv);
  const argv = chain[chain.length - 1];
  const prog = argv.length ? progName(argv[0].text) : '';
  if (!ROLE_PROGS.has(prog) && !SHELLS.has(prog) && !INTERPRETERS.test(prog)) {
    // NO_DOWNLOADS is only read (flow() iterates it); roles that download get their own array.
    return { net: false, decoder: false, envDump: false, stdinCode: false, codeSink: false, netSink: false, downloads: NO_DOWNLOADS, prog, words: argv };
  }
  const a = argv.slice(1).map((w) => w.text);
  const r: Role = { net: false, decoder: false, envDump: false, stdinCode: false, codeSink: false, netSink: false, downloads: [], prog, words: argv };
  const viaXargs = chain.some((x) => x.length && /^(xargs|parallel)$/.test(progName(x[0].text)));
  if (/^(curl|wget|fetch|http|https|xh|aria2c|lynx|links|w3m|httpie|nc|ncat|netcat|socat|telnet|s_client|gh|scp|sftp|ftp|tftp|rsync)$/.test(prog) || prog === 'openssl' && a[0] === 's_client') {
    r.net = !/^(scp|sftp|rsync)$/.test(prog) || a.some((x) => x.includes(':'));
    if (prog === 'curl') {
      for (let i = 0; i < a.length; i++) {
        if (a[i] === '-o' || a[i] === '--output') r.downloads.push(base(a[i + 1] ?? ''));
        if (a[i] === '-O' || a[i] === '--remote-name') r.downloads.push(...a.filter((x) => /^https?:/.test(x)).map(urlBase));
        if (/^(-d|--data|--data-binary|--data-raw|--data-urlencode|-F|--form|-T|--upload-file|--json)$/.test(a[i])) r.netSink = true;
        if (/^(--data|--data-binary|--upload-file|--json|--form)=/.test(a[i])) r.netSink = true;
      }
    } else if (prog === 'wget') {
      const oi = a.findIndex((x) => x === '-O' || x === '--output-document' || /^-[a-zA-Z]*O$/.test(x));
      if (oi >= 0 && a[oi + 1] && a[oi + 1] !== '-') r.downloads.push(base(a[oi + 1]));
      else if (oi < 0) r.downloads.push(...a.filter((x) => /^https?:/.test(x)).map(urlBase));
      if (a.some((x) => /^--(post-file|post-data|body-file|body-data)/.test(x))) r.netSink = true;
    } else r.netSink = true;
    for (const rd of c.redirects) if (rd.op.includes('>') && rd.target && !/^\d+$/.test(rd.target.text)) r.downloads.push(base(rd.target.text));
  }
  if (/^(base64|base32|basenc|gbase64)$/.test(prog) && a.some((x) => /^(-d|--decode|-D)$/.test(x) || /^-[a-zA-Z]*d/.test(x))) r.decoder = true;
  if (prog === 'xxd' && a.some((x) => /^-[a-zA-Z]*r/.test(x))) r.decoder = true;
  if (prog === 'openssl' && (a.includes('-d') || a[0] === 'base64' && a.includes('-d') || a[0] === 'enc' && a.includes('-d'))) r.decoder = true;
  if (/^(uudecode|rev|zcat|gunzip|bzcat|bunzip2|xzcat|unxz|zstdcat|lzcat|brotli|unzstd)$/.test(prog) || /^(gzip|xz|bzip2|zstd)$/.test(prog) && a.some((x) => /^-[a-zA-Z]*d|--decompress/.test(x))) r.decoder = true;
  if (prog === 'tr' && a.some((x) => /n-za-m|N-ZA-M/.test(x))) r.decoder = true;
  if ((prog === 'printf' || prog === 'echo') && argv.slice(1).some((w) => /\\x[0-9a-fA-F]|\\[0-7]{3}|\\u[0-9a-fA-F]{4}/.test(w.text)) && (prog === 'printf' || a.some((x) => /^-[a-zA-Z]*e/.test(x)))) r.decoder = true;
  if ((prog === 'env' || prog === 'printenv') && argv.length === 1 || prog === 'set' && argv.length === 1 || (prog === 'export' || prog === 'declare' || prog === 'typeset') && a.some((x) => x === '-p' || x === '-x') && a.length <= 1 || prog === 'compgen' && a.includes('-v')) r.envDump = true;
  const isShell = SHELLS.has(prog);
  const isInterp = INTERPRETERS.test(prog);
  if (isShell || isInterp || prog === 'source' || prog === '.' || prog === 'eval' || viaXargs && (isShell || isInterp)) {
    r.codeSink = true;
    const positional = argv.slice(1).filter((w) => !w.text.startsWith('-'));
    const codeFlag = a.some((x) => /^-[a-zA-Z]*[ceEr]$/.test(x) || x === '--eval' || x === '--command' || /^-m$/.test(x) || /^-[a-zA-Z]*m$/.test(x));
    if (isShell && (a.some((x) => /^-[a-zA-Z]*s/.test(x)) || !codeFlag && positional.length === 0)) r.stdinCode = true;
    if (isInterp && !codeFlag && (positional.length === 0 || positional[0].text === '-' || positional[0].text === '/dev/stdin')) r.stdinCode = true;
    if (isShell && positional[0] && (positional[0].text === '/dev/stdin' || positional[0].text === '-')) r.stdinCode = true;
    if ((prog === 'source' || prog === '.') && /^\/dev\/(stdin|fd\/0)$/.test(positional[0]?.text ?? '')) r.stdinCode = true;
    if (viaXargs) r.stdinCode = true;
  }
  if (/^(mail|mailx|sendmail|mutt|ssh|nc|ncat|netcat|socat|telnet)$/.test(prog)) r.netSink = true;
  if (prog === 'echo' || prog === 'printf') {
    if (!argv.slice(1).some((w) => w.dynamic)) r.staticOut = (prog === 'echo' ? argv.slice(1).filter((w, i) => !(i === 0 && /^-[neE]+$/.test(w.text))) : argv.slice(1)).map((w) => w.text).join(' ');
  }
  if (prog === 'cat' && argv.length === 1 && c.stdin && !c.stdin.dynamic) r.staticOut = c.stdin.text;
  return r;
}

function base(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
function urlBase(u: string): string {
  const q = u.split(/[?#]/)[0];
  return base(q) || 'index.html';
}

/**
 * `echo / | xargs rm -rf`: when the stage right before an `xargs` is one command with static
 * output (echo, printf, cat of a heredoc), the commands xargs would build are judged as written
 * out (`rm -rf /` is then a deny, not the approve an unknown argument gets). What the guard cannot
 * model (a dynamic word, xargs quoting, unknown options) keeps the unknown-argument judgement.
 */
function staticIntoXargs(cmds: SimpleCommand[], i: number, byPipe: Map<number, number[]>, roles: Role[], depth: number, o: AnalyzeOptions): Finding[] {
  const c = cmds[i];
  const pipe = c.pipes[c.pipes.length - 1];
  if (pipe.stage === 0 || !c.argv.length) return [];
  // The cheap test first: most piped commands are not fed by static text, and for those the
  // wrapper chain (roleOf unwrapped it already) is not walked again.
  const before = (byPipe.get(pipe.id) ?? []).filter((j) => cmds[j].pipes.some((p) => p.id === pipe.id && p.stage === pipe.stage - 1));
  if (before.length !== 1) return [];
  const src = cmds[before[0]];
  if (src.redirects.length || src.feeds !== undefined) return [];
  const input = roles[before[0]].prog === 'cat' ? roles[before[0]].staticOut : staticEchoOutput(src.argv);
  if (input === undefined) return [];
  const x = effective(c.argv).find((argv) => argv.length > 0 && progName(argv[0].text) === 'xargs');
  if (!x) return [];
  const runs = xargsRuns(x.slice(1), input);
  if (!runs?.length) return [];
  if (depth + 1 > o.maxReparseDepth) return [finding('approve', 'limits.nesting', 'shell strings nest too deep', c.text, { floor: true })];
  const out: Finding[] = [];
  for (const run of runs) out.push(...analyze(run.map(shellQuote).join(' '), depth + 1, o));
  return out;
}

/** One word, single-quoted for bash (an embedded quote closes, escapes and reopens). */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function samePipe(a: SimpleCommand, b: SimpleCommand): boolean {
  for (const p of a.pipes) for (const q of b.pipes) if (p.id === q.id && p.stage < q.stage) return true;
  return false;
}

/** Partners of a command outside any pipeline. Never mutated. */
const NO_PARTNERS: ReadonlySet<number> = new Set();

function flow(cmds: SimpleCommand[], roles: Role[], depth: number, o: AnalyzeOptions): Finding[] {
  const out: Finding[] = [];
  const tainted = new Set<string>();
  const downloaded = new Set<string>();
  // Index commands by pipeline so the pairwise check only visits real pipe partners.
  const byPipe = new Map<number, number[]>();
  cmds.forEach((c, i) => { for (const p of c.pipes) { const l = byPipe.get(p.id); if (l) l.push(i); else byPipe.set(p.id, [i]); } });
  const secret = new Map<number, boolean>();
  const isSecret = (j: number): boolean => { let v = secret.get(j); if (v === undefined) { v = isSecretReader(cmds[j]); secret.set(j, v); } return v; };
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i];
    const r = roles[i];
    // Sources flowing into this command through a pipe.
    const partners = c.pipes.length ? new Set<number>() : NO_PARTNERS;
    for (const p of c.pipes) for (const j of byPipe.get(p.id) ?? []) (partners as Set<number>).add(j);
    for (const j of partners) {
      if (j === i || !samePipe(cmds[j], c)) continue;
      const s = roles[j];
      const m = `${cmds[j].text} | … ${c.text}`;
      if (r.stdinCode) {
        if (s.net) out.push(hardDeny('remote.pipe-to-shell', `pipes data from the network (${s.prog}) into ${r.prog}`, m));
        else if (s.decoder) out.push(hardDeny('remote.decode-to-shell', `pipes decoded data (${s.prog}) into ${r.prog}`, m));
        else if (s.staticOut !== undefined && SHELLS.has(r.prog)) {
          if (depth + 1 <= o.maxReparseDepth) out.push(...analyze(s.staticOut, depth + 1, o));
          else out.push(finding('approve', 'limits.nesting', 'shell strings nest too deep', m, { floor: true }));
        } else if (s.staticOut === undefined) out.push(finding('approve', 'exec.pipe-to-shell', `pipes the output of ${s.prog} into ${r.prog} as code`, m));
      }
      if ((s.envDump) && (r.netSink || r.net)) out.push(hardDeny('secrets.exfil', `sends the environment (${s.prog}) to the network (${r.prog})`, m));
      if ((r.netSink || r.net) && isSecret(j)) out.push(hardDeny('secrets.exfil', `sends a secret file to the network (${r.prog})`, m));
      // DB clients reading SQL from `echo …`/`cat <<EOF` in the pipe.
      if (/^(psql|mysql|mariadb|sqlite3|cockroach)$/.test(r.prog) && s.staticOut !== undefined) {
        const v: View = { prog: r.prog, path: r.prog, args: r.words.slice(1), sc: { ...c, stdin: { text: s.staticOut, dynamic: false } }, depth, text: m };
        const rule = builtinRule(r.prog);
        if (rule) out.push(...rule(v, { writeAllowed: o.writeAllowed }).filter((f) => f.rule !== 'db.opaque'));
      }
    }
    if (c.pipes.length) out.push(...staticIntoXargs(cmds, i, byPipe, roles, depth, o));
    // Substitutions: this command's output becomes another command's argument or file.
    if (c.feeds !== undefined && c.feeds >= 0) {
      const k = cmds[c.feeds];
      const kr = roles[c.feeds];
      const m = `${k.text}`;
      if (c.feedKind === 'file-out') {
        if (kr.net && r.stdinCode) out.push(hardDeny('remote.pipe-to-shell', `sends network data (${kr.prog}) into ${r.prog}`, m));
      } else {
        if ((r.net || r.decoder) && kr.codeSink) out.push(hardDeny(r.net ? 'remote.exec-download' : 'remote.decode-to-shell', `${kr.prog} runs ${r.net ? 'downloaded' : 'decoded'} code from ${r.prog}`, m));
        if ((r.envDump || isSecretReader(c)) && (kr.net || kr.netSink)) out.push(hardDeny('secrets.exfil', `sends ${r.envDump ? 'the environment' : 'a secret'} to the network (${kr.prog})`, m));
      }
    }
    if (c.assignTo && (r.net || r.decoder)) tainted.add(c.assignTo);
    if (r.codeSink && tainted.size) {
      const uses = c.argv.some((w) => w.vars.some((x) => tainted.has(x))) || (c.stdin?.dynamic ?? false);
      if (uses) out.push(hardDeny('remote.exec-download', `${r.prog} runs code held in a variable filled from the network or a decoder`, c.text));
    }
    if (downloaded.size) {
      const names = r.words.map((w) => base(w.text));
      const runs = (r.codeSink && names.slice(1).some((n) => downloaded.has(n))) || (r.words[0] && r.words[0].text.includes('/') && downloaded.has(names[0]));
      if (runs) out.push(hardDeny('remote.download-exec', `runs a file that was just downloaded (${names.find((n) => downloaded.has(n))})`, c.text));
    }
    for (const d of r.downloads) if (d) downloaded.add(d);
  }
  return out;
}

function isSecretReader(c: SimpleCommand): boolean {
  for (const w of c.argv.slice(1)) {
    const f = classifyRead(w, '');
    if (f) return true;
  }
  for (const r of c.redirects) if (r.op === '<' && r.target && classifyRead(r.target, '')) return true;
  return false;
}
