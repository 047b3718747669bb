import { parseOpts, texts, type View } from './argv.js';
import { codeCommands, langOf } from './code-literals.js';
import type { SimpleCommand } from './extract.js';
import { OPTION_CODE_PROGS, optionCode } from './option-code.js';
import { inlineCode, INTERPRETERS } from './rules-sys.js';
import { stdinUse } from './stdin.js';
import type { Word } from './words.js';

/**
 * Code that bash builtins carry in their arguments and run later or at once (issue 14 item 0:
 * embedded code never hides behind allow): `trap 'CMD' SIG`, `alias x='CMD'`, `bind -x '"k": CMD'`,
 * `bind '"k": "typed text"'`, `complete -C CMD`, `compgen -C CMD`, `complete -W '$(CMD)'`,
 * `mapfile -C CMD`; array subscripts bash evaluates as arithmetic (`let 'a[$(CMD)]=1'`,
 * `printf -v 'a[$(CMD)]'`, `read 'a[$(CMD)]'`, `test -v 'a[$(CMD)]'`, `getopts o 'a[$(CMD)]'`,
 * `wait -p 'a[$(CMD)]'`, and in declarations `declare 'a[$(CMD)]'`, `declare -n r='a[$(CMD)]'`,
 * `unset 'a[$(CMD)]'`); prompt and hook values set by builtins (`printf -v PS4 '$(CMD)'`, `read
 * PROMPT_COMMAND <<< CMD`); values stored for later evaluation (`x='a[$(CMD)]'` runs CMD when `x`
 * is used in arithmetic, `BASH_ALIASES[x]='CMD'` defines an alias). Beyond builtins: program
 * options that run commands (src/guard/option-code.ts) and commands literal in inline interpreter
 * code (src/guard/code-literals.ts). The analyzer judges each string as a command line (or
 * approves when it is only known at run time).
 */
export interface EmbeddedCode {
  text: string;
  /** The string is only known at run time. */
  dynamic: boolean;
  /** Runs in the shell that ran the builtin (its state changes are that shell's). */
  sameShell: boolean;
  what: string;
}

/** Bash key sequences in readline syntax: `"\C-x": …` or `keyname: …`. */
function bindValue(arg: string): string | undefined {
  const m = /^\s*(?:"(?:[^"\\]|\\.)*"|[^\s:"]+)\s*:\s*(.*)$/s.exec(arg);
  return m ? m[1] : undefined;
}

