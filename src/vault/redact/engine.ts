/**
 * The matching engine: a compiled set of literals (every form of every registered secret) and
 * shapes, matched in the raw text and in its views (views.ts), with the source spans merged and
 * replaced. `scan` also decides, for a stream, how much of a buffer is final (the cut).
 *
 * Cost: the common case (no escape introducer, no line break inside a possible match) is one
 * regex pass as before plus a scan of the line breaks; a decoded view is built only when the
 * text holds an escape that decodes to a character some literal or shape uses, and a wrapped
 * chain is matched only when a 4-character window across its join occurs in some literal.
 */
import { REDACTED } from '../../core/index.js';
import { BUILTIN_SHAPES, PEM_MAX, SHAPE_MAX, type Shape } from './shapes.js';
import { ANY_ESCAPE, candidatesFor, decodeView, type Decoded, type Relevance } from './decode.js';
import { INTRODUCER, MAX_ESCAPE, rootView, type Mode, type View } from './views.js';
import { GRAM, GRAM_BITS, gramHash, gramSet, wrapChains, type WrapIndex } from './wrap.js';

export interface Compiled extends WrapIndex {
  readonly mode: Mode;
  /** Literals (group L) and shapes (groups S0…), one alternation. */
  readonly all: RegExp;
  /** Literals only (line-joined chains), or undefined when there are none. */
  readonly lit: RegExp | undefined;
  readonly shapes: readonly Shape[];
  /** Longest match a view can hold (longest literal, or a bounded shape). */
  readonly maxMatch: number;
  /**
   * True when no literal or shape (PEM aside, which is held on its own) can contain a line break,
   * so matches in the raw and decoded views end at the next break: a stream may release every
   * line that no line-joined chain continues.
   */
  readonly releaseLines: boolean;
  /** Which decoded characters make a decoded view worth building. */
  readonly rel: Relevance;
}

export interface Span {
  s: number;
  e: number;
  rep: string;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const PEM_BEGIN = '-----BEGIN ';
const PEM_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----/;
/**
 * Characters the built-in shapes match (an escape decoding to one of them can complete a shape).
 * Quotes are not among them: the one shape that allows quotes accepts them backslash-escaped.
 */
const SHAPE_PUNCT = '-_./+=~: \t';
const SHAPE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789' + SHAPE_PUNCT;
/**
 * Where a built-in shape match starts (its prefix or the name before it), loosely: what must be
 * near an escaped punctuation character for a shape to be hidden behind it. PEM blocks need no
 * decoded view (the raw PEM shape spans escapes).
 */
const SHAPE_ANCHORS =
  /sk[-_]|rk_|gh[pousr]?_|github_pat_|xox[abprse]-|A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA)|[Bb]earer|BEARER|[Aa]ccess_?[Kk]ey|ACCESS_?KEY/g;

/** `literals` are in the mode's representation (bytes: latin1 strings of UTF-8 bytes). */
export function compile(literals: Iterable<string>, shapes: readonly Shape[], mode: Mode): Compiled {
  const lits = [...new Set(literals)].sort((a, b) => b.length - a.length);
  const parts: string[] = [];
  if (lits.length) parts.push(`(?<L>${lits.map(escapeRe).join('|')})`);
  shapes.forEach((s, i) => parts.push(`(?<S${i}>${s.src})`));
  const size = mode === 'text' ? 0x10000 : 0x100;
  const alpha = new Uint8Array(size);
  const grams = new Uint8Array(1 << (GRAM_BITS - 3));
  for (const l of lits) {
    for (let i = 0; i < l.length; i++) alpha[l.charCodeAt(i)] = 1;
    for (let i = 0; i + GRAM <= l.length; i++) gramSet(grams, gramHash(l, i));
  }
  // INVARIANT: a line break is never a literal character for chains (it is what they join across).
  alpha[10] = 0;
  alpha[13] = 0;
  const custom = shapes.some((s) => !BUILTIN_SHAPES.includes(s));
  let shapeChars: Uint8Array | undefined;
  if (custom) shapeChars = new Uint8Array(size).fill(1);
  else if (shapes.length) {
    shapeChars = new Uint8Array(size);
    for (let i = 0; i < SHAPE_CHARS.length; i++) shapeChars[SHAPE_CHARS.charCodeAt(i)] = 1;
  }
  const rel: Relevance = {
    lit: alpha,
    shape: shapeChars,
    anchors: custom ? undefined : new RegExp(SHAPE_ANCHORS.source, 'g'),
    reach: SHAPE_MAX,
    // Custom patterns have no known anchor: any escape may complete one.
    candidates: custom ? new RegExp(ANY_ESCAPE.source, 'g') : candidatesFor(alpha, shapes.length ? SHAPE_PUNCT : ''),
  };
  const sorted = [...lits].sort();
  const maxLit = lits[0]?.length ?? 0;
  return {
    mode,
    all: parts.length ? new RegExp(parts.join('|'), 'g') : /(?!)/g,
    lit: lits.length ? new RegExp(lits.map(escapeRe).join('|'), 'g') : undefined,
    shapes,
    maxLit,
    maxMatch: Math.max(maxLit, shapes.length ? SHAPE_MAX : 0),
    releaseLines: !lits.some((l) => l.includes('\n')) && !custom,
    alpha,
    grams,
    rel,
    isPrefix: (s) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid]! < s) lo = mid + 1;
        else hi = mid;
      }
      return sorted[lo]?.startsWith(s) ?? false;
    },
  };
}

