import { isExecEnvName } from '../core/index.js';
import type { SimpleCommand } from './extract.js';
import type { Node } from './parser.js';
import { evalWord, type KnownVars, type WordHooks } from './words.js';

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
const BASH_MANAGED =
  /^(BASH\w*|RANDOM|SRANDOM|SECONDS|LINENO|PPID|UID|EUID|PWD|OLDPWD|SHLVL|GROUPS|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|OPTIND|OPTARG|OPTERR|REPLY|PIPESTATUS|EPOCHSECONDS|EPOCHREALTIME|COLUMNS|LINES|HISTCMD|DIRSTACK|FUNCNAME|MAPFILE|COPROC|COMP_\w+|COMPREPLY|READLINE_\w+|_)$/;

/**
 * Builtins that assign a variable named by an argument, or run an argument as code in the current
 * shell: harmless to known values when every argument is known and names none of them.
 */
const ASSIGNERS: ReadonlySet<string> = new Set([
  'read',
  'mapfile',
  'readarray',
  'printf',
  'getopts',
  'wait',
  'let',
  'unset',
  'export',
  'declare',
  'typeset',
  'local',
  'readonly',
  'eval',
  'trap',
  'alias',
  'bind',
  'complete',
  'compgen',
]);
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
    const plain =
      (text[at - 1] === '$' && text[at - 2] !== '\\') ||
      (text[at - 1] === '{' && text[at - 2] === '$' && text[end] === '}');
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
  return {
    here: here.size ? { values: here, unquoted: !/(^|[^A-Za-z0-9_])IFS([^A-Za-z0-9_]|$)/.test(text) } : undefined,
    passDown,
  };
}

/**
 * After extraction: false when a command of the line can assign a variable by a name the guard
 * cannot see (see the file comment), in which case nothing is known in this line or below it.
 */
