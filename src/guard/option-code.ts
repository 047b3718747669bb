import { parseOpts, subcommand, type View } from './argv.js';
import { codeCommands, langOf } from './code-literals.js';
import type { Word } from './words.js';

/**
 * Program options and arguments that run commands (issue 14 item 0): `zip -TT CMD`, `gdb -ex
 * 'shell CMD'`, `man -P CMD`, `rsync -e CMD`, `sort --compress-program=PROG`, `tar
 * --to-command=CMD`, `git -c core.pager=CMD` / `--upload-pack=CMD` / `submodule foreach CMD`,
 * `ssh -o ProxyCommand=CMD`, `less '+!CMD'`, `vim -c '!CMD'`, `awk 'BEGIN{system("CMD")}'`,
 * `sed 'e CMD'`, `strace -o '|CMD'`, commands literal in inline interpreter code, and programs
 * that run the argv after their options without being on the wrapper table (`setpriv`, `numactl`,
 * `ip netns exec`, `capsh -- -c`…). Each visible command comes back as shell text for the analyzer
 * to judge like any other line; the rules (rules-exec.ts) approve what cannot be read.
 */
export interface OptionCode {
  /** Shell text that runs (an argv is given as its words' source text, so expansions stay visible). */
  text: string;
  /** Only known at run time: the analyzer approves instead of judging. */
  dynamic: boolean;
  what: string;
}

const NONE: OptionCode[] = [];

/** The argv `words` as shell source (each word's raw text: the same words, the same expansions). */
export function argvText(words: readonly Word[]): string {
  return words.map((w) => w.raw).join(' ');
}

/** A literal string as one shell word. */
function quoted(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function code(text: string, w: Word | undefined, what: string): OptionCode {
  return { text, dynamic: w?.dynamic ?? false, what };
}

/**
 * The value of an option spelled `-X VAL`, `-XVAL`, `--long VAL` or `--long=VAL` at args[i], with
 * the word that holds it. `short` is e.g. '-P'; `long` e.g. '--pager'.
 */
function valueAt(
  args: readonly Word[],
  i: number,
  short: readonly string[],
  long: readonly string[],
): { value: string; word: Word; next: number } | undefined {
  const w = args[i];
  if (w === undefined) return undefined;
  const t = w.text;
  const after = args[i + 1];
  for (const s of short) {
    if (t === s) return after ? { value: after.text, word: after, next: i + 1 } : undefined;
    if (t.startsWith(s) && t.length > s.length && !t.startsWith('--'))
      return { value: t.slice(s.length), word: w, next: i };
  }
  for (const l of long) {
    if (t === l) return after ? { value: after.text, word: after, next: i + 1 } : undefined;
    if (t.startsWith(l + '=')) return { value: t.slice(l.length + 1), word: w, next: i };
  }
  return undefined;
}

/** Every value of the options named, in order. */
function values(
  args: readonly Word[],
  short: readonly string[],
  long: readonly string[],
): { value: string; word: Word }[] {
  const out: { value: string; word: Word }[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.text === '--') break;
    const v = valueAt(args, i, short, long);
    if (v) {
      out.push(v);
      i = v.next;
    }
  }
  return out;
}

/* ---------------- debuggers ---------------- */

/** The shell part of a gdb command: `shell CMD`, `!CMD`, `pipe CMD | SHELL`, `| CMD | SHELL`. */
export function gdbShell(cmd: string): string | undefined {
  const c = cmd.trim();
  const sh = /^(?:shell\b|!)\s*([\s\S]*)$/.exec(c);
  if (sh) return sh[1];
  const piped = /^(?:pipe\b|\|)\s*([\s\S]*)$/.exec(c)?.[1];
  if (piped !== undefined) {
    const bar = piped.indexOf('|');
    return bar < 0 ? undefined : piped.slice(bar + 1);
  }
  return undefined;
}

/** lldb: `platform shell CMD`, `shell CMD`. */
function lldbShell(cmd: string): string | undefined {
  const m = /^\s*(?:platform\s+)?shell\s+([\s\S]*)$/.exec(cmd);
  return m ? m[1] : undefined;
}

/* ---------------- editors ---------------- */

/**
 * The shell commands an Ex command line runs: `!CMD`, `r !CMD`, `w !CMD`, `{range}!CMD` (a
 * filter), `call system('CMD')`, `terminal CMD`. Commands are separated by `|` until a shell
 * command starts (which takes the rest of the line, bars included).
 */