function replacement(c: Compiled, m: RegExpExecArray): string {
  const g = m.groups!;
  if (g.L !== undefined) return REDACTED;
  for (const [i, shape] of c.shapes.entries()) if (g[`S${i}`] !== undefined) return shape.replace(m[0]);
  return REDACTED;
}

/** Matches in a view; every match becomes the SOURCE span it was decoded from. */
function matchView(re: RegExp, v: View, found: Span[], c: Compiled | undefined): void {
  const t = v.text;
  re.lastIndex = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    const [s, e] = v.source(m.index, m.index + m[0].length);
    // Only the raw view keeps a shape's visible prefix: elsewhere the prefix is in another form.
    found.push({ s, e, rep: c ? replacement(c, m) : REDACTED });
  }
}

/**
 * Overlapping spans become one, replaced by one REDACTED (a shape's own replacement survives only
 * when every view found exactly the same span).
 */
function merge(found: Span[]): Span[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.s - b.s);
  const out: Span[] = [];
  let cur = { ...found[0]! }; // found.length >= 2 (above)
  let same = true;
  for (let i = 1; i < found.length; i++) {
    const f = found[i]!;
    if (f.s < cur.e) {
      if (f.s !== cur.s || f.e !== cur.e) same = false;
      cur.e = Math.max(cur.e, f.e);
      continue;
    }
    if (!same) cur.rep = REDACTED;
    out.push(cur);
    cur = { ...f };
    same = true;
  }
  if (!same) cur.rep = REDACTED;
  out.push(cur);
  return out;
}

/** The first introducer in the part of `v` whose escapes may still change, or -1. */
function tailIntroducer(v: View): number {
  const from = Math.max(0, v.stable - MAX_ESCAPE);
  const m = INTRODUCER.exec(v.text.slice(from));
  return m ? from + m.index : -1;
}

/**
 * Finds every span to replace in `text`. With `final` false (a stream buffer that more chunks
 * will follow), also returns `cut`: output before it is final; only spans before it are returned.
 */
