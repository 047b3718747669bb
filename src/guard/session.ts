import { execEnvEntry, EXEC_ENV_VERDICT, type ExecEnvEntry } from '../core/index.js';
import { texts, type View } from './argv.js';
import type { SimpleCommand } from './extract.js';
import { finding, hardDeny, type Finding } from './types.js';
import type { Word } from './words.js';

/**
 * Rules for a line typed into an interactive session at its shell's own prompt (issue 21.1-2).
 * The guard judges each send alone, so anything that changes how LATER input is read or run is
 * refused or sent to a person, whatever it does now:
 *
 * | class | verdict | why |
 * | --- | --- | --- |
 * | assignment (any form) to a loader/shell-startup name: PS0-PS4, PROMPT_COMMAND, BASH_ENV, LD_* … | deny | runs code at every prompt or program start, and moves the prompt marker the session relies on |
 * | assignment to any other exec-env name (PATH, HOME, IFS, CDPATH, EDITOR …) | approve | later names, paths or words resolve elsewhere |
 * | `alias` definitions, function definitions | approve | a later command name runs other code (the body is judged too) |
 * | `bind`, `complete`, `compopt`, `stty` | approve | keys and completion run or type commands later |
 * | `set` options beyond -e/-u/-x/-v/-C/-f/pipefail…, `shopt -s/-u`, `enable`, `hash -p` | approve | change how later lines are parsed, expanded or resolved (histexpand, keyword, interactive_comments, expand_aliases …) |
 * | `trap` (set or reset) | approve | the handler runs later (it is judged as code too) |
 * | `history` beyond listing, `fc` beyond `-l`, `!` history expansion forms, `^a^b` | approve | re-runs text the guard judged in another send, or never saw |
 * | `exec` (with or without a command) | approve | replaces the shell, or redirects where it reads commands from |
 * | `source`/`.` | approve | runs a file whose content the guard does not see |
 * | a shell (or `script`, `tmux`, `screen`) reading the terminal | approve | a nested shell reads later sends with its own options (history expansion, aliases on again) |
 * | any program that reads code from the terminal in the background (`&`, `setsid`, `coproc`) | approve | it competes with the shell for later sends |
 * `cd`, `ls`, `git status`, `export FOO=bar` and other lines that leave no state behind are unaffected.
 */

const ap = (rule: string, reason: string, matched: string): Finding => finding('approve', rule, reason, matched);

/** Verdict for a change to `name` in the session's shell, or undefined when the name is not on the exec-env list. */
export function sessionNameFinding(name: string, how: string, matched: string): Finding | undefined {
  const e = execEnvEntry(name);
  if (!e) return undefined;
  return entryFinding(e, name, how, matched);
}

function entryFinding(e: ExecEnvEntry, name: string, how: string, matched: string): Finding {
  const reason = `in an interactive session, ${how} ${name}: ${e.reason}, for every later line`;
  return EXEC_ENV_VERDICT[e.class] === 'deny'
    ? hardDeny('session.hijack-name', reason, matched)
    : ap('session.hijack-name', reason, matched);
}

/** `set` options that change nothing about how later lines are read, resolved or run. */
const SAFE_SET_LETTERS = /^[-+][euxvCfn]+$/;
const SAFE_SET_OPTIONS = new Set([
  'errexit',
  'nounset',
  'xtrace',
  'verbose',
  'noclobber',
  'pipefail',
  'noglob',
  'noexec',
]);