export function exShell(line: string): string[] {
  const out: string[] = [];
  let rest = line;
  for (let guard = 0; guard < 16 && rest.length; guard++) {
    const s = rest.replace(/^[\s:]+/, '').replace(/^(silent!?|sil!?|keepalt|noautocmd)\s+/, '');
    const bang = /^(?:[.%$,'\w+-]*)(?:r(?:ead)?\s*|w(?:rite)?\s*)?!([\s\S]*)$/.exec(s);
    if (bang && !/^\w+!/.test(s.split(/\s/)[0] ?? '')) {
      out.push(bang[1]!);
      break;
    }
    const term = /^ter(?:m(?:inal)?)?\b(?:\s+\+\+\w+)*\s*([\s\S]*)$/.exec(s)?.[1];
    if (term !== undefined) {
      if (term.trim()) out.push(term);
      break;
    }
    for (const m of s.matchAll(/\bsystem(?:list)?\s*\(\s*(['"])((?:(?!\1)[^\\]|\\.)*)\1\s*[,)]/g)) out.push(m[2]!);
    const bar = s.indexOf('|');
    if (bar < 0) break;
    rest = s.slice(bar + 1);
  }
  return out;
}

/** Ex commands that run another language's code (`py3 …`, `lua …`, `perl …`, `ruby …`). */
export const EX_INTERPRETER =
  /(^|[|:\s])(py(?:thon)?3?|pyx|pythonx|py3do|pydo|lua|luado|luafile|perl|perldo|ruby|rubydo|rubyfile|pyfile|py3file|so(?:urce)?|exe(?:cute)?)\b/;

/* ---------------- git ---------------- */

/** git config keys whose value is a command git runs through a shell. */
export const GIT_SHELL_KEY =
  /^(core\.(pager|editor|askpass|sshcommand|fsmonitor|gitproxy)|sequence\.editor|pager\.[\w.-]+|diff\.external|diff\.[\w.-]+\.(textconv|command)|difftool\.[\w.-]+\.cmd|mergetool\.[\w.-]+\.cmd|filter\.[\w.-]+\.(clean|smudge|process)|merge\.[\w.-]+\.driver|gpg\.program|gpg\.[\w.-]+\.program|uploadpack\.packobjectshook|interactive\.difffilter|sendemail\.sendmailcmd|sendemail\.smtpserver|credential\.([\w.:/-]+\.)?helper|alias\.[\w.-]+|core\.hookspath|tar\.[\w.-]+\.command|trailer\.[\w.-]+\.(cmd|command)|remote\.[\w.-]+\.(receivepack|uploadpack|vcs)|web\.browser|browser\.[\w.-]+\.cmd|man\.[\w.-]+\.cmd|protocol\.[\w.-]*allow|core\.sshcommand)$/i;

/** The command a git config value runs, or undefined (not a command key, or not a command value). */
export function gitConfigCommand(key: string, value: string): string | undefined {
  const k = key.toLowerCase();
  if (!GIT_SHELL_KEY.test(k)) return undefined;
  if (k.startsWith('alias.') || /(^|\.)helper$/.test(k)) return value.startsWith('!') ? value.slice(1) : undefined;
  if (k === 'core.fsmonitor' && /^(true|false|yes|no|on|off|0|1)?$/i.test(value)) return undefined;
  if (k === 'core.hookspath' || /^protocol\./.test(k)) return undefined;
  return value;
}

/** git's global options that take the next word as their value (before the subcommand). */
export const GIT_VALUE_OPTS = [
  '-C',
  '-c',
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--exec-path',
  '--config-env',
  '--super-prefix',
];

function gitCode(v: View, out: OptionCode[]): void {
  const a = v.args;
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    const next = a[i + 1];
    if (w.text === '-c' && next) {
      const kv = next.text;
      const eq = kv.indexOf('=');
      if (eq > 0) {
        const c = gitConfigCommand(kv.slice(0, eq), kv.slice(eq + 1));
        if (c !== undefined) out.push(code(c, next, `git -c ${kv.slice(0, eq)}`));
      }
      i++;
      continue;
    }
    if (!w.text.startsWith('-')) break;
  }
  const { sub, index } = subcommand(a, GIT_VALUE_OPTS);
  if (index < 0) return;
  const rest = a.slice(index + 1);
  const opt = (short: string[], long: string[], what: string): void => {
    for (const x of values(rest, short, long)) out.push(code(x.value, x.word, what));
  };
  switch (sub) {
    case 'push':
    case 'send-pack':
      opt([], ['--receive-pack', '--exec'], `git ${sub} --receive-pack`);
      break;
    case 'clone':
    case 'fetch':
    case 'pull':
    case 'ls-remote':
    case 'fetch-pack':
      opt(sub === 'clone' || sub === 'ls-remote' ? ['-u'] : [], ['--upload-pack'], `git ${sub} --upload-pack`);
      for (const w of rest)
        if (/^ext::/.test(w.text))
          out.push(code(w.text.slice(5).replace(/%[sSG%]/g, 'x'), w, `git ${sub} ext:: transport`));
      break;
    case 'archive':
      opt([], ['--exec'], 'git archive --exec');
      break;
    case 'rebase':
      opt(['-x'], ['--exec'], 'git rebase --exec');
      break;
    case 'filter-branch':
      opt(
        [],
        [
          '--tree-filter',
          '--index-filter',
          '--msg-filter',
          '--env-filter',
          '--commit-filter',
          '--parent-filter',
          '--tag-name-filter',
          '--setup',
        ],
        'git filter-branch filter',
      );
      break;
    case 'difftool':
    case 'mergetool':
      opt(['-x'], ['--extcmd'], `git ${sub} --extcmd`);
      break;
    case 'grep':
      for (const w of rest) {
        const m = /^(?:-O|--open-files-in-pager=)(.+)$/.exec(w.text);
        if (m) out.push(code(m[1]!, w, 'git grep --open-files-in-pager'));
      }
      break;
    case 'send-email':
      opt([], ['--sendmail-cmd', '--smtp-server'], 'git send-email command');
      break;
    case 'submodule': {
      const f = rest.findIndex((w) => w.text === 'foreach');
      if (f >= 0) {
        let k = f + 1;
        while (rest[k]?.text === '--recursive' || rest[k]?.text === '-q' || rest[k]?.text === '--quiet') k++;
        const cmd = rest.slice(k);
        if (cmd.length)
          out.push({
            text: cmd.map((w) => w.text).join(' '),
            dynamic: cmd.some((w) => w.dynamic),
            what: 'git submodule foreach',
          });
      }
      break;
    }
    case 'bisect':
      if (rest[0]?.text === 'run' && rest.length > 1)
        out.push({ text: argvText(rest.slice(1)), dynamic: false, what: 'git bisect run' });
      break;
    case 'config': {
      // --get, --list, --unset … read or remove: the second operand is a value pattern, not a command.
      if (
        rest.some((w) =>
          /^(--get|--get-all|--get-regexp|--get-urlmatch|--get-color|--get-colorbool|-l|--list|--unset|--unset-all|--remove-section|--rename-section|get|list|unset|remove-section|rename-section)$/.test(
            w.text,
          ),
        )
      )
        break;
      const pos = rest.filter((w) => !w.text.startsWith('-'));
      const [key, value] = pos;
      if (key && value) {
        const c = gitConfigCommand(key.text, value.text);
        if (c !== undefined) out.push(code(c, value, `git config ${key.text}`));
      }
      break;
    }
    default:
      break;
  }
}

/* ---------------- ssh family ---------------- */

/** `-o ProxyCommand=CMD`, `-oLocalCommand CMD`, `KnownHostsCommand`: commands ssh runs locally. */
function sshOptionCode(args: readonly Word[], out: OptionCode[], prog: string): void {
  for (let i = 0; i < args.length; i++) {
    let w = args[i]!;
    const t = w.text;
    const next = args[i + 1];
    let opt: string | undefined;
    if (t === '-o' && next) {
      opt = next.text;
      w = next;
      i++;
    } else if (t.startsWith('-o') && t.length > 2) opt = t.slice(2);
    if (opt === undefined) continue;
    const m = /^\s*(ProxyCommand|LocalCommand|KnownHostsCommand|RemoteCommand)\s*(?:=|\s)\s*([\s\S]*)$/i.exec(opt);
    const cmd = m?.[2]; // group 2 always takes part in a match
    if (m && cmd?.trim() && cmd.trim().toLowerCase() !== 'none')
      out.push(code(cmd.replace(/%[%a-zA-Z]/g, 'x'), w, `${prog} -o ${m[1]}`));
  }
}

/* ---------------- unlisted wrappers ---------------- */

/** The argv after options (`valueShort` letters and `valueLong` names take a value), skipping `skip` operands first. */
function argvAfter(args: readonly Word[], valueShort: string, valueLong: readonly string[], skip = 0): Word[] {
  const o = parseOpts(args, valueShort, valueLong, true);
  const i = o.posIdx[skip];
  return i === undefined ? [] : args.slice(i);
}

function argvCode(words: readonly Word[], what: string): OptionCode[] {
  return words.length ? [{ text: argvText(words), dynamic: false, what }] : NONE;
}

/** Programs that run the argv after their options, without an entry on the wrapper table. */
function unlistedWrapper(v: View): OptionCode[] {
  const a = v.args;
  switch (v.prog) {
    case 'setpriv':
      return argvCode(
        argvAfter(a, '', [
          'reuid',
          'regid',
          'groups',
          'inh-caps',
          'ambient-caps',
          'bounding-set',
          'securebits',
          'pdeathsig',
          'selinux-label',
          'apparmor-profile',
          'landlock-access',
          'landlock-rule',
          'ruid',
          'euid',
          'rgid',
          'egid',
        ]),
        'setpriv',
      );
    case 'setarch':
      return argvCode(argvAfter(a, '', [], 1), 'setarch');
    case 'linux32':
    case 'linux64':
    case 'i386':
    case 'x86_64':
      return argvCode(argvAfter(a, '', []), v.prog);
    case 'numactl':
      return argvCode(
        argvAfter(a, 'imNCpPw', [
          'interleave',
          'preferred',
          'membind',
          'cpunodebind',
          'physcpubind',
          'preferred-many',
          'weighted-interleave',
        ]),
        'numactl',
      );
    case 'prlimit':
      return a.some((w) => /^(-p|--pid)/.test(w.text))
        ? NONE
        : argvCode(argvAfter(a, 'p', ['pid', 'output']), 'prlimit');
    case 'pkexec':
      return argvCode(argvAfter(a, 'u', ['user']), 'pkexec');
    case 'cgexec':
      return argvCode(argvAfter(a, 'g', []), 'cgexec');
    case 'runcon': {
      const o = parseOpts(a, 'urtl', ['user', 'role', 'type', 'range'], true);
      const named = o.short.size > 0 || o.long.size > 0;
      return argvCode(argvAfter(a, 'urtl', ['user', 'role', 'type', 'range'], named ? 0 : 1), 'runcon');
    }
    case 'chpst':
      return argvCode(argvAfter(a, 'uUbe/nlLmdofcrt', []), 'chpst');
    case 'setuidgid':
    case 'envuidgid':
    case 'envdir':
    case 'setlock':
      return argvCode(argvAfter(a, '', [], 1), v.prog);
    case 'softlimit':
      return argvCode(argvAfter(a, 'amdsloprtfc', []), 'softlimit');
    case 'faketime':
      return argvCode(argvAfter(a, '', [], 1), 'faketime');
    case 'ssh-agent':
      return argvCode(argvAfter(a, 'aEPt', []), 'ssh-agent');
    case 'entr': {
      const o = parseOpts(a, '', [], true);
      const inner = argvAfter(a, '', []);
      const [first] = inner;
      if (o.short.has('s') && first) return [code(first.text, first, 'entr -s')];
      return argvCode(inner, 'entr');
    }
    case 'ip': {
      // ip [opts] netns exec NAME CMD…, ip vrf exec NAME CMD…
      const t = a.map((w) => w.text);
      for (let i = 0; i + 2 < t.length; i++) {
        if (/^(netns|vrf)$/.test(t[i]!) && t[i + 1] === 'exec') return argvCode(a.slice(i + 3), `ip ${t[i]} exec`);
      }
      return NONE;
    }
    case 'capsh': {
      // capsh [opts] -- ARGS: ARGS go to bash (`-- -c 'CMD'`).
      const dd = a.findIndex((w) => w.text === '--');
      if (dd < 0) return NONE;
      const rest = a.slice(dd + 1);
      const c = rest.findIndex((w) => w.text === '-c');
      const cmd = c >= 0 ? rest[c + 1] : undefined;
      if (cmd) return [code(cmd.text, cmd, 'capsh -- -c')];
      return NONE;
    }
    case 'ansible': {
      // ansible HOSTS -m shell|command|raw -a 'CMD': runs on other hosts (judged for the obvious).
      const m = values(a, ['-m'], ['--module-name'])[0]?.value ?? 'command';
      if (!/(^|\.)(shell|command|raw|script)$/.test(m)) return NONE;
      return values(a, ['-a'], ['--args']).map((x) => code(x.value, x.word, `ansible -m ${m}`));
    }
    case 'pdsh':
    case 'pssh':
    case 'parallel-ssh':
    case 'clush': {
      const inner = argvAfter(a, v.prog === 'pdsh' ? 'wxlRNtuf' : v.prog === 'clush' ? 'wxgXlt' : 'hHlpotOxX', [
        'hosts',
        'host',
        'user',
        'par',
        'outdir',
        'errdir',
        'timeout',
        'option',
        'extra-args',
        'group',
        'nodes',
      ]);
      return inner.length
        ? [
            {
              text: inner.map((w) => w.text).join(' '),
              dynamic: inner.some((w) => w.dynamic),
              what: `${v.prog} (remote command)`,
            },
          ]
        : NONE;
    }
    default:
      return NONE;
  }
}

/* ---------------- the table ---------------- */

/** Programs optionCode() reads (interpreters aside: see `INTERPRETER_LIKE`). */
export const OPTION_CODE_PROGS: ReadonlySet<string> = new Set([
  'zip',
  'gdb',
  'lldb',
  'man',
  'less',
  'more',
  'most',
  'rsync',
  'scp',
  'sftp',
  'ssh',
  'sort',
  'tar',
  'gtar',
  'bsdtar',
  'git',
  'vi',
  'vim',
  'nvim',
  'ex',
  'view',
  'rvim',
  'gvim',
  'vimdiff',
  'emacs',
  'awk',
  'gawk',
  'mawk',
  'nawk',
  'sed',
  'strace',
  'ltrace',
  'wget',
  'tmux',
  'screen',
  'setpriv',
  'setarch',
  'linux32',
  'linux64',
  'i386',
  'x86_64',
  'numactl',
  'prlimit',
  'pkexec',
  'cgexec',
  'runcon',
  'chpst',
  'setuidgid',
  'envuidgid',
  'envdir',
  'setlock',
  'softlimit',
  'faketime',
  'ssh-agent',
  'entr',
  'ip',
  'capsh',
  'ansible',
  'pdsh',
  'pssh',
  'parallel-ssh',
  'clush',
  'gh',
]);

/** The visible commands `v`'s options and arguments run (see the file comment). */
export function optionCode(v: View): OptionCode[] {
  const a = v.args;
  const out: OptionCode[] = [];
  switch (v.prog) {
    case 'zip':
      for (const x of values(a, ['-TT'], ['--unzip-command']))
        out.push(code(x.value, x.word, 'zip -TT (archive test command)'));
      return out;
    case 'gdb':
      for (const x of values(
        a,
        ['-ex', '--ex', '-iex', '--iex', '-eval-command', '-init-eval-command'],
        ['--eval-command', '--init-eval-command'],
      )) {
        const s = gdbShell(x.value);
        if (s !== undefined) out.push(code(s, x.word, 'gdb shell command'));
      }
      return out;
    case 'lldb':
      for (const x of values(
        a,
        ['-o', '-O', '-k', '-K'],
        ['--one-line', '--one-line-before-file', '--one-line-on-crash'],
      )) {
        const s = lldbShell(x.value);
        if (s !== undefined) out.push(code(s, x.word, 'lldb shell command'));
      }
      return out;
    case 'man':
      for (const x of values(a, ['-P', '-H'], ['--pager', '--html'])) out.push(code(x.value, x.word, 'man pager'));
      return out;
    case 'less':
    case 'more':
    case 'most':
      for (const w of a) {
        const m = /^\+{1,2}:*(?:!|\|.)([\s\S]+)$/.exec(w.text);
        if (m) out.push(code(m[1]!, w, `${v.prog} +! command`));
      }
      return out;
    case 'rsync':
      for (const x of values(a, ['-e'], ['--rsh', '--rsync-path']))
        out.push(code(x.value, x.word, 'rsync remote shell'));
      // `-avze ssh`: -e last in a group takes the next word.
      for (const [i, w] of a.entries()) {
        const next = a[i + 1];
        if (/^-[a-zA-Z]+e$/.test(w.text) && w.text !== '-e' && next)
          out.push(code(next.text, next, 'rsync remote shell'));
      }
      return out;
    case 'scp':
    case 'sftp':
      for (const x of values(a, ['-S', '-D'], [])) out.push(code(quoted(x.value), x.word, `${v.prog} -S/-D program`));
      sshOptionCode(a, out, v.prog);
      return out;
    case 'ssh':
      sshOptionCode(a, out, 'ssh');
      return out;
    case 'sort':
      for (const x of values(a, [], ['--compress-program']))
        out.push(code(quoted(x.value), x.word, 'sort --compress-program'));
      return out;
    case 'tar':
    case 'gtar':
    case 'bsdtar':
      for (const x of values(a, v.prog === 'bsdtar' ? [] : ['-I', '-F'], [
        '--to-command',
        '--use-compress-program',
        '--info-script',
        '--new-volume-script',
        '--rsh-command',
      ]))
        out.push(code(x.value, x.word, `${v.prog} option command`));
      for (const w of a) {
        const m = /^--checkpoint-action=(?:exec|shell)=([\s\S]*)$/.exec(w.text);
        if (m) out.push(code(m[1]!, w, 'tar --checkpoint-action=exec'));
      }
      return out;
    case 'git':
      gitCode(v, out);
      return out;
    case 'vi':
    case 'vim':
    case 'nvim':
    case 'ex':
    case 'view':
    case 'rvim':
    case 'gvim':
    case 'vimdiff':
      for (let i = 0; i < a.length; i++) {
        const w = a[i]!;
        const t = w.text;
        const cmd =
          t === '-c' || t === '--cmd'
            ? a[i + 1]
            : t.startsWith('+') && !/^\+\d*$/.test(t) && !t.startsWith('+/')
              ? w
              : undefined;
        if (!cmd) continue;
        const text = cmd === w ? t.slice(1) : cmd.text;
        for (const s of exShell(text)) out.push(code(s, cmd, `${v.prog} shell command`));
        const lang = /(?:^|[|:\s])(py(?:thon)?3?|pyx|lua|perl|ruby)\s+([\s\S]*)$/.exec(text);
        if (lang) {
          const cc = codeCommands(lang[2]!, langOf(lang[1]!.replace(/^py.*/, 'python')));
          pushCode(cc, cmd, `${v.prog} ${lang[1]} code`, out);
        }
        if (cmd !== w) i++;
      }
      return out;
    case 'emacs':
      for (const x of values(a, ['-eval', '--eval'], ['--eval'])) {
        for (const m of x.value.matchAll(
          /\((?:shell-command(?:-to-string)?|call-process-shell-command|async-shell-command)\s+"((?:[^"\\]|\\.)*)"/g,
        ))
          out.push(code(m[1]!.replace(/\\(.)/g, '$1'), x.word, 'emacs shell-command'));
        for (const m of x.value.matchAll(/\(start-process-shell-command\s+"[^"]*"\s+\S+\s+"((?:[^"\\]|\\.)*)"/g))
          out.push(code(m[1]!.replace(/\\(.)/g, '$1'), x.word, 'emacs start-process-shell-command'));
      }
      return out;
    case 'awk':
    case 'gawk':
    case 'mawk':
    case 'nawk': {
      const o = parseOpts(a, 'fFvei', ['file', 'field-separator', 'assign', 'source', 'include', 'load', 'exec']);
      const progs: { text: string; word: Word }[] = [];
      for (const x of values(a, ['-e'], ['--source'])) progs.push({ text: x.value, word: x.word });
      const script = o.pos[0];
      if (!o.values.has('f') && !o.long.has('file') && !o.values.has('e') && !o.long.has('source') && script)
        progs.push({ text: script.text, word: script });
      for (const p of progs) pushCode(codeCommands(p.text, 'awk'), p.word, `${v.prog} system()`, out);
      return out;
    }
    case 'sed': {
      const scripts = values(a, ['-e'], ['--expression']);
      if (!scripts.length) {
        const o = parseOpts(a, 'efl', ['expression', 'file', 'line-length']);
        const script = o.pos[0];
        if (!o.values.has('f') && !o.long.has('file') && script) scripts.push({ value: script.text, word: script });
      }
      for (const s of scripts) for (const c of sedExecCommands(s.value)) out.push(code(c, s.word, 'sed e command'));
      return out;
    }
    case 'strace':
    case 'ltrace':
      for (const x of values(a, ['-o'], ['--output']))
        if (/^[|!]/.test(x.value)) out.push(code(x.value.slice(1), x.word, `${v.prog} -o |command`));
      return out;
    case 'gh': {
      // gh alias set [--shell] NAME EXPANSION: a shell expansion runs when the alias is used.
      if (a[0]?.text !== 'alias' || a[1]?.text !== 'set') return NONE;
      const pos = a.slice(2).filter((w) => !w.text.startsWith('-'));
      const shell = a.some((w) => w.text === '--shell' || w.text === '-s');
      const exp = pos[1];
      if (exp && (shell || exp.text.startsWith('!')))
        out.push(code(exp.text.replace(/^!/, ''), exp, 'gh alias (shell expansion)'));
      return out;
    }
    case 'wget':
      for (const x of values(a, [], ['--use-askpass'])) out.push(code(quoted(x.value), x.word, 'wget --use-askpass'));
      return out;
    case 'tmux':
      return tmuxCode(a);
    case 'screen': {
      if (
        a.some((w) => w.text === '-X' || w.text === '-r' || w.text === '-x' || w.text === '-ls' || w.text === '-list')
      )
        return NONE;
      const inner = argvAfter(a, 'SchepTst', ['logfile']);
      return argvCode(inner, 'screen');
    }
    default:
      return unlistedWrapper(v);
  }
}

function pushCode(cc: ReturnType<typeof codeCommands>, w: Word, what: string, out: OptionCode[]): void {
  for (const s of cc.shell) out.push({ text: s, dynamic: w.dynamic, what });
  for (const argv of cc.argv) out.push({ text: argv.map(quoted).join(' '), dynamic: w.dynamic, what });
}

/** GNU sed `e COMMAND` (the command runs to the end of its line). `s///e` and a bare `e` run the pattern space: not visible here. */
export function sedExecCommands(script: string): string[] {
  const out: string[] = [];
  for (const m of script.matchAll(
    /(?:^|[;\n{}])\s*(?:(?:\d+|\$|\/(?:[^/\\\n]|\\.)*\/)(?:\s*,\s*(?:\d+|\$|\/(?:[^/\\\n]|\\.)*\/))?\s*!?\s*)?e[ \t]+([^\n]+)/g,
  ))
    out.push(m[1]!);
  return out;
}

/** tmux commands that take a shell command (joined trailing arguments), possibly chained with `;`. */
const TMUX_SHELL =
  /^(new-session|new|new-window|neww|split-window|splitw|respawn-pane|respawnp|respawn-window|respawnw|run-shell|run|if-shell|if|display-popup|popup|pipe-pane|pipep)$/;

function tmuxCode(a: readonly Word[]): OptionCode[] {
  const out: OptionCode[] = [];
  // Global options before the first command: -L/-S/-f/-c take values (`tmux -c CMD` runs CMD in a shell).
  let i = 0;
  for (; i < a.length; i++) {
    const t = a[i]!.text;
    const next = a[i + 1];
    if (t === '-c' && next) {
      out.push(code(next.text, next, 'tmux -c'));
      i++;
      continue;
    }
    if (/^-[LSfT]$/.test(t)) {
      i++;
      continue;
    }
    if (t.startsWith('-')) continue;
    break;
  }
  while (i < a.length) {
    const cmd = a[i]!.text;
    let j = i + 1;
    const words: Word[] = [];
    for (; j < a.length; j++) {
      const w = a[j]!;
      if (w.text === ';' || w.text === '\\;') break;
      words.push(w);
    }
    if (TMUX_SHELL.test(cmd)) {
      const valueLetters = /^(run-shell|run)$/.test(cmd)
        ? 'dct'
        : /^(display-popup|popup)$/.test(cmd)
          ? 'bcdehswxySTt'
          : /^(if-shell|if)$/.test(cmd)
            ? 't'
            : 'cCeFlnstxyf';
      const o = parseOpts(words, valueLetters, [], true);
      const first = o.posIdx[0];
      const pos = first === undefined ? [] : words.slice(first);
      // if-shell CMD CMD2 [CMD3]: only the first is a shell command; the rest are tmux commands.
      const shellWords = /^(if-shell|if)$/.test(cmd) ? pos.slice(0, 1) : pos;
      if (shellWords.length)
        out.push({
          text: shellWords.map((w) => w.text).join(' '),
          dynamic: shellWords.some((w) => w.dynamic),
          what: `tmux ${cmd}`,
        });
    }
    i = j + 1;
  }
  return out;
}
