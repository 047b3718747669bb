import type { Node } from './parser.js';
import { truncateText } from '../core/index.js';

/**
 * Checks that a syntax tree is a faithful reading of its source text, independently of the
 * grammar. tree-sitter-bash sometimes misparses WITHOUT an error node: `ls \` \`<newline>rm -rf /`
 * comes back as ONE command whose name is a "concatenation" spanning the blank, the backticks and
 * the newline, so the walk would see `ls` alone while bash runs `rm -rf /` too. Error nodes cannot
 * catch this class; byte-level invariants of bash's own tokenizer can:
 *
 * 1. Unquoted word text: a leaf that the word evaluator reads as unquoted text (a `word`, `number`
 *    or a bare token glued into a concatenation) cannot contain an unescaped blank, newline or
 *    one of `; & | < > ( )` and backtick. Bash ends a word there (or starts a substitution), so a
 *    leaf holding one is several shell tokens the parser merged.
 * 2. Contiguity: the parts of one word (`concatenation`, `command_name`) touch each other and fill
 *    their parent; a gap between them is a word break bash sees and the tree does not.
 * 3. Gaps between sibling nodes hold only what tree-sitter may legally skip: blanks, newlines and
 *    `\`-newline continuations (comments are nodes). Inside one simple command or redirect a gap
 *    may not hold an unescaped newline: bash ends the command there. Text before or after the
 *    root is held to the same rule (`\ ` is an extra to tree-sitter, a word to bash).
 * 4. Comments: bash starts one only at a word boundary once `\`-newlines are removed, so a
 *    comment node right after `x\<newline>` is really the rest of a word (and what follows runs).
 * 5. Redirect boundaries: a redirect and the word beside it that touch with no blank between
 *    them are one word to bash unless an operator character stands at the seam. tree-sitter
 *    splits `<<< ''\echo rm -rf /` into the here-string `''` and a command `\echo`; bash reads
 *    the here-string word `''\echo` and runs `rm -rf /`. (Touching words without a redirect are
 *    joined by the extractor, as bash joins them.) Digits glued to a redirect operator are its
 *    descriptor to bash; tree-sitter reads `0<a rm -rf /` as a program `0`.
 *
 * Invariant (enforced by the caller): when any check fails the whole input is treated as
 * unparseable (fail-closed `parse.differential`, plus the conservative raw-text deny scan),
 * never as whatever the tree claims.
 */
export interface Unfaithful {
  node: Node;
  why: string;
}

/** Subtrees whose text is not unquoted shell words (quoted, here-doc, pattern or arithmetic text). */
const OPAQUE = new Set([
  'string',
  'translated_string',
  'raw_string',
  'ansi_c_string',
  'heredoc_body',
  'heredoc_start',
  'heredoc_end',
  'heredoc_content',
  'string_content',
  'regex',
  'comment',
  'ERROR',
  'extglob_pattern',
  'expansion',
  'arithmetic_expansion',
  'c_style_for_statement',
  'subscript',
  'test_operator',
]);

/** Nodes whose parts make up one shell word: no gaps allowed between or around them. */
const ONE_WORD = new Set(['concatenation', 'command_name', 'simple_expansion']);

/** Nodes that bash ends at an unescaped newline: gaps inside them may not contain one. */
const ONE_LINE = new Set([
  'command',
  'redirected_statement',
  'file_redirect',
  'herestring_redirect',
  'declaration_command',
  'unset_command',
  'variable_assignment',
]);

/** Nodes whose parts are separate shell words, each of which must end at a blank or an operator. */
const WORD_SEQUENCE = new Set(['command', 'redirected_statement', 'declaration_command', 'unset_command']);
const REDIRECTS = new Set(['file_redirect', 'herestring_redirect', 'heredoc_redirect']);

/** Whether `src[i]` ends a word in bash: an unescaped blank, newline or operator character. */
function breakAt(src: string, i: number): boolean {
  const c = src[i];
  if (c === undefined) return true;
  if (
    c !== ' ' &&
    c !== '\t' &&
    c !== '\n' &&
    c !== ';' &&
    c !== '&' &&
    c !== '|' &&
    c !== '<' &&
    c !== '>' &&
    c !== '(' &&
    c !== ')'
  )
    return false;
  let k = i;
  while (k > 0 && src[k - 1] === '\\') k--;
  return (i - k) % 2 === 0;
}

/**
 * Whether two nodes, one ending at `end` and the next starting at `start`, touch to bash: nothing
 * between them but `\`-newline continuations (which bash removes), and no operator at the seam.
 */