/** Names a builtin assigns: `read NAME`, `printf -v NAME`, `mapfile NAME`, `declare -n r=NAME` …, with whether one is dynamic. */
export function assignedNames(prog: string, args: readonly Word[]): { names: string[]; dynamic: boolean } {
  const names: string[] = [];
  let dynamic = false;
  const take = (w: Word | undefined): void => {
    if (!w) return;
    if (w.dynamic) {
      dynamic = true;
      return;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[|\+?=|$)/.exec(w.text);
    if (m) names.push(m[1]!);
  };
  const a = args;
  switch (prog) {
    case 'read':
      for (let i = 0; i < a.length; i++) {
        const t = a[i]!.text;
        if (/^-[A-Za-z]*a$/.test(t)) {
          take(a[++i]);
          continue;
        }
        if (/^-[A-Za-z]*[dinNptu]$/.test(t)) {
          i++;
          continue;
        }
        if (t.startsWith('-')) continue;
        take(a[i]);
      }
      break;
    case 'printf':
      for (const [i, w] of a.entries()) if (w.text === '-v') take(a[i + 1]);
      break;
    case 'mapfile':
    case 'readarray': {
      const pos = a.filter((w, i) => !w.text.startsWith('-') && !/^-[dnOstuC]$/.test(a[i - 1]?.text ?? ''));
      take(pos[pos.length - 1]);
      break;
    }
    case 'getopts':
      take(a[1]);
      break;
    case 'wait':
      for (const [i, w] of a.entries()) if (w.text === '-p') take(a[i + 1]);
      break;
    case 'let':
    case 'unset':
      for (const w of a) if (!w.text.startsWith('-')) take(w);
      break;
    default:
      break;
  }
  return { names, dynamic };
}

/** A declaration (`export`, `declare`, `local`, `readonly`, `typeset`): the names it sets, including nameref targets. */
export function declaredNames(c: SimpleCommand): { names: string[]; dynamic: boolean; functions: boolean } {
  const names: string[] = [];
  let dynamic = false;
  let nameref = false;
  let functions = false;
  for (const w of c.argv.slice(1)) {
    if (/^-[A-Za-z]+$/.test(w.text)) {
      if (w.text.includes('n')) nameref = true;
      if (w.text.includes('f') || w.text.includes('F')) functions = true;
      continue;
    }
    if (w.dynamic && !/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(w.text)) {
      dynamic = true;
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?=(.*))?$/s.exec(w.text);
    if (!m) continue;
    names.push(m[1]!);
    // `declare -n ref=PS1`: assigning ref later assigns PS1.
    if (nameref && m[4] !== undefined) {
      if (w.dynamic) dynamic = true;
      else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[4])) names.push(m[4]);
    }
  }
  return { names, dynamic, functions };
}

/** Session findings for one argv (a program with its arguments, after wrappers). */
export function sessionArgvRule(v: View): Finding[] {
  const a = texts(v.args);
  const m = v.text;
  switch (v.prog) {
    case 'alias':
      return v.args.some((w) => w.text.includes('=') || w.dynamic)
        ? [ap('session.alias', 'defines an alias: a later command name would run other code', m)]
        : [];
    case 'bind':
      return a.length && !a.every((x, i) => /^-[pPsSvVl]+$/.test(x) || a[i - 1] === '-q' || x === '-q')
        ? [ap('session.readline', 'changes readline key bindings: later keys would type or run commands', m)]
        : [];
    case 'complete':
    case 'compopt':
      return a.length && !(a.length === 1 && a[0] === '-p') && !a.every((x) => x === '-p' || !x.startsWith('-'))
        ? [ap('session.completion', `${v.prog} changes what Tab completion runs later`, m)]
        : [];
    case 'set': {
      for (let i = 0; i < a.length; i++) {
        const x = a[i]!;
        if (x === '--' || x === '-') break;
        if (x === '-o' || x === '+o') {
          const name = a[i + 1];
          if (name !== undefined && !SAFE_SET_OPTIONS.has(name))
            return [ap('session.shell-option', `set ${x} ${name} changes how later lines are read or run`, m)];
          i++;
          continue;
        }
        if (/^[-+][A-Za-z]+$/.test(x)) {
          // `set -euo pipefail`: an `o` among the letters takes the next word as an option name.
          const letters = x.slice(1).replace('o', '');
          if (!SAFE_SET_LETTERS.test(x[0] + (letters || 'e')))
            return [ap('session.shell-option', `set ${x} changes how later lines are read or run`, m)];
          if (x.includes('o')) {
            const name = a[++i];
            if (name !== undefined && !SAFE_SET_OPTIONS.has(name))
              return [ap('session.shell-option', `set ${x} ${name} changes how later lines are read or run`, m)];
          }
          continue;
        }
        if (!x.startsWith('-') && !x.startsWith('+')) break;
      }
      return v.args.some((w) => w.dynamic)
        ? [ap('session.shell-option', 'set with options only known at run time', m)]
        : [];
    }
    case 'shopt':
      return a.some((x) => /^-[A-Za-z]*[suo]/.test(x)) || v.args.some((w) => w.dynamic)
        ? [ap('session.shell-option', 'shopt changes how later lines are parsed, expanded or run', m)]
        : [];
    case 'enable':
      return a.length && !a.every((x) => /^-[aps]+$/.test(x))
        ? [ap('session.shell-option', 'enable adds or removes builtins that later command names resolve to', m)]
        : [];
    case 'hash':
      return a.some((x) => /^-[A-Za-z]*p/.test(x))
        ? [ap('session.shell-option', 'hash -p makes a later command name run another file', m)]
        : [];
    case 'trap':
      return a.length && !a.every((x) => /^-[lp]+$/.test(x))
        ? [ap('session.trap', 'sets or resets a trap: its handler runs later, outside any send', m)]
        : [];
    case 'history':
      return a.length && !(a.length === 1 && /^\d+$/.test(a[0]!))
        ? [ap('session.history', 'changes the history list that later lines could re-run', m)]
        : [];
    case 'fc':
      return a.some((x) => /^-[A-Za-z]*l/.test(x)) && !a.some((x) => x === '-s' || x === '-e')
        ? []
        : [ap('session.history', 'fc runs commands from the history, which the guard does not see', m)];
    case 'exec':
      return [
        ap(
          'session.exec',
          v.args.length
            ? "exec replaces the session's shell: later lines go to another program"
            : "exec without a command redirects where the session's shell reads or writes",
          m,
        ),
      ];
    case 'source':
    case '.':
      return [
        ap('session.source', `${v.prog} runs a file in the session's shell whose content the guard does not see`, m),
      ];
    case 'stty':
      return a.length && !a.every((x) => /^(-a|--all|-g|--save|size|speed|-F|--file=.*)$/.test(x))
        ? [ap('session.terminal', 'stty changes how the terminal reads later input (control characters, echo)', m)]
        : [];
    case 'script':
    case 'tmux':
    case 'screen':
    case 'byobu':
    case 'zellij':
      return [ap('session.nested-shell', `${v.prog} starts a new shell that reads the session's later input`, m)];
    case 'read':
    case 'printf':
    case 'mapfile':
    case 'readarray':
    case 'getopts':
    case 'wait':
    case 'let':
    case 'unset': {
      const { names, dynamic } = assignedNames(v.prog, v.args);
      const out: Finding[] = [];
      if (dynamic && v.prog !== 'printf' && v.prog !== 'let')
        out.push(ap('session.dynamic-name', `${v.prog} assigns a variable whose name is only known at run time`, m));
      if (dynamic && v.prog === 'printf')
        out.push(ap('session.dynamic-name', 'printf -v assigns a variable whose name is only known at run time', m));
      for (const n of names) {
        const f = sessionNameFinding(n, `${v.prog} sets`, m);
        if (f) out.push(f);
      }
      return out;
    }
    default:
      return [];
  }
}

