/**
 * The matching engine: a compiled set of literals (every form of every registered secret) and
 * shapes, matched in the raw text and in its views (views.ts), with the source spans merged and
 * replaced. `scan` also decides, for a stream, how much of a buffer is final (the cut).
 *
 * Cost: the common case (no escape introducer, no line break inside a possible match) is the
 * combined regex tried where the prefilter finds a possible start (see Prefilter; short texts
 * get one regex pass) plus a scan of the line breaks; a decoded view is built only when the
 * text holds an escape that decodes to a character some literal or shape uses, and a wrapped
 * chain is matched only when a 4-character window across its join occurs in some literal.
 */
import { REDACTED } from '../../core/index.js';
import { BUILTIN_SHAPES, PEM_MAX, SHAPE_MAX, type Shape } from './shapes.js';
import { ANY_ESCAPE, candidatesFor, decodeView, type Decoded, type Relevance } from './decode.js';
import { MAX_ESCAPE, rootView, type Mode, type View } from './views.js';
import { GRAM, GRAM_BITS, gramHash, gramHashBytes, gramHit, gramSet, wrapChains, type WrapIndex } from './wrap.js';

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
  /** Where `all` can match, found without running it over every position (see Prefilter). */
  readonly pre: Prefilter | undefined;
}

/**
 * The scanner's prefilter: `all` is run only where a match can start. Running the combined regex
 * over every position of a 64 KiB chunk cost ~80-150 µs (its alternatives start with so many
 * characters that V8 cannot skip ahead); finding the candidates costs a few native indexOf
 * scans and one hash every `stride` characters, and each candidate one sticky exec.
 *
 * Candidates:
 * - shapes: each anchor (shapes.ts) found natively, minus its offsets in the match;
 * - literals: a literal occurrence [s, s + L) with L >= minLit covers a position p that is a
 *   multiple of `stride` (minLit - GRAM + 1) with s <= p <= s + L - GRAM; the GRAM characters at p
 *   are then the literal's characters at p - s, so p - s is an offset at which that gram occurs
 *   in some literal (`offsets`, keyed by the gram's hash).
 * INVARIANT: every position at which `all` matches is a candidate. The sticky regex tried at the
 * candidates in order, resuming after each match, then finds exactly what the global regex finds
 * (the same alternative wins at the same start; no match starts between two candidates).
 */
