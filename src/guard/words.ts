import type { Node } from './parser.js';

/**
 * Word evaluation as bash would do it before running a command: quote removal, backslash
 * removal in unquoted text, `$'…'` decoding, concatenation. Anything whose value is only known
 * at run time (expansions, substitutions, globs, brace expansion) marks the word dynamic/glob,
 * so rules treat it as possibly the worst value. Never compare raw source text to rule names.
 */
export interface Word {
  /** Evaluated text; dynamic parts are kept as their source text (e.g. `$X`). */
  text: string;
  /** Contains a parameter expansion or substitution: real value unknown. */
  dynamic: boolean;
  /** Contains unquoted glob or brace-expansion characters: may match other names/paths. */
  glob: boolean;
  /** Source text of the word. */
  raw: string;
  /** Variable names referenced (never mutated; words without variables share one empty list). */
  vars: readonly string[];
  /** The static prefix before the first dynamic or glob part. */
  prefix: string;
  /**
   * Present when the word is dynamic only because of unquoted expansions of known variables
   * (KnownVars) whose values bash splits into several words: exactly the argv words bash builds
   * from it (none when the word vanishes). Absent for every other word.
   */
  fields?: readonly string[];
}

/**
 * Variables whose value the guard knows at this point of a line (the caller's `env`, where
 * src/guard/resolve.ts found nothing in the line that could change them). `$NAME` and `${NAME}`
 * of these evaluate to their value, as bash would; every other expansion stays dynamic.
 */
export interface KnownVars {
  values: ReadonlyMap<string, string>;
  /**
   * Indexed arrays whose elements the guard knows (assigned earlier in the same line, see
   * src/guard/resolve.ts): `${a[N]}`, `${a[@]}`, `"${a[@]}"`, `${a[*]}` and `$a` evaluate to them.
   */
  arrays?: ReadonlyMap<string, readonly string[]>;
  /**
   * Unquoted expansions are resolved too (word splitting on the default IFS). False when the line
   * mentions IFS: then only expansions inside double quotes (never split) are resolved.
   */
  unquoted: boolean;
}

export interface WordHooks {
  /** A command/process substitution inside the word: its commands run too. */
  subst(node: Node, kind: 'command' | 'process-in' | 'process-out'): void;
  /** A construct the evaluator does not understand: fail closed. */
  unknown(node: Node, why: string): void;
  /** Variables whose values are known here (absent: every expansion is dynamic). */
  known?: KnownVars;
}

/** `$HOME` and friends are treated as the home directory so path rules see `~`. */
const HOME_VARS = new Set(['HOME']);

/** `vars` is created on the first variable: most words have none. */
interface Acc {
  text: string;
  dynamic: boolean;
  glob: boolean;
  vars: string[] | undefined;
  prefix: string;
  prefixDone: boolean;
  /** A quoted part was seen (an empty field from it is a word bash keeps). */
  quoted: boolean;
  /** A dynamic part whose value is unknown was seen. */
  unknown: boolean;
  /** Offsets in `text` of [start, end) runs where bash splits a known unquoted value (flattened pairs). */
  breaks: number[] | undefined;
}

/** The shared variable list of a word without variables (frozen: a write would throw, not leak). */
const NO_VARS: readonly string[] = Object.freeze([]);

function lit(acc: Acc, s: string): void {
  acc.text += s;
  if (!acc.prefixDone) acc.prefix += s;
}
function dyn(acc: Acc, s: string): void {
  acc.text += s;
  acc.dynamic = true;
  acc.unknown = true;
  acc.prefixDone = true;
}

