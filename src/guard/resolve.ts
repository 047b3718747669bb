import { isExecEnvName } from '../core/exec-env.js';
import type { SimpleCommand } from './extract.js';
import type { KnownVars } from './words.js';

/**
 * Which of the caller's environment variables the guard may treat as known static values in one
 * shell line, so that `trap "$P" EXIT`, `eval "$P"`, `bash -c "$P"` and `$P args` are judged as
 * the code they hold instead of only "unknown". A wrong value here would be a bypass (the guard
 * judges `ls`, bash runs `rm`), so a variable is known only where nothing can have changed it:
 *
 * - the line names it only as `$NAME` or `${NAME}` (any other mention, such as `NAME=`, `read
 *   NAME`, `for NAME in`, `${NAME:=x}`, `unset NAME`, `(( NAME++ ))`, makes it unknown);
 * - no other known value mentions it (a value run as code could assign it);
 * - no command of the line can assign a variable whose name the guard cannot see: `source`/`.`
 *   anywhere, or `eval`/`trap`/`alias`/`read`/`printf -v`/`declare`/`export`/… with an argument
 *   that is unknown or spells a known name (checked after extraction, see `stillKnown`);
 * - it is not a variable bash sets itself (RANDOM, PWD, BASH_*…) or one on the exec-env list;
 * - its value holds no vault handle (`{{vault:` is filled with a secret after the guard judged).
 *
 * Unquoted expansions are split on the default IFS, so they are resolved only when the line does
 * not mention IFS (bash does not import IFS from the environment).
 */

/** Variables bash maintains or resets itself: their value is never the caller's. */
const BASH_MANAGED = /^(BASH\w*|RANDOM|SRANDOM|SECONDS|LINENO|PPID|UID|EUID|PWD|OLDPWD|SHLVL|GROUPS|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|OPTIND|OPTARG|OPTERR|REPLY|PIPESTATUS|EPOCHSECONDS|EPOCHREALTIME|COLUMNS|LINES|HISTCMD|DIRSTACK|FUNCNAME|MAPFILE|COPROC|COMP_\w+|COMPREPLY|READLINE_\w+|_)$/;

/**
 * Builtins that assign a variable named by an argument, or run an argument as code in the current
 * shell: harmless to known values when every argument is known and names none of them.
 */
const ASSIGNERS: ReadonlySet<string> = new Set(['read', 'mapfile', 'readarray', 'printf', 'getopts', 'wait', 'let', 'unset', 'export', 'declare', 'typeset', 'local', 'readonly', 'eval', 'trap', 'alias', 'bind', 'complete', 'compgen']);
/** Builtins that run code the guard never sees in the current shell: nothing stays known. */
const UNSEEN_CODE: ReadonlySet<string> = new Set(['source', '.', 'enable']);

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/g;
/** `source x` / `. x` / `enable -f` as words inside code text. */
const SOURCES = /(^|[\s;&|(`"'])(source|\.|enable)(\s|$)/;

/** Identifiers in `text` that are not read as a plain `$NAME` / `${NAME}` (each name once). */
function otherMentions(text: string, names: ReadonlySet<string>, out: Set<string>): void {
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(text); m; m = IDENT.exec(text)) {
    const name = m[0];
    if (!names.has(name) || out.has(name)) continue;
    const at = m.index;
    const end = at + name.length;
    const plain = (text[at - 1] === '$' && text[at - 2] !== '\\') || (text[at - 1] === '{' && text[at - 2] === '$' && text[end] === '}');
    if (!plain) out.add(name);
  }
}

export interface LevelKnown {
  /** Variables resolved in this line (undefined: none). */
  here: KnownVars | undefined;
  /** The caller's variables as a shell started by this line would still see them (for nested levels). */
  passDown: ReadonlyMap<string, string>;
}

const NONE: ReadonlyMap<string, string> = new Map();

/** The known variables for `text`, given the environment it inherits. */
export function knownFor(text: string, env: ReadonlyMap<string, string>): LevelKnown {
  if (!env.size) return { here: undefined, passDown: NONE };
  const names = new Set<string>();
  for (const [k, v] of env) {
    if (BASH_MANAGED.test(k) || isExecEnvName(k) || v.includes('{{vault:')) continue;
    names.add(k);
  }
  if (!names.size) return { here: undefined, passDown: NONE };
  const unstable = new Set<string>();
  otherMentions(text, names, unstable);
  for (const k of names) {
    const v = env.get(k) ?? '';
    if (v) otherMentions(v.replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' '), names, unstable);
  }
  const passDown = new Map<string, string>();
  const here = new Map<string, string>();
  for (const k of names) {
    if (unstable.has(k)) continue;
    const v = env.get(k) as string;
    passDown.set(k, v);
    if (text.includes('$' + k) || text.includes('${' + k + '}')) here.set(k, v);
  }
  return { here: here.size ? { values: here, unquoted: !/(^|[^A-Za-z0-9_])IFS([^A-Za-z0-9_]|$)/.test(text) } : undefined, passDown };
}

/**
 * After extraction: false when a command of the line can assign a variable by a name the guard
 * cannot see (see the file comment), in which case nothing is known in this line or below it.
 */
export function stillKnown(commands: readonly SimpleCommand[], names: ReadonlySet<string>): boolean {
  const mentions = new Set<string>();
  for (const c of commands) {
    const a = c.argv;
    // The builtin this command runs: its name, after `builtin`/`command` (which run builtins here).
    let i = 0;
    while (i < a.length - 1 && (a[i].text === 'builtin' || a[i].text === 'command' || (i > 0 && a[i].text.startsWith('-')))) i++;
    const head = a[i];
    if (head && head.dynamic && !head.fields) return false; // could be any builtin
    if (head && UNSEEN_CODE.has(head.text)) return false;
    let assigner = c.declaration === true || (head !== undefined && ASSIGNERS.has(head.text));
    if (!assigner) for (const w of a) if (ASSIGNERS.has(w.text)) assigner = true;
    if (!assigner) continue;
    // Code these builtins run here (eval, trap, alias …) may itself source a file.
    for (const w of a) if (SOURCES.test(w.text)) return false;
    for (const w of a) {
      if (w.dynamic && !w.fields) return false;
      otherMentions(w.text, names, mentions);
      if (mentions.size) return false;
    }
  }
  return true;
}