/** A readline macro's text as typed (`"rm -rf ~\n"` -> `rm -rf ~` and a line end). */
function macroText(v: string): string {
  const q = /^"((?:[^"\\]|\\.)*)"/.exec(v.trim());
  const body = q ? q[1]! : v.trim();
  return body
    .replace(/\\(["'\\])/g, '$1')
    .replace(/\\[nrCeM]-?./g, '\n')
    .replace(/\\[nr]/g, '\n');
}

const NONE: EmbeddedCode[] = [];

/** Builtins embeddedCode() reads. */
const CODE_BUILTINS: ReadonlySet<string> = new Set([
  'trap',
  'alias',
  'bind',
  'complete',
  'compgen',
  'let',
  'printf',
  'read',
  'mapfile',
  'readarray',
  'getopts',
  'wait',
  'test',
  '[',
]);

/**
 * Whether embeddedCode() may find code in an argv of `prog` (the analyzer asks it for these, and
 * for every command that has a redirect or standard input). Cheap: one Set lookup and, for the
 * rest, the interpreter name pattern.
 */
export function mayEmbedCode(prog: string): boolean {
  return CODE_BUILTINS.has(prog) || OPTION_CODE_PROGS.has(prog) || INTERPRETERS.test(prog);
}

/** Heredoc delimiter for expansion-only text (if the text holds it, the text is not judged but approved). */
const EXPANSION_EOF = '__GATEHOUSE_EXPANDED__';

/** Text bash expands (parameter expansion, `$(…)`, backquotes, arithmetic), as a line that expands it the same way. */
export function expansionCode(
  text: string,
  what: string,
  dynamic: boolean,
  sameShell = true,
): EmbeddedCode | undefined {
  if (!/\$\(|`|\$\{|\$\[/.test(text)) return undefined;
  if (dynamic || text.includes(EXPANSION_EOF)) return { text: '', dynamic: true, sameShell, what };
  return { text: `: <<${EXPANSION_EOF}\n${text}\n${EXPANSION_EOF}\n`, dynamic: false, sameShell, what };
}

/** A variable name operand with a subscript (`a[$(CMD)]`): bash evaluates the subscript (arithmetic, substitutions included). */
function subscriptCode(w: Word | undefined, what: string): EmbeddedCode | undefined {
  if (!w) return undefined;
  const b = w.text.indexOf('[');
  if (b <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*\[/.test(w.text)) return undefined;
  return expansionCode(w.text.slice(b), `${what} (array subscript)`, false);
}

/**
 * Variables whose value a tool runs as a command (src/core/exec-env.ts lists why each hijacks
 * execution): `LESSOPEN='|CMD %s'`, `PAGER`, `EDITOR`, `GIT_SSH_COMMAND`, `SUDO_ASKPASS` … The
 * value is judged as that command line (`%s`-style placeholders become a file name).
 */
const COMMAND_VAR =
  /^(LESSOPEN|LESSCLOSE|PAGER|MANPAGER|GIT_PAGER|SYSTEMD_PAGER|PSQL_PAGER|BAT_PAGER|DELTA_PAGER|EDITOR|VISUAL|GIT_EDITOR|GIT_SEQUENCE_EDITOR|SUDO_EDITOR|FCEDIT|BROWSER|GIT_SSH_COMMAND|GIT_SSH|GIT_PROXY_COMMAND|SSH_ASKPASS|SUDO_ASKPASS|GIT_ASKPASS|GIT_EXTERNAL_DIFF|RSYNC_RSH|CVS_RSH|RSH|MANOPT|LESSKEYIN|PERLDOC_PAGER|KUBE_EDITOR|TERMINAL)$/;

export function commandVarCode(name: string, value: string, dynamic: boolean): EmbeddedCode | undefined {
  if (!COMMAND_VAR.test(name) || value.trim() === '') return undefined;
  const text =
    name === 'BROWSER' ? (value.split(':')[0] ?? '') : value.replace(/^\s*(\|\||\||-)/, '').replace(/%[sS]/g, 'file');
  return { text, dynamic, sameShell: false, what: `${name} (a command the tool runs)` };
}

/** Prompt and hook variables: a value assigned to them is code (judged as bash expands or runs it). */
const PROMPT_VAR = /^PS[0-4]$/;
export function hookCode(name: string, value: string, dynamic: boolean, what: string): EmbeddedCode | undefined {
  const base = name.replace(/\[.*$/, '');
  if (base === 'PROMPT_COMMAND')
    return { text: value, dynamic, sameShell: true, what: `${what} (PROMPT_COMMAND runs it before every prompt)` };
  if (PROMPT_VAR.test(base)) return expansionCode(value, `${what} (${base} is expanded before it is printed)`, dynamic);
  return undefined;
}

export function embeddedCode(v: View): EmbeddedCode[] {
  const p = v.prog;
  if (!mayEmbedCode(p)) return NONE;
  if (!CODE_BUILTINS.has(p) || p === 'printf' || p === 'read' || p === 'test' || p === '[') {
    const out: EmbeddedCode[] = [];
    if (OPTION_CODE_PROGS.has(p))
      for (const c of optionCode(v)) out.push({ text: c.text, dynamic: c.dynamic, sameShell: false, what: c.what });
    if (INTERPRETERS.test(p)) interpreterCode(v, out);
    if (CODE_BUILTINS.has(p)) arithmeticNames(v, out);
    return out.length ? out : NONE;
  }
  const out: EmbeddedCode[] = [];
  if (p === 'let' || p === 'mapfile' || p === 'readarray' || p === 'getopts' || p === 'wait') {
    arithmeticNames(v, out);
    return out;
  }
  if (p === 'trap') {
    // trap [-lp] [[ARG] SIGSPEC …]: ARG is run when a signal (or DEBUG/ERR/RETURN/EXIT) fires.
    let i = 0;
    while (i < v.args.length && /^-[lp]+$/.test(v.args[i]!.text)) i++;
    if (v.args[i]?.text === '--') i++;
    const rest = v.args.slice(i);
    const h = rest[0];
    if (h && rest.length >= 2) {
      if (h.text !== '-' && (h.text !== '' || h.dynamic))
        out.push({ text: h.text, dynamic: h.dynamic, sameShell: true, what: 'trap handler' });
    }
    return out;
  }
  if (p === 'alias') {
    for (const w of v.args) {
      const eq = w.text.indexOf('=');
      if (eq > 0)
        out.push({
          text: w.text.slice(eq + 1),
          dynamic: w.dynamic,
          sameShell: true,
          what: `alias ${w.text.slice(0, eq)}`,
        });
      else if (w.dynamic) out.push({ text: w.text, dynamic: true, sameShell: true, what: 'alias' });
    }
    return out;
  }
  if (p === 'bind') {
    const a = texts(v.args);
    for (let i = 0; i < v.args.length; i++) {
      const w = v.args[i]!;
      const x = w.text;
      if (x === '-x' || (/^-[A-Za-z]*x$/.test(x) && !/[fqurmpPsSvVlX]/.test(x.slice(1, -1)))) {
        const val = bindValue(a[i + 1] ?? '');
        out.push({
          text: val ?? a[i + 1] ?? '',
          dynamic: v.args[i + 1]?.dynamic ?? false,
          sameShell: true,
          what: 'bind -x key command',
        });
        i++;
        continue;
      }
      if (x === '-m' || x === '-f' || x === '-q' || x === '-u' || x === '-r') {
        i++;
        continue;
      }
      if (x.startsWith('-')) continue;
      const val = bindValue(x);
      // A macro (a quoted string) is text readline types into the line, which bash then runs.
      if (val !== undefined && val.trim().startsWith('"'))
        out.push({ text: macroText(val), dynamic: w.dynamic, sameShell: true, what: 'bind macro (typed text)' });
    }
    return out;
  }
  if (p === 'complete' || p === 'compgen') {
    for (let i = 0; i < v.args.length; i++) {
      const arg = v.args[i]!;
      const t = arg.text;
      const next = v.args[i + 1];
      if (t === '-C') {
        if (next) out.push({ text: next.text, dynamic: next.dynamic, sameShell: false, what: `${p} -C command` });
        i++;
      } else if (/^-[A-Za-z]*C./.test(t))
        out.push({
          text: t.slice(t.indexOf('C') + 1),
          dynamic: arg.dynamic,
          sameShell: false,
          what: `${p} -C command`,
        });
      else if (t === '-W' && next) {
        // The word list is expanded (command substitution included) when completion runs.
        const e = expansionCode(next.text, `${p} -W word list`, next.dynamic, false);
        if (e) out.push(e);
        i++;
      }
    }
  }
  return out;
}

/**
 * Arithmetic and name operands of builtins: `let EXPR…`, `printf -v NAME`, `read NAME…`, `getopts
 * OPTS NAME`, `wait -p NAME`, `test -v NAME`, `mapfile -C CALLBACK`, and prompt or hook variables
 * they set (`printf -v PS4 FMT`, `read PROMPT_COMMAND`, `mapfile PROMPT_COMMAND`).
 */
function arithmeticNames(v: View, out: EmbeddedCode[]): void {
  const a = v.args;
  const p = v.prog;
  const push = (e: EmbeddedCode | undefined): void => {
    if (e) out.push(e);
  };
  const stdin = v.sc.stdin;
  switch (p) {
    case 'let':
      for (const w of a) push(expansionCode(w.text, 'let (arithmetic)', false));
      return;
    case 'printf': {
      for (const [i, w] of a.entries()) {
        const name = a[i + 1];
        if (w.text !== '-v' || !name) continue;
        push(subscriptCode(name, 'printf -v'));
        const fmt = a[i + 2];
        if (fmt)
          push(
            hookCode(
              name.text,
              a
                .slice(i + 2)
                .map((w) => w.text)
                .join(' '),
              a.slice(i + 2).some((w) => w.dynamic),
              'printf -v',
            ),
          );
        return;
      }
      return;
    }
    case 'read': {
      const names: Word[] = [];
      for (let i = 0; i < a.length; i++) {
        const w = a[i]!;
        const t = w.text;
        const next = a[i + 1];
        if (/^-[A-Za-z]*a$/.test(t)) {
          if (next) names.push(next);
          i++;
          continue;
        }
        if (/^-[A-Za-z]*[dinNptu]$/.test(t)) {
          i++;
          continue;
        }
        if (t.startsWith('-')) continue;
        names.push(w);
      }
      for (const n of names) {
        push(subscriptCode(n, 'read'));
        if (stdin) push(hookCode(n.text, stdin.text.split('\n')[0] ?? '', stdin.dynamic, 'read'));
      }
      return;
    }
    case 'mapfile':
    case 'readarray': {
      const o = parseOpts(a, 'dnOsuCc', []);
      const cb = o.values.get('C');
      if (cb !== undefined) {
        const w = a.find((x) => x.text === cb || x.text === '-C' + cb);
        out.push({ text: cb, dynamic: w?.dynamic ?? false, sameShell: true, what: `${p} -C callback` });
      }
      const name = o.pos[0];
      if (name && stdin) {
        for (const line of stdin.text.split('\n').filter(Boolean).slice(0, 16))
          push(hookCode(name.text, line, stdin.dynamic, p));
      }
      return;
    }
    case 'getopts':
      push(subscriptCode(a[1], 'getopts'));
      return;
    case 'wait':
      for (const [i, w] of a.entries()) if (w.text === '-p') push(subscriptCode(a[i + 1], 'wait -p'));
      return;
    case 'test':
    case '[':
      for (const [i, w] of a.entries()) if (w.text === '-v') push(subscriptCode(a[i + 1], `${p} -v`));
      return;
    default:
      return;
  }
}

/** Commands literal in an interpreter's inline code (`-c`, `-e`, `-r`, `eval`) or in a script it reads from known stdin. */
function interpreterCode(v: View, out: EmbeddedCode[]): void {
  const lang = langOf(v.prog);
  const inline = inlineCode(v);
  const texts: { code: string; dynamic: boolean }[] = [];
  if (inline) texts.push({ code: inline.code, dynamic: inline.dynamic });
  else if (v.sc.stdin && !v.sc.stdin.dynamic && stdinUse(v).kind === 'code')
    texts.push({ code: v.sc.stdin.text, dynamic: false });
  for (const t of texts) {
    if (t.dynamic) continue;
    const cc = codeCommands(t.code, lang);
    for (const s of cc.shell)
      out.push({ text: s, dynamic: false, sameShell: false, what: `${v.prog} code runs a shell command` });
    for (const argv of cc.argv)
      out.push({
        text: argv.map(shellWord).join(' '),
        dynamic: false,
        sameShell: false,
        what: `${v.prog} code runs a program`,
      });
  }
}

/** One literal as a shell word. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Code in a declaration (`declare`, `local`, `typeset`, `readonly`, `export`, `unset`): subscripts
 * of the names it sets or unsets (`declare 'a[$(CMD)]=1'`, `unset 'a[$(CMD)]'`), nameref targets
 * (`declare -n r='a[$(CMD)]'`: reading `$r` evaluates the subscript), and values that are code
 * (see assignedCode). The analyzer's declaration path asks for these (it never runs argv rules).
 */
export function declarationCode(c: SimpleCommand): EmbeddedCode[] {
  const out: EmbeddedCode[] = [];
  const argv = c.argv;
  const prog = argv[0]?.text ?? '';
  let nameref = false;
  for (const w of argv.slice(1)) {
    if (/^[-+][A-Za-z]+$/.test(w.text)) {
      if (w.text.startsWith('-') && w.text.includes('n')) nameref = true;
      continue;
    }
    const eq = w.text.indexOf('=');
    const name = eq < 0 ? w.text : w.text.slice(0, eq);
    const b = name.indexOf('[');
    if (b > 0) {
      const e = expansionCode(name.slice(b), `${prog} (array subscript)`, false);
      if (e) out.push(e);
    }
    if (eq >= 0) {
      const value = w.text.slice(eq + 1);
      if (nameref) {
        const nb = value.indexOf('[');
        if (nb > 0) {
          const e = expansionCode(value.slice(nb), `${prog} -n (nameref subscript)`, false);
          if (e) out.push(e);
        }
      } else out.push(...assignedCode(name, { ...w, text: value }));
    }
  }
  return out;
}

/**
 * Code in an assigned value (`NAME=VALUE`, in any form): `BASH_ALIASES[x]=CMD` defines an alias,
 * `BASH_CMDS[x]=FILE` makes `x` run FILE, `PROMPT_COMMAND[i]=CMD` and `PS1`… are hooks, and a
 * literal value holding `$(…)`, backquotes or a subscripted name (`x='a[$(CMD)]'`) runs that code
 * when the variable is used in arithmetic (`$((x))`, `[[ $x -eq 1 ]]`), expanded with `${x@P}`, or
 * evaluated. The analyzer asks for these for every assignment (and the caller's env values).
 */
export function assignedCode(name: string, value: Word): EmbeddedCode[] {
  const base = name.replace(/\[.*$/s, '');
  if (base === 'BASH_ALIASES' && name !== base)
    return [{ text: value.text, dynamic: value.dynamic, sameShell: true, what: `${name} (an alias definition)` }];
  if (base === 'BASH_CMDS' && name !== base)
    return [{ text: '', dynamic: true, sameShell: true, what: `${name} (makes a command name run the file it names)` }];
  const hook = name !== base ? hookCode(name, value.text, value.dynamic, name) : undefined;
  if (hook) return [hook];
  const cmd = commandVarCode(name, value.text, value.dynamic);
  if (cmd) return [cmd];
  if (value.dynamic) return NONE;
  const e = expansionCode(value.text, `the value of ${name} (code bash runs when the variable is evaluated)`, false);
  return e ? [e] : NONE;
}