function touches(src: string, end: number, start: number): boolean {
  for (let i = end; i < start; i += 2) if (src[i] !== '\\' || src[i + 1] !== '\n') return false;
  return !breakAt(src, end - 1) && !breakAt(src, start);
}

/** Whether a whole word of digits ends right at `at` (bash then reads it as a redirect's descriptor). */
function digitsWordBefore(src: string, at: number): boolean {
  let i = at;
  while (i > 0 && src.charCodeAt(i - 1) >= 48 && src.charCodeAt(i - 1) <= 57) i--;
  if (i === at) return false;
  // `\`-newline continuations vanish before bash splits words: look past them.
  while (i >= 2 && src[i - 1] === '\n' && src[i - 2] === '\\' && !breakAt(src, i - 1)) i -= 2;
  return breakAt(src, i - 1);
}

/** Unquoted leaf types the evaluator reads as shell word text. */
const WORD_LEAVES = new Set(['word', 'number']);

/** Index of the first unescaped word-breaking character in unquoted text, or -1. */
function wordBreak(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (
      c === ' ' ||
      c === '\t' ||
      c === '\n' ||
      c === ';' ||
      c === '&' ||
      c === '|' ||
      c === '<' ||
      c === '>' ||
      c === '(' ||
      c === ')' ||
      c === '`'
    )
      return i;
  }
  return -1;
}

/**
 * A gap tree-sitter may skip: blanks/newlines and `\`-newline continuations (no newline when
 * `oneLine`). Reads `src[from, to)` in place: slicing out every gap between tokens was a string
 * allocation per node on the hot path.
 */
function gapOk(src: string, from: number, to: number, oneLine: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = src.charCodeAt(i);
    if (c === 32 /* space */ || c === 9 /* tab */) continue;
    if (c === 10 /* \n */ && !oneLine) continue;
    if (c === 92 /* \\ */ && i + 1 < to && src.charCodeAt(i + 1) === 10) {
      i++;
      continue;
    }
    return false;
  }
  return true;
}

/**
 * Bash starts a comment only at the beginning of a word, after `\`-newline continuations are
 * removed: `ls x\<newline>#; rm -rf /` runs `ls x#` and then `rm -rf /`, while tree-sitter reads a
 * comment after the continuation.
 */
function commentStartsWord(src: string, at: number): boolean {
  let i = at;
  for (;;) {
    if (src[i - 1] !== '\n') break;
    let k = i - 1;
    while (k > 0 && src[k - 1] === '\\') k--;
    // An even run of backslashes is escaped backslashes: the newline is a real line end.
    if ((i - 1 - k) % 2 === 0) break;
    i -= 2;
  }
  if (i === at || i === 0) return true;
  if (!/[\s;&|()<>]/.test(src.charAt(i - 1))) return false;
  // The separator itself may be escaped (`x\ \<newline>#` is the word `x #`).
  let k = i - 1;
  while (k > 0 && src[k - 1] === '\\') k--;
  return (i - 1 - k) % 2 === 0;
}

/**
 * Bash reads `$$` greedily: in `x$$'…'` the quote's `$` pairs with the one before it (the process
 * id) and `'…'` is a plain single-quoted string, while tree-sitter reads a `$'…'` string.
 */
function pairedDollar(src: string, at: number): boolean {
  let k = at;
  while (k > 0 && src.charCodeAt(k - 1) === 36 /* $ */) k--;
  let run = at - k;
  let b = k;
  while (b > 0 && src.charCodeAt(b - 1) === 92 /* \\ */) b--;
  if ((k - b) % 2 === 1) run--; // the first `$` is escaped
  return run > 0 && run % 2 === 1;
}

/**
 * Where bash's lexer ends a `$'…'` string: a backslash always takes the next character with it,
 * and the first other `'` closes. tree-sitter-bash gets `$'\\' …'` wrong (it runs on to a later
 * quote), hiding the commands in between.
 */
function ansiCEnd(t: string): number {
  for (let i = 2; i < t.length; i++) {
    if (t[i] === '\\') {
      i++;
      continue;
    }
    if (t[i] === "'") return i + 1;
  }
  return -1;
}

/** `A=\\<newline> a`: bash reads `A=` and a word `a`; tree-sitter may take `a` as the value. */
function assignmentContiguous(n: Node, src: string): boolean {
  const kids = n.children;
  for (let i = 0; i + 1 < kids.length; i++) {
    const kid = kids[i]!;
    if (kid.isNamed || (kid.type !== '=' && kid.type !== '+=')) continue;
    return /^(\\\n)*$/.test(src.slice(kid.endIndex, kids[i + 1]!.startIndex));
  }
  return true;
}