export interface Prefilter {
  /** `all` with the sticky flag: tried at one position. */
  readonly sticky: RegExp;
  readonly needles: ReadonlyArray<{
    readonly find: string;
    readonly at: readonly number[];
    /** Character codes that may follow the needle (a set), or undefined for any. */
    readonly next: Uint8Array | undefined;
  }>;
  readonly patterns: ReadonlyArray<{ readonly find: RegExp; readonly at: readonly number[] }>;
  /** 0 when there are no literals. */
  readonly stride: number;
  /** Gram hash -> every offset at which a gram with that hash occurs in some literal. */
  readonly offsets: ReadonlyMap<number, Int32Array>;
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
export function compile(
  literals: Iterable<string>,
  shapes: readonly Shape[],
  mode: Mode,
  opts: { prefilter?: boolean } = {},
): Compiled {
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
  const src = parts.length ? parts.join('|') : '(?!)';
  return {
    mode,
    all: new RegExp(src, 'g'),
    pre: opts.prefilter === false ? undefined : prefilter(src, lits, shapes),
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

/**
 * The smallest gram stride worth sampling at: a smaller one means literals so short (a guessable
 * PIN in a call's overlay, an operator redactor's short value) that a hash every few characters
 * costs about what the whole regex does. Such sets scan with the whole regex. Agent redactors
 * register strong values only (12 characters or more: stride 9 or more).
 */
const MIN_STRIDE = 6;

/** The prefilter for a set (see Prefilter), or undefined when some shape has no anchors. */
function prefilter(src: string, lits: readonly string[], shapes: readonly Shape[]): Prefilter | undefined {
  const needles = new Map<string, { at: Set<number>; next: Uint8Array | undefined }>();
  const patterns: Array<{ find: RegExp; at: readonly number[] }> = [];
  for (const shape of shapes) {
    if (!shape.anchors?.length) return undefined;
    for (const a of shape.anchors) {
      if (typeof a.find === 'string') {
        let next: Uint8Array | undefined;
        if (a.next !== undefined) {
          // ASCII only: a code past the table (a later character, or none) reads as not allowed.
          next = new Uint8Array(0x80);
          for (const ch of a.next) {
            if (ch.charCodeAt(0) >= 0x80) throw new RangeError(`anchor ${a.find}: non-ASCII next character`);
            next[ch.charCodeAt(0)] = 1;
          }
        }
        const prev = needles.get(a.find);
        if (prev === undefined) needles.set(a.find, { at: new Set(a.at), next });
        else {
          for (const at of a.at) prev.at.add(at);
          // Two shapes share the needle: what may follow is what either allows.
          const both = prev.next;
          if (!next || !both) prev.next = undefined;
          else next.forEach((x, k) => (both[k] = (both[k] ?? 0) | x));
        }
      } else
        patterns.push({
          find: new RegExp(a.find.source, a.find.flags.includes('g') ? a.find.flags : a.find.flags + 'g'),
          at: a.at,
        });
    }
  }
  const minLit = lits.at(-1)?.length ?? 0;
  const stride = lits.length ? minLit - GRAM + 1 : 0;
  if (lits.length && stride < MIN_STRIDE) return undefined;
  const byHash = new Map<number, Set<number>>();
  for (const l of lits) {
    for (let i = 0; i + GRAM <= l.length; i++) {
      const h = gramHash(l, i);
      const set = byHash.get(h) ?? new Set<number>();
      set.add(i);
      byHash.set(h, set);
    }
  }
  const offsets = new Map<number, Int32Array>();
  for (const [h, set] of byHash) offsets.set(h, Int32Array.from(set));
  return {
    sticky: new RegExp(src, 'y'),
    needles: [...needles].map(([find, { at, next }]) => ({ find, at: [...at], next })),
    patterns,
    stride,
    offsets,
  };
}

/**
 * Texts shorter than this are matched with the global regex: on a few hundred characters (one
 * server-sent event) the regex costs less than the prefilter's dozen native scans.
 */
const PREFILTER_MIN = 2048;

/**
 * Candidate starts in `t` (see Prefilter), sorted, or undefined when there are so many that the
 * global regex is cheaper (one sticky exec costs about as much as the regex scanning ~50-100
 * characters): the cost of a text full of anchors or literal grams stays bounded. `bytes`, when
 * given, holds t's characters as bytes (a bytes-mode raw view): reading grams from it is several
 * times cheaper than charCodeAt.
 */
function candidates(c: Compiled, pre: Prefilter, t: string, bytes: Uint8Array | undefined): Int32Array | undefined {
  const n = t.length;
  const budget = 64 + (n >> 5);
  let out = new Int32Array(64);
  let k = 0;
  const push = (s: number): boolean => {
    // A start before the text is no position at all (the anchor or gram is not that match's).
    if (s < 0) return true;
    if (k === out.length) {
      const grown = new Int32Array(k * 2);
      grown.set(out);
      out = grown;
    }
    out[k++] = s;
    return k <= budget;
  };
  for (const { find, at, next } of pre.needles) {
    for (let i = t.indexOf(find); i >= 0; i = t.indexOf(find, i + 1)) {
      if (next && next[t.charCodeAt(i + find.length)] !== 1) continue;
      for (const o of at) if (!push(i - o)) return undefined;
    }
  }
  for (const { find, at } of pre.patterns) {
    find.lastIndex = 0;
    for (let m = find.exec(t); m; m = find.exec(t)) {
      for (const o of at) if (!push(m.index - o)) return undefined;
      if (m[0].length === 0) find.lastIndex++;
    }
  }
  const stride = pre.stride;
  if (stride > 0) {
    const grams = c.grams;
    const offsets = pre.offsets;
    for (let p = 0; p + GRAM <= n; p += stride) {
      const h = bytes ? gramHashBytes(bytes, p) : gramHash(t, p);
      if (!gramHit(grams, h)) continue;
      // Every hash in `grams` has its offsets (both come from the same literals).
      const offs = offsets.get(h);
      if (offs === undefined) continue;
      for (const o of offs) if (!push(p - o)) return undefined;
    }
  }
  return out.subarray(0, k).sort();
}

/**
 * The candidate starts the scanner would try in `t` (sorted), or undefined when it would run the
 * whole regex instead (no prefilter, a short text, too many candidates). For tests: every start
 * of a match of `c.all` must be among them.
 */
export function candidateStarts(c: Compiled, t: string, bytes?: Uint8Array): Int32Array | undefined {
  return c.pre && t.length >= PREFILTER_MIN ? candidates(c, c.pre, t, bytes) : undefined;
}

/**
 * Every match of `c.all` in `t`, in order, as the global regex finds them (each resumes after the
 * previous match): through the prefilter when there is one, else the global regex itself.
 */
function eachMatch(c: Compiled, t: string, bytes: Uint8Array | undefined, fn: (m: RegExpExecArray) => void): void {
  const pre = c.pre;
  const cands = candidateStarts(c, t, bytes);
  if (!pre || !cands) {
    const re = c.all;
    re.lastIndex = 0;
    for (let m = re.exec(t); m; m = re.exec(t)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      fn(m);
    }
    return;
  }
  const re = pre.sticky;
  let pos = 0;
  let tried = -1;
  for (const s of cands) {
    if (s < pos || s === tried) continue;
    tried = s;
    re.lastIndex = s;
    const m = re.exec(t);
    // An empty match is skipped as the global loop skips it (it resumes one position on).
    if (!m || m[0].length === 0) continue;
    fn(m);
    pos = s + m[0].length;
  }
}

function replacement(c: Compiled, m: RegExpExecArray): string {
  const g = m.groups!;
  if (g.L !== undefined) return REDACTED;
  for (const [i, shape] of c.shapes.entries()) if (g[`S${i}`] !== undefined) return shape.replace(m[0]);
  return REDACTED;
}

/**
 * Matches of the whole set in a view; every match becomes the SOURCE span it was decoded from.
 * Only the raw view keeps a shape's visible prefix: elsewhere the prefix is in another form.
 */
function matchAll(c: Compiled, v: View, found: Span[], raw: boolean, bytes?: Uint8Array): void {
  eachMatch(c, v.text, bytes, (m) => {
    const [s, e] = v.source(m.index, m.index + m[0].length);
    found.push({ s, e, rep: raw ? replacement(c, m) : REDACTED });
  });
}

/** Matches of one regex in a view (the literals in a line-joined chain), as REDACTED source spans. */
function matchView(re: RegExp, v: View, found: Span[]): void {
  const t = v.text;
  re.lastIndex = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    const [s, e] = v.source(m.index, m.index + m[0].length);
    found.push({ s, e, rep: REDACTED });
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

/**
 * The first introducer in the part of `v` whose escapes may still change, or -1. A loop over
 * those few characters: a slice and a regex exec cost more on every chunk of a stream.
 */
function tailIntroducer(v: View): number {
  const t = v.text;
  for (let i = Math.max(0, v.stable - MAX_ESCAPE); i < t.length; i++) {
    const ch = t.charCodeAt(i);
    if (ch === 92 /* \\ */ || ch === 38 /* & */ || ch === 37 /* % */) return i;
  }
  return -1;
}

/**
 * Finds every span to replace in `text`. With `final` false (a stream buffer that more chunks
 * will follow), also returns `cut`: output before it is final; only spans before it are returned.
 * `bytes` (bytes mode only, optional): the same text as bytes, `bytes[i] === text.charCodeAt(i)`.
 */
export function scan(c: Compiled, text: string, final: boolean, bytes?: Uint8Array): { spans: Span[]; cut: number } {
  const len = text.length;
  const raw = rootView(text);
  const found: Span[] = [];
  matchAll(c, raw, found, true, bytes);
  const decoded: View[] = [];
  let cur: View = raw;
  // Two levels: `%2526…` (percent-encoded twice) and a JSON-escaped entity (`\u0026#115;`) are
  // decoded too; the second only when the first produced an introducer.
  for (let depth = 0; depth < 2; depth++) {
    if (depth > 0 && !(decoded[0] as Decoded).nested) break;
    const d = decodeView(cur, c.mode, c.rel, final, false);
    if (!d) break;
    matchAll(c, d, found, false);
    decoded.push(d);
    cur = d;
  }
  let holdW = Infinity;
  if (c.lit) {
    const deepest = decoded.at(-1);
    for (const v of deepest ? [raw, deepest] : [raw]) {
      if (!v.text.includes('\n')) continue;
      const chains = wrapChains(v, c, final, v === raw ? bytes : undefined);
      for (const chain of chains.views) matchView(c.lit, chain, found);
      holdW = Math.min(holdW, chains.hold);
    }
  }
  let spans = merge(found);
  if (final) return { spans, cut: len };
  let cut = Math.min(len, holdW, viewCut(c, raw, len, true));
  for (const d of decoded) cut = Math.min(cut, viewCut(c, d, len, false));
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
function viewCut(c: Compiled, v: View, len: number, raw: boolean): number {
  const t = v.text;
  let idx = v.stable - c.maxMatch;
  // PEM blocks are held by the raw view alone: a decoded view's cut never goes past the raw one.
  const pem = raw ? lastPemBegin(t) : -1;
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

const DASHES = '-----';

/**
 * The last PEM header within PEM_MAX of the end (older ones are not held), found forward with
 * indexOf: a backward search is several times slower and runs on every chunk of every stream.
 * Searched as `BEGIN ` then checked for the dashes before it: V8 sets up a Boyer-Moore table for
 * a needle of 7 or more characters on every call, which cost more than the search itself.
 */
function lastPemBegin(t: string): number {
  const from = Math.max(0, t.length - PEM_MAX);
  const tail = PEM_BEGIN.slice(DASHES.length);
  let at = -1;
  for (let j = t.indexOf(tail, from + DASHES.length); j >= 0; j = t.indexOf(tail, j + 1))
    if (t.startsWith(DASHES, j - DASHES.length)) at = j - DASHES.length;
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