/** `${NAME:=…}` / `${NAME=…}` and `(( NAME op= … ))` assign too; found in the line's text. */
export function textAssignments(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?=/g)) out.push(m[1]!);
  for (const m of line.matchAll(/\(\(([^)]*)\)\)/g)) {
    for (const n of m[1]!.matchAll(
      /([A-Za-z_][A-Za-z0-9_]*)\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)|([A-Za-z_][A-Za-z0-9_]*)\s*(?:\+\+|--)|(?:\+\+|--)\s*([A-Za-z_][A-Za-z0-9_]*)/g,
    )) {
      const name = n[1] ?? n[2] ?? n[3];
      if (name !== undefined) out.push(name);
    }
  }
  return out;
}

/**
 * A history expansion bash would perform on `line` with `histexpand` on (`!!`, `!-1`, `!rm`,
 * `!?x?`, `!$` …, or `^a^b` at the start of a line), or undefined. Outside single quotes only, as
 * bash reads it; `!` before a blank, `=`, `(` or the end, and `$!`/`${!`, are not expansions.
 */
export function historyExpansion(line: string): string | undefined {
  let single = false;
  let double = false;
  let lineStart = true;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\n') {
      lineStart = true;
      continue;
    }
    if (lineStart && (c === ' ' || c === '\t')) continue;
    if (lineStart && c === '^' && !single && !double) return line.slice(i, i + 20).split('\n')[0];
    lineStart = false;
    if (single) {
      if (c === "'") single = false;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === "'" && !double) {
      single = true;
      continue;
    }
    if (c === '"') {
      double = !double;
      continue;
    }
    if (c !== '!') continue;
    const n = line[i + 1];
    if (n === undefined || n === ' ' || n === '\t' || n === '\n' || n === '\r' || n === '=' || n === '(') continue;
    if (double && n === '"') continue;
    if (line[i - 1] === '$' || (line[i - 1] === '{' && line[i - 2] === '$')) continue;
    return line.slice(i, i + 20).split(/\s/)[0];
  }
  return undefined;
}