export function scan(c: Compiled, text: string, final: boolean): { spans: Span[]; cut: number } {
  const len = text.length;
  const raw = rootView(text);
  const found: Span[] = [];
  matchView(c.all, raw, found, c);
  const decoded: View[] = [];
  let cur: View = raw;
  // Two levels: `%2526…` (percent-encoded twice) and a JSON-escaped entity (`\u0026#115;`) are
  // decoded too; the second only when the first produced an introducer.
  for (let depth = 0; depth < 2; depth++) {
    if (depth > 0 && !(decoded[0] as Decoded).nested) break;
    const d = decodeView(cur, c.mode, c.rel, final, false);
    if (!d) break;
    matchView(c.all, d, found, undefined);
    decoded.push(d);
    cur = d;
  }
  let holdW = Infinity;
  if (c.lit) {
    const deepest = decoded.at(-1);
    for (const v of deepest ? [raw, deepest] : [raw]) {
      if (!v.text.includes('\n')) continue;
      const chains = wrapChains(v, c, final);
      for (const chain of chains.views) matchView(c.lit, chain, found, undefined);
      holdW = Math.min(holdW, chains.hold);
    }
  }
  let spans = merge(found);
  if (final) return { spans, cut: len };
  let cut = Math.min(len, holdW, viewCut(c, { ...raw, raw: true }, len));
  for (const d of decoded) cut = Math.min(cut, viewCut(c, d, len));
  // An escape that may still be incomplete (an introducer in the unsettled tail) can decode to a
  // character that completes a match once the next chunk arrives. No decoded view may exist yet
  // (no escape was relevant), so every character before it in such a match is literal text: hold
  // back a whole match length before it (a match never crosses a raw line break, if the lines
  // are released at all; chains across breaks are held by wrapChains).
  for (const v of [raw, ...decoded]) {
    const q = tailIntroducer(v);
    if (q < 0) continue;
    const at = v.source(q, q + 1)[0];
    let h = at - c.maxMatch;
    if (c.releaseLines) h = Math.max(h, text.lastIndexOf('\n', at - 1) + 1);
    cut = Math.min(cut, Math.max(0, h));
  }
  // INVARIANT: everything before `cut` is final: no match that more input could still create or
  // lengthen starts before it. A span across the cut moves it back (its end may still grow), and
  // a cut never splits a character.
  for (let guard = 0; guard < 8; guard++) {
    const before = cut;
    for (const sp of spans) if (sp.s < cut && sp.e > cut) cut = sp.s;
    cut = charBoundary(text, cut, c.mode);
    if (cut === before) break;
  }
  spans = spans.filter((sp) => sp.e <= cut);
  return { spans, cut };
}

/** The earliest source position a not-yet-final match in view `v` may cover. */
function viewCut(c: Compiled, v: View & { raw?: boolean }, len: number): number {
  const t = v.text;
  let idx = v.stable - c.maxMatch;
  // PEM blocks are held by the raw view alone: a decoded view's cut never goes past the raw one.
  const pem = v.raw ? lastPemBegin(t) : -1;
  const pemOpen = pem >= 0 && !PEM_END.test(t.slice(pem));
  if (pemOpen) {
    // An unterminated private key block is held whole (up to PEM_MAX).
    idx = Math.min(idx, pem);
  } else if (c.releaseLines && !pemOpen) {
    // No match in this view can cross a line break, so every line before the last settled one is final.
    const nl = t.lastIndexOf('\n', v.stable - 1);
    if (nl + 1 > idx) idx = nl + 1;
  }
  if (idx <= 0) return 0;
  if (idx >= t.length) return len;
  return v.source(idx, idx + 1)[0];
}

/**
 * The last PEM header within PEM_MAX of the end (older ones are not held), found forward with
 * indexOf: a backward search is several times slower and runs on every chunk of every stream.
 */
function lastPemBegin(t: string): number {
  let at = -1;
  for (let i = t.indexOf(PEM_BEGIN, Math.max(0, t.length - PEM_MAX)); i >= 0; i = t.indexOf(PEM_BEGIN, i + 1)) at = i;
  return at;
}

/** Moves a cut back so it never splits a UTF-8 sequence (bytes) or a surrogate pair (text). */
function charBoundary(text: string, cut: number, mode: Mode): number {
  if (cut <= 0 || cut >= text.length) return cut;
  if (mode === 'text') {
    const hi = text.charCodeAt(cut - 1);
    const lo = text.charCodeAt(cut);
    return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff ? cut - 1 : cut;
  }
  let k = cut;
  while (k > cut - 3 && k > 0 && (text.charCodeAt(k) & 0xc0) === 0x80) k--;
  return (text.charCodeAt(k) & 0xc0) === 0x80 ? cut : k;
}

/** Replaces the spans (sorted, disjoint) in text[0, upTo). */
export function apply(text: string, spans: readonly Span[], upTo: number = text.length): string {
  if (!spans.length) return upTo === text.length ? text : text.slice(0, upTo);
  let out = '';
  let pos = 0;
  for (const sp of spans) {
    out += text.slice(pos, sp.s) + sp.rep;
    pos = sp.e;
  }
  return out + text.slice(pos, upTo);
}