/** Default IFS whitespace, and the glob characters a split value would still expand. */
const IFS_RUN = /[ \t\n]+/g;
const GLOB_CHAR = /[*?[]/;

/**
 * A known value of an unquoted expansion: bash splits it on IFS (and globs it). Kept as dynamic
 * text with its split points recorded, so evalWord can give the exact fields.
 */
function splitKnown(acc: Acc, value: string): void {
  const start = acc.text.length;
  acc.text += value;
  acc.dynamic = true;
  acc.prefixDone = true;
  const breaks = (acc.breaks ??= []);
  IFS_RUN.lastIndex = 0;
  for (let m = IFS_RUN.exec(value); m; m = IFS_RUN.exec(value))
    breaks.push(start + m.index, start + m.index + m[0].length);
  // An empty value is a break of length zero: the word may vanish.
  if (value === '') breaks.push(start, start);
}

/** The argv words of a word whose only dynamic parts were split known values, or undefined. */
function fieldsOf(acc: Acc): string[] | undefined {
  const b = acc.breaks;
  if (!b || acc.unknown || acc.glob) return undefined;
  const out: string[] = [];
  let from = 0;
  // `breaks` holds pairs (start, end): splitKnown pushes two at a time.
  for (let i = 0; i + 1 < b.length; i += 2) {
    out.push(acc.text.slice(from, b[i]!));
    from = b[i + 1]!;
  }
  out.push(acc.text.slice(from));
  const kept = out.filter((f) => f !== '');
  // `""$X` with X=' a': bash keeps the empty quoted field; not modelled, so the word stays unknown.
  if (acc.quoted && kept.length !== out.length) return undefined;
  return kept;
}

/** `$NAME` or `${NAME}` exactly (no operator, subscript, length or indirection). */
function plainExpansion(node: Node, name: string): boolean {
  const t = node.text;
  return t.length === name.length + 1 ? t === '$' + name : t.length === name.length + 3 && t === '${' + name + '}';
}

/** `"${NAME[@]}"` exactly (the whole word): the quoted elements of a known array, one word each. */
function quotedArrayFields(node: Node, hooks: WordHooks): string[] | undefined {
  const arrays = hooks.known?.arrays;
  if (arrays === undefined || node.type !== 'string') return undefined;
  const m = /^"\$\{([A-Za-z_][A-Za-z0-9_]*)\[@\]\}"$/.exec(node.text);
  const els = m ? arrays.get(m[1]!) : undefined;
  return els ? [...els] : undefined;
}

export function evalWord(node: Node, hooks: WordHooks): Word {
  const exact = quotedArrayFields(node, hooks);
  if (exact) {
    const name = /[A-Za-z_][A-Za-z0-9_]*/.exec(node.text.slice(3))?.[0] ?? '';
    return {
      text: exact.join(' '),
      dynamic: true,
      glob: false,
      raw: node.text,
      vars: [name],
      prefix: '',
      fields: exact,
    };
  }
  const acc: Acc = {
    text: '',
    dynamic: false,
    glob: false,
    vars: undefined,
    prefix: '',
    prefixDone: false,
    quoted: false,
    unknown: false,
    breaks: undefined,
  };
  walk(node, acc, hooks, false);
  const w: Word = {
    text: acc.text,
    dynamic: acc.dynamic,
    glob: acc.glob,
    raw: node.text,
    vars: acc.vars ?? NO_VARS,
    prefix: acc.prefix,
  };
  if (acc.breaks) {
    const f = fieldsOf(acc);
    if (f) w.fields = f;
  }
  return w;
}

/** Builds a Word from a literal string (used for argv produced by unwrapping). */
export function literalWord(text: string): Word {
  return { text, dynamic: false, glob: false, raw: text, vars: NO_VARS, prefix: text };
}

export function dynamicWord(raw: string): Word {
  return { text: raw, dynamic: true, glob: false, raw, vars: NO_VARS, prefix: '' };
}

/** Concatenates words that bash would see as one (adjacent nodes, or a `\`-newline between). */
export function joinWords(a: Word, b: Word): Word {
  // tree-sitter can split one word inside a brace expansion (`]\ {a..c}` comes as `]\ {` and
  // `a..c}`): bash still expands it, so a brace opened in one part and closed in the next makes
  // the joined word a glob (judged as unknown), never the literal text.
  const seam = !a.glob && !b.glob && braceAcrossSeam(a.raw, b.raw);
  return {
    text: a.text + b.text,
    dynamic: a.dynamic || b.dynamic,
    glob: a.glob || b.glob || seam,
    raw: a.raw + b.raw,
    vars: a.vars.length || b.vars.length ? [...a.vars, ...b.vars] : NO_VARS,
    prefix: seam
      ? a.text.slice(0, Math.max(0, a.text.lastIndexOf('{')))
      : a.dynamic || a.glob || a.prefix !== a.text
        ? a.prefix
        : a.text + b.prefix,
  };
}

/** Whether a `{` in `a` and a `}` in `b` may form a brace expansion (`,` or `..` between them). */
function braceAcrossSeam(a: string, b: string): boolean {
  const open = a.lastIndexOf('{');
  if (open < 0) return false;
  const rest = a.slice(open + 1) + b;
  const close = rest.indexOf('}');
  if (close < 0) return false;
  const mid = rest.slice(0, close);
  return mid.includes(',') || mid.includes('..');
}

/** True when `s` has a character unquotedWord treats specially (`\\`, `*`, `?`, `[`, `{`). */
function hasWordSpecial(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 || c === 42 || c === 63 || c === 91 || c === 123) return true;
  }
  return false;
}