/** First unfaithful spot in the tree, or undefined. Iterative: deep trees cannot overflow the stack. */
export function findUnfaithful(root: Node, src: string): Unfaithful | undefined {
  // Text outside the root (`\ ` before a comment is an extra to tree-sitter, a word to bash).
  if (!gapOk(src, 0, root.startIndex, false) || !gapOk(src, root.endIndex, src.length, false))
    return { node: root, why: 'text the parser skipped at the edge of the command is shell syntax' };
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop() as Node;
    if (n.type === 'comment' && !commentStartsWord(src, n.startIndex))
      return { node: n, why: 'a "#" that the parser reads as a comment continues a word in bash' };
    if (n.type === 'variable_assignment' && !assignmentContiguous(n, src))
      return { node: n, why: 'the parser joined a value to an assignment across a blank' };
    if (n.type === 'translated_string' && n.text[1] !== '"')
      return { node: n, why: 'a "$" the parser joins to a later string is text to bash' };
    if (n.type === 'ansi_c_string' && ansiCEnd(n.text) !== n.text.length)
      return { node: n, why: "bash ends this $'…' string elsewhere" };
    if ((n.type === 'ansi_c_string' || n.type === 'translated_string') && pairedDollar(src, n.startIndex))
      return { node: n, why: 'a "$" before the quoting makes "$$" (the process id) in bash' };
    if (OPAQUE.has(n.type) || n.isMissing) continue;
    // `[!a]` or `[[x]]` glued to what follows is one word to bash (a glob naming a program), not a test.
    if (n.type === 'test_command' && /^\[\[?[^\s[]/.test(n.text)) {
      return { node: n, why: 'a "[" glued to the next word is a glob to bash, not a test' };
    }
    // `{` opens a group only as a word of its own: `{}` or `{x;}` is a program name to bash.
    if (n.type === 'compound_statement' && n.text[0] === '{' && !/\s/.test(n.text[1] ?? '')) {
      return { node: n, why: 'a "{" glued to the next character is a word to bash, not a group' };
    }
    // An empty group or subshell is a syntax error to bash: nothing on the line runs as read.
    if (
      (n.type === 'compound_statement' || n.type === 'subshell') &&
      !n.namedChildren.some((k) => k.type !== 'comment')
    ) {
      return { node: n, why: 'an empty group is a syntax error to bash' };
    }
    if (
      n.type === 'file_redirect' &&
      n.children[0]?.type !== 'file_descriptor' &&
      digitsWordBefore(src, n.startIndex)
    ) {
      return {
        node: n,
        why: 'digits before the redirect are its file descriptor to bash; the parser read them as a word',
      };
    }
    const kids = n.children;
    if (!kids.length) {
      if (WORD_LEAVES.has(n.type) && wordBreak(n.text) >= 0)
        return { node: n, why: `the parser read "${n.text}" as one word; bash splits it` };
      continue;
    }
    const oneWord = ONE_WORD.has(n.type);
    const oneLine = ONE_LINE.has(n.type);
    const sequence = WORD_SEQUENCE.has(n.type);
    let pos = n.startIndex;
    let prev: Node | undefined;
    for (const c of kids) {
      if (
        sequence &&
        c.isNamed &&
        prev &&
        c.endIndex > c.startIndex &&
        (REDIRECTS.has(prev.type) || REDIRECTS.has(c.type)) &&
        touches(src, prev.endIndex, c.startIndex)
      ) {
        return { node: n, why: 'the parser ended a redirect where bash continues the word' };
      }
      if (c.isNamed && c.endIndex > c.startIndex) prev = c;
      if (c.startIndex > pos) {
        if (oneWord) return { node: n, why: 'the parser joined text that bash reads as separate words' };
        if (!gapOk(src, pos, c.startIndex, oneLine))
          return {
            node: n,
            why: `text the parser skipped (${JSON.stringify(truncateText(src.slice(pos, c.startIndex), 20))}) is shell syntax`,
          };
      }
      // Bare tokens glued into a word are unquoted word text too (`` `` `` swallowing a newline).
      if (oneWord && !c.isNamed && wordBreak(c.text) >= 0)
        return { node: n, why: `the parser read "${c.text}" as part of a word; bash does not` };
      if (c.endIndex > pos) pos = c.endIndex;
      stack.push(c);
    }
    if (pos < n.endIndex && !gapOk(src, pos, n.endIndex, oneLine || oneWord))
      return { node: n, why: 'text at the end of a node that the parser skipped is shell syntax' };
    if (oneWord && pos < n.endIndex)
      return { node: n, why: 'the parser joined text that bash reads as separate words' };
  }
  return undefined;
}