export function stillKnown(commands: readonly SimpleCommand[], names: ReadonlySet<string>): boolean {
  const mentions = new Set<string>();
  for (const c of commands) {
    // The resolved assignments themselves (`export x=v`) are what made the names known.
    if (c.lineSite) continue;
    const a = c.argv;
    // The builtin this command runs: its name, after `builtin`/`command` (which run builtins here).
    let i = 0;
    while (i < a.length - 1) {
      const t = a[i]!.text;
      if (t !== 'builtin' && t !== 'command' && !(i > 0 && t.startsWith('-'))) break;
      i++;
    }
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

/* ------------------------------------------------------------------------------------------- */
/*  The line's own assignments (issue 14 item 4): `x=pu; y=sh; git $x$y --force` is git push.   */
/* ------------------------------------------------------------------------------------------- */

/**
 * What the line itself assigns, resolved the way bash would run it, so `x=pu; y=sh; git $x$y` is
 * judged as `git push` and `a=(rm -rf /); "${a[@]}"` as `rm -rf /`. A wrong value here is a bypass,
 * so a variable is resolved only when every assignment to it is a plain statement at the top level
 * of the line (`x=v`, `x+=v`, `x=(a b)`, `export x=v`, `declare [-x|-r|-g|-a] x=v`), run in the
 * line's own shell (not in a pipeline, subshell, substitution, `&`, `&&`/`||` branch, loop or
 * function), with a value the guard can evaluate; and when the line mentions the name nowhere
 * else except as `$x`, `${x}`, `${x[N]}`, `${x[@]}` or `${x[*]}` (so `read x`, `for x in`,
 * `printf -v x`, `(( x++ ))`, `${x:=v}`, `unset x`, `declare -n r=x`, `eval 'x=…'` make it
 * unknown everywhere). Names bash manages or that hijack execution (PATH …) are never resolved.
 * A statement's words see the values assigned by the statements before it; words inside a
 * function body see none (the function runs later). The analyzer still drops everything it
 * resolved when a command could assign a variable by a name it cannot see (`stillKnown`).
 */
export interface LinePlan {
  /** The variables known to the words of the top-level statement starting at `start`. */
  at(start: number): KnownVars | undefined;
  /** For function bodies: only what did not come from the line's assignments. */
  readonly outside: KnownVars | undefined;
  /** Names the plan resolves somewhere (for `stillKnown`). */
  readonly names: ReadonlySet<string>;
  /** Start offsets of the top-level statements that are the assignments themselves. */
  readonly sites: ReadonlySet<number>;
}

type Value = { s: string } | { a: readonly string[] } | null;

/** Declaration flags that keep a value as written (no -i arithmetic, -l/-u case, -n nameref, -A). */
const PLAIN_DECLARE_FLAGS = /^-[xrga]+$/;

/** Top-level statements that are plain assignments: their assignment nodes, or undefined. */
function siteAssignments(stmt: Node, next: Node | null): Node[] | undefined {
  if (next && !next.isNamed && next.type === '&') return undefined;
  if (stmt.type === 'variable_assignment') return [stmt];
  if (stmt.type === 'variable_assignments')
    return stmt.namedChildren.every((c) => c.type === 'variable_assignment') ? stmt.namedChildren : undefined;
  if (stmt.type === 'declaration_command') {
    const kw = stmt.child(0)?.type;
    if (kw !== 'export' && kw !== 'declare' && kw !== 'typeset' && kw !== 'readonly') return undefined;
    const out: Node[] = [];
    for (const c of stmt.namedChildren) {
      if (c.type === 'variable_assignment') out.push(c);
      else if (c.type === 'word' && PLAIN_DECLARE_FLAGS.test(c.text)) continue;
      else return undefined;
    }
    return out;
  }
  return undefined;
}

/** The assigned name when it is a plain identifier (not `a[1]=`, not `1x=`). */
function siteName(a: Node): string | undefined {
  const n = a.childForFieldName('name');
  return n && n.type === 'variable_name' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n.text) ? n.text : undefined;
}

function isAppendNode(a: Node): boolean {
  for (const c of a.children) if (!c.isNamed && c.type === '+=') return true;
  return false;
}

/** Every mention of `name` in `src` is a plain read (`$x`, `${x}`, `${x[N|@|*]}`) or one of the sites. */
function onlyPlainMentions(src: string, name: string, sites: ReadonlySet<number>): boolean {
  const re = new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`, 'g');
  for (let m = re.exec(src); m; m = re.exec(src)) {
    const at = m.index;
    const end = at + name.length;
    if (sites.has(at)) continue;
    if (src[at - 1] === '$' && src[at - 2] !== '\\') continue;
    if (src[at - 1] === '{' && src[at - 2] === '$' && src[at - 3] !== '\\') {
      if (src[end] === '}') continue;
      if (/^\[(@|\*|\d{1,6})\]\}/.test(src.slice(end, end + 10))) continue;
    }
    return false;
  }
  return true;
}

/** Hooks for evaluating an assignment's value: substitutions make it unknown, as does anything odd. */
function valueHooks(known: () => KnownVars | undefined): { hooks: WordHooks; odd: { v: boolean } } {
  const odd = { v: false };
  const hooks: WordHooks = {
    subst: () => {
      odd.v = true;
    },
    unknown: () => {
      odd.v = true;
    },
    get known() {
      return known();
    },
  };
  return { hooks, odd };
}

/** Evaluates an assignment's value as bash stores it (no word splitting, no pathname expansion). */
function valueOf(a: Node, hooks: WordHooks, odd: { v: boolean }): Value {
  const v = a.childForFieldName('value');
  if (!v) return { s: '' };
  if (v.type === 'array') {
    const els: string[] = [];
    for (const c of v.namedChildren) {
      if (c.type === 'comment') continue;
      odd.v = false;
      const w = evalWord(c, hooks);
      // Elements are words: split, globbed and brace-expanded (only a known split is exact).
      if (odd.v || w.glob || (w.dynamic && !w.fields)) return null;
      if (w.fields) els.push(...w.fields);
      else els.push(w.text);
    }
    return { a: els };
  }
  odd.v = false;
  const w = evalWord(v, hooks);
  // Brace and pathname expansion do not happen in an assignment; a tilde after `=` does (the
  // guard keeps it as `~`, which path rules read as home). Known unquoted values are not split.
  if (odd.v || (w.dynamic && !w.fields) || (/(^|[^\\])\{[^}]*(,|\.\.)[^}]*\}/.test(v.text) && w.glob)) return null;
  return { s: w.text };
}

/**
 * The plan for a line whose tree is `root`. `env`: the caller's variables known at this level
 * (src/guard/resolve.ts knownFor), which the line's assignments shadow from where they run.
 */
export function planLine(root: Node, src: string, env: KnownVars | undefined): LinePlan | undefined {
  if (root.type !== 'program' || !/[A-Za-z_][A-Za-z0-9_]*\+?=/.test(src)) return undefined;
  const kids = root.children;
  // Pass 1: the plain sites and their names.
  const stmts: { start: number; sites: Node[] | undefined }[] = [];
  const siteStarts = new Set<number>();
  const nameAt = new Set<number>();
  const names = new Set<string>();
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i]!;
    if (!k.isNamed || k.type === 'comment') continue;
    const sites = siteAssignments(k, kids[i + 1] ?? null);
    const ok = sites?.every((a) => siteName(a) !== undefined);
    stmts.push({ start: k.startIndex, sites: ok ? sites : undefined });
    if (!ok || !sites) continue;
    siteStarts.add(k.startIndex);
    for (const a of sites) {
      const n = siteName(a) as string;
      names.add(n);
      nameAt.add(a.childForFieldName('name')!.startIndex);
    }
  }
  if (!names.size) return undefined;
  const stable = new Set<string>();
  for (const n of names) {
    if (BASH_MANAGED.test(n) || isExecEnvName(n) || n === 'IFS') continue;
    if (onlyPlainMentions(src, n, nameAt)) stable.add(n);
  }
  if (!stable.size) return undefined;
  const unquoted = !/(^|[^A-Za-z0-9_])IFS([^A-Za-z0-9_]|$)/.test(src);
  // Pass 2: run the sites in order, keeping a snapshot before each top-level statement.
  const values = new Map<string, Value>();
  let current: KnownVars | undefined = env;
  const snapshots = new Map<number, KnownVars | undefined>();
  const { hooks, odd } = valueHooks(() => current);
  for (const st of stmts) {
    snapshots.set(st.start, current);
    if (!st.sites) continue;
    let changed = false;
    for (const a of st.sites) {
      const n = siteName(a) as string;
      if (!stable.has(n)) continue;
      let v = valueOf(a, hooks, odd);
      if (isAppendNode(a)) {
        const prev = values.get(n);
        if (prev === undefined || prev === null || v === null) v = null;
        else if ('s' in prev && 's' in v) v = { s: prev.s + v.s };
        else if ('a' in prev && 'a' in v) v = { a: [...prev.a, ...v.a] };
        else if ('a' in prev && 's' in v) v = { a: [(prev.a[0] ?? '') + v.s, ...prev.a.slice(1)] };
        else v = null;
      }
      values.set(n, v);
      changed = true;
    }
    if (changed) current = merged(env, values, unquoted);
  }
  const outsideValues = env === undefined ? undefined : withoutNames(env, stable);
  return {
    at: (start) => (snapshots.has(start) ? snapshots.get(start) : outsideValues),
    outside: outsideValues,
    names: stable,
    sites: siteStarts,
  };
}

/** The caller's known values overlaid with the line's (an unknown line value hides the caller's). */
function merged(env: KnownVars | undefined, line: ReadonlyMap<string, Value>, unquoted: boolean): KnownVars {
  const values = new Map<string, string>(env?.values ?? []);
  const arrays = new Map<string, readonly string[]>(env?.arrays ?? []);
  for (const [n, v] of line) {
    values.delete(n);
    arrays.delete(n);
    if (v === null) continue;
    if ('s' in v) values.set(n, v.s);
    else arrays.set(n, v.a);
  }
  return { values, arrays, unquoted: unquoted && (env?.unquoted ?? true) };
}

function withoutNames(env: KnownVars, names: ReadonlySet<string>): KnownVars {
  const values = new Map([...env.values].filter(([k]) => !names.has(k)));
  return { values, unquoted: env.unquoted };
}