/** `$\\<newline>x`: bash removes the continuation first, so this is `$x`. */
const SPLIT_EXPANSION = /\$(\\\n)+[({[A-Za-z0-9_@*#?$!-]/;

function unquotedWord(acc: Acc, s: string): void {
  if (s.includes('\\\n') && SPLIT_EXPANSION.test(s)) {
    dyn(acc, s);
    return;
  }
  // Plain text (most words) is copied as is: the loop below would rebuild it one character at a
  // time, allocating a new string per character.
  if (!hasWordSpecial(s)) {
    lit(acc, s);
    return;
  }
  // Backslash removal (Codex PR #20277: compare after bash removes escapes).
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === undefined) break;
      if (n === '\n') {
        i++;
        continue;
      }
      if (!acc.prefixDone) {
        lit(acc, out);
        out = '';
      }
      out += n;
      i++;
      continue;
    }
    if (c === '*' || c === '?' || c === '[') {
      lit(acc, out);
      out = '';
      acc.text += c;
      acc.glob = true;
      acc.prefixDone = true;
      continue;
    }
    if (c === '{' && /[,]|\.\./.test(s.slice(i)) && s.indexOf('}', i) > i) {
      lit(acc, out);
      out = '';
      acc.text += c;
      acc.glob = true;
      acc.prefixDone = true;
      continue;
    }
    out += c;
  }
  lit(acc, out);
}

function stringContent(acc: Acc, s: string): void {
  // Without a backslash the loop below would only copy `s`, one character at a time.
  if (!s.includes('\\')) {
    lit(acc, s);
    return;
  }
  // Inside double quotes a backslash only escapes $ ` " \ and newline.
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '$' || n === '`' || n === '"' || n === '\\') {
        out += n;
        i++;
        continue;
      }
      if (n === '\n') {
        i++;
        continue;
      }
    }
    out += c;
  }
  lit(acc, out);
}

