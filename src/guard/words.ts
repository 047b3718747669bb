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
}

export interface WordHooks {
  /** A command/process substitution inside the word: its commands run too. */
  subst(node: Node, kind: 'command' | 'process-in' | 'process-out'): void;
  /** A construct the evaluator does not understand: fail closed. */
  unknown(node: Node, why: string): void;
}

/** `$HOME` and friends are treated as the home directory so path rules see `~`. */
const HOME_VARS = new Set(['HOME']);

/** `vars` is created on the first variable: most words have none. */
interface Acc { text: string; dynamic: boolean; glob: boolean; vars: string[] | undefined; prefix: string; prefixDone: boolean }

/** The shared variable list of a word without variables (frozen: a write would throw, not leak). */
const NO_VARS: readonly string[] = Object.freeze([]);

function lit(acc: Acc, s: string): void {
  acc.text += s;
  if (!acc.prefixDone) acc.prefix += s;
}
function dyn(acc: Acc, s: string): void {
  acc.text += s;
  acc.dynamic = true;
  acc.prefixDone = true;
}

export function evalWord(node: Node, hooks: WordHooks): Word {
  const acc: Acc = { text: '', dynamic: false, glob: false, vars: undefined, prefix: '', prefixDone: false };
  walk(node, acc, hooks, false);
  return { text: acc.text, dynamic: acc.dynamic, glob: acc.glob, raw: node.text, vars: acc.vars ?? NO_VARS, prefix: acc.prefix };
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
  return {
    text: a.text + b.text,
    dynamic: a.dynamic || b.dynamic,
    glob: a.glob || b.glob,
    raw: a.raw + b.raw,
    vars: a.vars.length || b.vars.length ? [...a.vars, ...b.vars] : NO_VARS,
    prefix: a.dynamic || a.glob || a.prefix !== a.text ? a.prefix : a.text + b.prefix,
  };
}

/** True when `s` has a character unquotedWord treats specially (`\\`, `*`, `?`, `[`, `{`). */
function hasWordSpecial(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 || c === 42 || c === 63 || c === 91 || c === 123) return true;
  }
  return false;
}

function unquotedWord(acc: Acc, s: string): void {
  // Plain text (most words) is copied as is: the loop below would rebuild it one character at a
  // time, allocating a new string per character.
  if (!hasWordSpecial(s)) { lit(acc, s); return; }
  // Backslash removal (Codex PR #20277: compare after bash removes escapes).
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === undefined) break;
      if (n === '\n') { i++; continue; }
      if (!acc.prefixDone) { lit(acc, out); out = ''; }
      out += n;
      i++;
      continue;
    }
    if (c === '*' || c === '?' || c === '[') {
      lit(acc, out); out = '';
      acc.text += c; acc.glob = true; acc.prefixDone = true;
      continue;
    }
    if (c === '{' && /[,]|\.\./.test(s.slice(i)) && s.indexOf('}', i) > i) {
      lit(acc, out); out = '';
      acc.text += c; acc.glob = true; acc.prefixDone = true;
      continue;
    }
    out += c;
  }
  lit(acc, out);
}

function stringContent(acc: Acc, s: string): void {
  // Without a backslash the loop below would only copy `s`, one character at a time.
  if (!s.includes('\\')) { lit(acc, s); return; }
  // Inside double quotes a backslash only escapes $ ` " \ and newline.
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '$' || n === '`' || n === '"' || n === '\\') { out += n; i++; continue; }
      if (n === '\n') { i++; continue; }
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
      acc.text += node.text; acc.glob = true; acc.prefixDone = true;
      return;
    case 'string_content':
      stringContent(acc, node.text);
      return;
    case 'heredoc_content':
      lit(acc, node.text);
      return;
    case 'raw_string': {
      const t = node.text;
      lit(acc, t.slice(1, t.length - 1));
      return;
    }
    case 'ansi_c_string': {
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
    case 'string': {
      const base = node.startIndex;
      const src = node.text;
      let pos = -1;
      for (const c of node.children) {
        if (pos >= 0 && c.startIndex > pos) stringContent(acc, src.slice(pos - base, c.startIndex - base));
        pos = c.endIndex;
        if (!c.isNamed) {
          if (c.type === '"' || c.type === '$') continue;
          lit(acc, c.text);
          continue;
        }
        walk(c, acc, hooks, true);
      }
      return;
    }
    case 'concatenation':
      for (const c of node.children) {
        if (!c.isNamed) { unquotedWord(acc, c.text); continue; }
        walk(c, acc, hooks, inString);
      }
      return;
    case 'simple_expansion':
    case 'expansion': {
      const name = findVar(node);
      if (name) (acc.vars ??= []).push(name);
      if (name && HOME_VARS.has(name) && node.childCount <= 4 && !node.text.includes(':') && !node.text.includes('#') && !node.text.includes('%') && !node.text.includes('/', 2)) {
        lit(acc, '~');
        return;
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
      if (/[A-Za-z_./~-][\w./~-]*\s+[\w./~'"$-]/.test(node.text.slice(3, -2))) hooks.unknown(node, 'arithmetic expansion that looks like a command');
      visitSubst(node, hooks);
      dyn(acc, node.text);
      return;
    case 'brace_expression':
      acc.text += node.text; acc.glob = true; acc.prefixDone = true;
      return;
    default:
      if (!node.isNamed && (node.type === '$' || node.type === '"')) { lit(acc, node.type === '$' ? '$' : ''); return; }
      hooks.unknown(node, `unsupported word part "${node.type}"`);
      dyn(acc, node.text);
  }
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

/** Decodes the body of a `$'…'` string the way bash does. */
export function decodeAnsiC(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') { out += c; continue; }
    const n = s[++i];
    switch (n) {
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'e': case 'E': out += '\x1b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case "'": out += "'"; break;
      case '"': out += '"'; break;
      case '?': out += '?'; break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1));
        if (m) { out += String.fromCharCode(parseInt(m[0], 16)); i += m[0].length; } else out += '\\x';
        break;
      }
      case 'u': case 'U': {
        const m = (n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(s.slice(i + 1));
        if (m) {
          const cp = parseInt(m[0], 16);
          out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
          i += m[0].length;
        } else out += '\\' + n;
        break;
      }
      case 'c': {
        const ch = s[i + 1];
        if (ch !== undefined) { out += String.fromCharCode(ch.charCodeAt(0) & 0x1f); i++; }
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