function walk(node: Node, acc: Acc, hooks: WordHooks, inString: boolean): void {
  switch (node.type) {
    case 'word':
    case 'number':
    case 'variable_name':
    case 'test_operator':
    case 'file_descriptor':
      if (inString) stringContent(acc, node.text);
      else unquotedWord(acc, node.text);
      return;
    case 'extglob_pattern':
      acc.text += node.text;
      acc.glob = true;
      acc.prefixDone = true;
      return;
    case 'string_content':
      stringContent(acc, node.text);
      return;
    case 'heredoc_content':
      lit(acc, node.text);
      return;
    case 'raw_string': {
      acc.quoted = true;
      const t = node.text;
      lit(acc, t.slice(1, t.length - 1));
      return;
    }
    case 'ansi_c_string': {
      acc.quoted = true;
      const t = node.text;
      lit(acc, decodeAnsiC(t.slice(2, t.length - 1)));
      return;
    }
    case 'heredoc_body': {
      const base = node.startIndex;
      const src = node.text;
      let pos = base;
      for (const c of node.children) {
        // tree-sitter leaves some characters (newlines) between children: they are content too.
        if (c.startIndex > pos) lit(acc, src.slice(pos - base, c.startIndex - base));
        walk(c, acc, hooks, true);
        pos = c.endIndex;
      }
      if (node.childCount === 0) lit(acc, node.text);
      else if (node.endIndex > pos) lit(acc, src.slice(pos - base));
      return;
    }
    case 'translated_string':
      acc.quoted = true;
      // `$"…"`: the `$` is not text; the string inside is.
      for (const c of node.namedChildren) walk(c, acc, hooks, true);
      return;
    case 'string': {
      acc.quoted = true;
      // The text between the quotes comes from the source, around the named parts: tree-sitter
      // folds leading blanks into the closing-quote token (`"\t"` has no content node) and keeps a
      // lone `$` (`"a$"`, `"$ "`) as a token. Both are literal text to bash.
      const base = node.startIndex;
      const src = node.text;
      // `"$\<newline>{a,b}"` is `${a,b}` to bash; tree-sitter reads `$` and text: fail closed.
      if (src.includes('\\\n') && SPLIT_EXPANSION.test(src)) {
        hooks.unknown(node, 'an expansion split by a line continuation');
        dyn(acc, src);
        return;
      }
      const end = src.length >= 2 && src.endsWith('"') ? src.length - 1 : src.length;
      let pos = src.startsWith('"') ? 1 : 0;
      for (const c of node.children) {
        if (!c.isNamed) continue;
        const at = c.startIndex - base;
        if (at > pos) quotedText(acc, hooks, node, src.slice(pos, at));
        walk(c, acc, hooks, true);
        pos = c.endIndex - base;
      }
      if (end > pos) quotedText(acc, hooks, node, src.slice(pos, end));
      return;
    }
    case 'concatenation': {
      const kids = node.children;
      for (let i = 0; i < kids.length; i++) {
        const c = kids[i]!;
        const unquoted = !c.isNamed || c.type === 'word' || c.type === 'number';
        // `rm$""`: a `$` right before a double-quoted string makes it a `$"…"` string; the `$`
        // itself is not text (tree-sitter leaves it at the end of the word before).
        const next = kids[i + 1];
        const text =
          unquoted &&
          !inString &&
          next &&
          next.isNamed &&
          next.startIndex === c.endIndex &&
          next.text.charCodeAt(0) === 34 /* " */ &&
          endsWithBareDollar(c.text)
            ? c.text.slice(0, -1)
            : undefined;
        if (text !== undefined) {
          unquotedWord(acc, text);
          continue;
        }
        // A bare `$` at the end of one part with a name, digit or special character starting the
        // next is a parameter expansion to bash, however tree-sitter split it.
        if (unquoted && !inString && endsWithPid(c.text)) {
          unquotedWord(acc, c.text.slice(0, -2));
          dyn(acc, '$$');
          continue;
        }
        if (
          unquoted &&
          !inString &&
          next &&
          next.startIndex === c.endIndex &&
          endsWithBareDollar(c.text) &&
          /^[A-Za-z0-9_@*#?!$({-]/.test(next.text)
        ) {
          unquotedWord(acc, c.text.slice(0, -1));
          dyn(acc, '$');
          continue;
        }
        if (!c.isNamed) {
          unquotedWord(acc, c.text);
          continue;
        }
        walk(c, acc, hooks, inString);
      }
      // Brace expansion can span parts tree-sitter splits (`{`, `a..c`, `}`): judge the whole word.
      if (!inString && !acc.glob && braceAcrossParts(kids)) {
        acc.glob = true;
        acc.prefixDone = true;
      }
      return;
    }
    case 'simple_expansion':
    case 'expansion': {
      const name = findVar(node);
      if (name) (acc.vars ??= []).push(name);
      if (
        name &&
        HOME_VARS.has(name) &&
        node.childCount <= 4 &&
        !node.text.includes(':') &&
        !node.text.includes('#') &&
        !node.text.includes('%') &&
        !node.text.includes('/', 2)
      ) {
        lit(acc, '~');
        return;
      }
      // A variable the caller set and nothing in the line changes (src/guard/resolve.ts): its value.
      const kv = hooks.known;
      const els = kv?.arrays !== undefined && name !== undefined ? kv.arrays.get(name) : undefined;
      if (els !== undefined && kv !== undefined && name !== undefined) {
        const v = arrayExpansion(node, name, els, inString, kv.unquoted);
        if (v !== undefined) {
          if (inString || v.quotedScalar) {
            lit(acc, v.text);
            return;
          }
          if (!GLOB_CHAR.test(v.text)) {
            if (v.text !== '' && !/[ \t\n]/.test(v.text)) lit(acc, v.text);
            else splitKnown(acc, v.text);
            return;
          }
        }
      }
      if (kv !== undefined && name !== undefined && plainExpansion(node, name)) {
        const value = kv.values.get(name);
        if (value !== undefined) {
          // In double quotes (and heredoc bodies) the value is one piece of the word, as is.
          if (inString) {
            lit(acc, value);
            return;
          }
          if (kv.unquoted && !GLOB_CHAR.test(value)) {
            if (value !== '' && !/[ \t\n]/.test(value)) lit(acc, value);
            else splitKnown(acc, value);
            return;
          }
        }
      }
      // Substitutions nested in ${x:-$(cmd)} still run.
      visitSubst(node, hooks);
      dyn(acc, node.text);
      return;
    }
    case 'command_substitution':
      hooks.subst(node, 'command');
      dyn(acc, node.text);
      return;
    case 'process_substitution':
      hooks.subst(node, node.text.startsWith('>(') ? 'process-out' : 'process-in');
      dyn(acc, node.text);
      return;
    case 'arithmetic_expansion':
      // `$((cat x))` is not arithmetic; shells differ on whether it runs as a command: fail closed.
      if (/[A-Za-z_./~-][\w./~-]*\s+[\w./~'"$-]/.test(node.text.slice(3, -2)))
        hooks.unknown(node, 'arithmetic expansion that looks like a command');
      visitSubst(node, hooks);
      dyn(acc, node.text);
      return;
    case 'brace_expression':
      acc.text += node.text;
      acc.glob = true;
      acc.prefixDone = true;
      return;
    case 'array': {
      // `NAME=(a b c)`: each element is a word of its own (substitutions in them run). As one text
      // the elements are joined by newlines, so a value later run as code (PROMPT_COMMAND=(…))
      // is judged one element per line.
      const parts: string[] = [];
      for (const c of node.namedChildren) {
        if (c.type === 'comment') continue;
        const w = evalWord(c, hooks);
        parts.push(w.text);
        if (w.dynamic) {
          acc.dynamic = true;
          acc.unknown = true;
        }
        if (w.glob) acc.glob = true;
        if (w.vars.length) (acc.vars ??= []).push(...w.vars);
      }
      acc.text += parts.join('\n');
      acc.prefixDone = true;
      if (!acc.dynamic && !acc.glob) acc.prefix = acc.text;
      return;
    }
    default:
      if (!node.isNamed && (node.type === '$' || node.type === '"')) {
        lit(acc, node.type === '$' ? '$' : '');
        return;
      }
      hooks.unknown(node, `unsupported word part "${node.type}"`);
      dyn(acc, node.text);
  }
}

/**
 * The value of an expansion of a known array, when its form is one the guard evaluates exactly:
 * `$a` / `${a}` (element 0), `${a[N]}` (a literal index), `${a[@]}` / `${a[*]}` unquoted (the
 * elements, split by the caller), `"${a[*]}"` (joined by a space; not when the line mentions IFS).
 * `"${a[@]}"` as a whole word is handled by evalWord; inside a larger quoted word it stays unknown.
 */
function arrayExpansion(
  node: Node,
  name: string,
  els: readonly string[],
  inString: boolean,
  ifsDefault: boolean,
): { text: string; quotedScalar?: boolean } | undefined {
  const t = node.text;
  if (t === '$' + name || t === '${' + name + '}') return { text: els[0] ?? '' };
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\[(@|\*|\d{1,6})\]\}$/.exec(t);
  if (!m || m[1] !== name) return undefined;
  const idx = m[2];
  if (idx === '@' || idx === '*') {
    if (inString && idx === '@') return undefined;
    if (!ifsDefault) return undefined;
    return { text: els.join(' '), quotedScalar: inString };
  }
  return { text: els[Number(idx)] ?? '' };
}

/** Unescaped `$` characters that end `s` (bash pairs them left to right into `$$`, the process id). */
function trailingDollars(s: string): number {
  let k = s.length;
  while (k > 0 && s[k - 1] === '$') k--;
  let run = s.length - k;
  let b = k;
  while (b > 0 && s[b - 1] === '\\') b--;
  if (run > 0 && (k - b) % 2 === 1) run--; // the first `$` is escaped
  return run;
}

/** True when `s` ends with a `$` that neither a backslash escapes nor a `$` before it pairs with. */
export function endsWithBareDollar(s: string): boolean {
  return trailingDollars(s) % 2 === 1;
}

/** True when `s` ends with `$$` (the process id) that tree-sitter may have left as text. */
export function endsWithPid(s: string): boolean {
  const n = trailingDollars(s);
  return n > 0 && n % 2 === 0;
}

/**
 * Literal text inside double quotes that no named node covers. Tree-sitter marks every expansion
 * as a node; if this text still holds one bash would expand (`$(`, `${`, `$name`, `` ` ``), the
 * parse missed it: fail closed.
 */
function quotedText(acc: Acc, hooks: WordHooks, node: Node, s: string): void {
  if (/(^|[^\\])(\\\\)*(`|\$(\\\n)*[({[A-Za-z0-9_@*#?$!-])/.test(s)) {
    hooks.unknown(node, 'an expansion inside double quotes the parser did not mark');
    dyn(acc, s);
    return;
  }
  stringContent(acc, s);
}

/**
 * Whether bash may brace-expand a word made of several parts: an unquoted, unescaped `{` followed
 * later by an unquoted `}` with an unquoted `,` or `..` between them. Quoted parts count as
 * ordinary characters that cannot be any of these. Conservative (bash is stricter about `..`).
 */
function braceAcrossParts(kids: readonly Node[]): boolean {
  let proj = '';
  for (const c of kids) {
    if (!c.isNamed || c.type === 'word' || c.type === 'number') proj += c.text.replace(/\\[\s\S]?/g, '__');
    else proj += '_';
  }
  const open = proj.indexOf('{');
  if (open < 0) return false;
  const close = proj.lastIndexOf('}');
  if (close < open) return false;
  const mid = proj.slice(open + 1, close);
  return mid.includes(',') || mid.includes('..');
}

function findVar(node: Node): string | undefined {
  for (const c of node.children) {
    if (c.type === 'variable_name' || c.type === 'special_variable_name') return c.text;
    if (c.type === 'subscript') return findVar(c);
  }
  return undefined;
}

/** Reports command substitutions anywhere below an expansion or arithmetic node. */
export function visitSubst(node: Node, hooks: WordHooks): void {
  for (const c of node.namedChildren) {
    if (c.type === 'command_substitution') hooks.subst(c, 'command');
    else if (c.type === 'process_substitution') hooks.subst(c, c.text.startsWith('>(') ? 'process-out' : 'process-in');
    else if (c.namedChildCount > 0) visitSubst(c, hooks);
  }
}

/**
 * Decodes the body of a `$'…'` string the way bash does. A NUL (`\0`, `\x00`, `\c@`, …) ends the
 * string: bash drops it and everything after it in the same `$'…'` (`$'rm\0x'` is `rm`). Bytes
 * 0x80-0xff from `\x`/octal escapes come out as U+0080-U+00FF (a JS string holds no raw bytes);
 * only ASCII matters to the rules, and no escape of that kind yields an ASCII character.
 */
export function decodeAnsiC(s: string): string {
  const out = decodeAnsiCFull(s);
  const nul = out.indexOf('\0');
  return nul < 0 ? out : out.slice(0, nul);
}

function decodeAnsiCFull(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    switch (n) {
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'e':
      case 'E':
        out += '\x1b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case "'":
        out += "'";
        break;
      case '"':
        out += '"';
        break;
      case '?':
        out += '?';
        break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1));
        if (m) {
          out += String.fromCharCode(parseInt(m[0], 16));
          i += m[0].length;
        } else out += '\\x';
        break;
      }
      case 'u':
      case 'U': {
        const m = (n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(s.slice(i + 1));
        if (m) {
          const cp = parseInt(m[0], 16);
          // Above U+10FFFF bash still writes (non-ASCII) bytes; U+FFFD stands for them.
          out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
          i += m[0].length;
        } else out += '\\' + n;
        break;
      }
      case 'c': {
        // bash: `\c` at the end is literal; `\c\\` is control-backslash; `\c?` is DEL; else the
        // control character of the (upper-cased) next byte.
        const cp = s.codePointAt(i + 1);
        if (cp === undefined) {
          out += '\\c';
          break;
        }
        if (cp === 0x5c && s[i + 2] === '\\') {
          out += '\x1c';
          i += 2;
          break;
        }
        if (cp === 0x3f) {
          out += '\x7f';
          i++;
          break;
        }
        if (cp < 0x80) {
          out += String.fromCharCode(cp & 0x1f);
          i++;
          break;
        }
        // A multibyte character: bash takes its first UTF-8 byte and keeps the rest as bytes.
        const bytes = Buffer.from(String.fromCodePoint(cp), 'utf8');
        out += String.fromCharCode((bytes[0] ?? 0) & 0x1f) + '\ufffd';
        i += cp > 0xffff ? 2 : 1;
        break;
      }
      default: {
        if (n !== undefined && n >= '0' && n <= '7') {
          const m = /^[0-7]{1,3}/.exec(s.slice(i));
          const m0 = m ? m[0] : n;
          out += String.fromCharCode(parseInt(m0, 8) & 0xff);
          i += m0.length - 1;
        } else if (n !== undefined) out += '\\' + n;
        else out += '\\';
      }
    }
  }
  return out;
}
