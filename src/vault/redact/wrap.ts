/**
 * Line-joined chains (see views.ts): base64/hex/raw forms wrapped at any width, with indentation
 * after the breaks, as views with a map back to the source.
 */
import { MappedView, MAX_ESCAPE, type View } from './views.js';

/** What the chain builder needs from the compiled literals. */
export interface WrapIndex {
  /** Characters that occur in some literal (never CR or LF). */
  alpha: Uint8Array;
  /** Longest literal. */
  maxLit: number;
  /** Bitset of the hashes of every 4-character window of every literal (GRAM_BITS wide). */
  grams: Uint8Array;
  /** True when some literal starts with `s`. */
  isPrefix(s: string): boolean;
}

export const GRAM_BITS = 20;
/** Every literal is at least this long (MIN_SECRET_LENGTH), so a 4-gram test never misses one. */
export const GRAM = 4;

/** FNV-1a over the GRAM characters of s from i, cut to GRAM_BITS. */
export function gramHash(s: string, i: number): number {
  let h = FNV_BASIS;
  for (let k = 0; k < GRAM; k++) h = fnvStep(h, s.charCodeAt(i + k));
  return gramBits(h);
}

/** gramHash over bytes (b[i] is the character code a latin1 string of b would have at i). */
export function gramHashBytes(b: Uint8Array, i: number): number {
  // Unrolled (GRAM is 4): this runs every few characters of every streamed chunk.
  const h = fnvStep(fnvStep(fnvStep(fnvStep(FNV_BASIS, b[i] ?? 0), b[i + 1] ?? 0), b[i + 2] ?? 0), b[i + 3] ?? 0);
  return gramBits(h);
}

// The hash in three steps, so joinHits can feed it characters from two places without building
// a string or a closure per window (it runs at every line break of every stream).
const FNV_BASIS = 0x811c9dc5;
const fnvStep = (h: number, code: number): number => Math.imul(h ^ code, 0x01000193);
const gramBits = (h: number): number => (h >>> 0) >>> (32 - GRAM_BITS);

/** The byte of `grams` that holds bit h. h comes from gramHash (GRAM_BITS wide), so it is in range. */
function gramByte(grams: Uint8Array, h: number): number {
  const b = grams[h >> 3];
  if (b === undefined) throw new RangeError(`gram hash ${h} is outside the ${grams.length * 8}-bit set`);
  return b;
}

export const gramHit = (grams: Uint8Array, h: number): boolean => (gramByte(grams, h) & (1 << (h & 7))) !== 0;

/** Sets bit h of `grams` (the hash of one window of a literal). */
export function gramSet(grams: Uint8Array, h: number): void {
  grams[h >> 3] = gramByte(grams, h) | (1 << (h & 7));
}

export interface Chains {
  /** Chains that may hold a match across a line break: scan them with the literals. */
  views: View[];
  /** Source position from which output must be held (a chain the next chunk may continue). */
  hold: number;
}

/**
 * Runs of literal characters joined across line breaks (`\n` or `\r\n`, and the blanks that
 * indent the next line). A match that crosses a break has its first part at the end of one line
 * and the rest at the start of the next, all literal characters, so only those runs are joined:
 * the text before a break back to the first non-literal character (at most maxLit - 1 of them),
 * then each following line's leading run while that run reaches the next break. A blank line or
 * a non-literal character ends a chain. Chains are filtered cheaply: some 4-character window
 * across one of its joins must occur in a literal (every literal has at least 4 characters, so
 * any match across a join contains such a window).
 *
 * Streams: a chain whose end is not settled (it runs into the unsettled tail, or ends in a break
 * the next chunk may continue) is OPEN: output is held from the earliest position in its last
 * maxLit - 1 characters where what follows is the start of some literal.
 */
export function wrapChains(parent: View, w: WrapIndex, final: boolean, bytes?: Uint8Array): Chains {
  const t = parent.text;
  // The walk reads a few characters at every line break: from the bytes when the caller has them.
  const codes: Codes = bytes ?? t;
  const n = t.length;
  const views: View[] = [];
  let hold = Infinity;
  /** [start, end) spans of the parent, in chain order. */
  let pieces: Array<[number, number]> = [];
  let str = '';
  let joins: number[] = [];
  let end = -1;

  // `open`: the chain may continue in the next chunk. `upTo`: the source position from which its
  // characters may still change (an incomplete escape), or Infinity.
  const finish = (open: boolean, upTo = Infinity) => {
    if (pieces.length === 0) return;
    if (joins.length && joins.some((j) => crossesGram(str, j, w.grams))) {
      const seg: number[] = [];
      let v = 0;
      for (const [a, b] of pieces) {
        seg.push(v, a, b, 1);
        v += b - a;
      }
      views.push(MappedView.from(str, parent, seg));
    }
    if (open && !final) {
      // Hold from the earliest place where what follows (up to what may still change) could be
      // the start of a literal; at the latest from where the characters may still change.
      const limit = chainIndex(pieces, upTo, str.length);
      for (let j = Math.max(0, limit - (w.maxLit - 1)); j <= limit; j++) {
        if (j === limit || w.isPrefix(str.slice(j, limit))) {
          hold = Math.min(
            hold,
            j === limit && upTo !== Infinity ? parent.source(upTo, upTo + 1)[0] : chainSource(pieces, j, parent),
          );
          break;
        }
      }
    }
    pieces = [];
    str = '';
    joins = [];
    end = -1;
  };

  // Line breaks by indexOf rather than a global regex: no match object per line (this loop runs
  // over every line of every output).
  const alpha = w.alpha;
  for (let nl = t.indexOf('\n'); nl >= 0; nl = t.indexOf('\n', nl + 1)) {
    const bs = nl > 0 && codeAt(codes, nl - 1) === 13 ? nl - 1 : nl;
    const starts = end !== bs;
    if (starts) {
      if (pieces.length) finish(false);
      // The usual case, settled at once: no literal character right before the break.
      if (bs === 0 || !alpha[codeAt(codes, bs - 1)]) continue;
    }
    let be = nl + 1;
    while (be < n && (codeAt(codes, be) === 32 || codeAt(codes, be) === 9)) be++;
    let r = be;
    while (r < n && alpha[codeAt(codes, r)]) r++;
    // Settled only if the character that ended the run (or the break) is final and cannot turn
    // into (part of) a line break: a CR may be followed by the LF of the next chunk.
    const intro = r + MAX_ESCAPE >= parent.stable ? introducerNear(t, r, parent.stable) : -1;
    const unsettled = r >= parent.stable || (codeAt(codes, r) === 13 && r + 1 >= parent.stable) || intro >= 0;
    const upTo = intro >= 0 ? intro : Infinity;
    const lim = Math.max(0, bs - (w.maxLit - 1));
    if (starts) {
      // The common case on text with many lines (logs, event streams): a chain of two runs joined
      // at this one break that ends on the next line, settled, with no 4-character window across
      // the join that occurs in a literal. finish() would neither keep it as a view nor hold
      // output for it, so it is dropped here, having looked at three characters each side
      // instead of the whole run before the break.
      if (!unsettled && r > be && !breakAt(codes, r) && !joinHits(codes, bs, be, r, lim, w)) continue;
      let k = bs - 1;
      while (k > lim && alpha[t.charCodeAt(k - 1)]) k--;
      pieces.push([k, bs]);
      str = t.slice(k, bs);
    }
    if (r === be) {
      finish(unsettled, upTo);
      continue;
    }
    joins.push(str.length);
    str += t.slice(be, r);
    pieces.push([be, r]);
    end = r;
    if (unsettled) finish(true, upTo);
  }
  finish(false);
  return { views, hold };
}

/** A view's characters: its text, or the same characters as bytes (a bytes-mode view). */
type Codes = string | Uint8Array;

/** The character code at i (NaN past the end, as charCodeAt). */
function codeAt(c: Codes, i: number): number {
  return typeof c === 'string' ? c.charCodeAt(i) : (c[i] ?? NaN);
}

/** True when a line break (`\n` or `\r\n`) starts at p: a chain whose run ends there continues. */
function breakAt(t: Codes, p: number): boolean {
  const ch = codeAt(t, p);
  return ch === 10 || (ch === 13 && codeAt(t, p + 1) === 10);
}

/**
 * Whether a 4-character window across the join of a two-run chain occurs in a literal: the run
 * before the break ends at `bs` (it starts no earlier than `lim`, like the run finish() builds),
 * the run after it is [be, r). The same windows crossesGram tests on the joined string: those that
 * start before the join, within the first run, and end within the second.
 */
function joinHits(t: Codes, bs: number, be: number, r: number, lim: number, w: WrapIndex): boolean {
  let a = bs - 1;
  const stop = Math.max(lim, bs - (GRAM - 1));
  while (a > stop && w.alpha[codeAt(t, a - 1)]) a--;
  const left = bs - a;
  const right = Math.min(GRAM - 1, r - be);
  // The joined characters (at most 3 + 3), each read once; then the windows over them, as in
  // crossesGram. GRAM is 4: windows at 0, 1 and 2 while they start before the join.
  const n = left + right;
  if (n < GRAM) return false;
  const c0 = joined(t, a, be, left, 0);
  const c1 = joined(t, a, be, left, 1);
  const c2 = joined(t, a, be, left, 2);
  const c3 = joined(t, a, be, left, 3);
  const g = w.grams;
  if (gramHit(g, gramBits(fnvStep(fnvStep(fnvStep(fnvStep(FNV_BASIS, c0), c1), c2), c3)))) return true;
  if (left < 2 || n < 5) return false;
  const c4 = joined(t, a, be, left, 4);
  if (gramHit(g, gramBits(fnvStep(fnvStep(fnvStep(fnvStep(FNV_BASIS, c1), c2), c3), c4)))) return true;
  if (left < 3 || n < 6) return false;
  return gramHit(g, gramBits(fnvStep(fnvStep(fnvStep(fnvStep(FNV_BASIS, c2), c3), c4), joined(t, a, be, left, 5))));
}

/** Character k of the join: `left` characters from a, then the run from be. */
function joined(t: Codes, a: number, be: number, left: number, k: number): number {
  return k < left ? codeAt(t, a + k) : codeAt(t, be + k - left);
}

/**
 * Where an escape that may still be incomplete could change the run ending at r: an introducer
 * at or before r (possibly taken as a literal character) that starts within MAX_ESCAPE of the
 * unsettled part may yet decode to a literal character and continue the run. -1 when none.
 */
function introducerNear(t: string, r: number, stable: number): number {
  // Backwards from r, and no further than the window that matters: a search of the whole text
  // (lastIndexOf) cost a full pass over every stream chunk without an escape in it.
  const lo = Math.max(0, stable - MAX_ESCAPE);
  for (let i = Math.min(r, t.length - 1); i >= lo; i--) {
    const ch = t.charCodeAt(i);
    if (ch === 92 /* \\ */ || ch === 38 /* & */ || ch === 37 /* % */) return i;
  }
  return -1;
}

/** The chain index of parent position p (the chain's length when p is not in a piece). */
function chainIndex(pieces: Array<[number, number]>, p: number, len: number): number {
  let v = 0;
  for (const [a, b] of pieces) {
    if (p >= a && p < b) return v + (p - a);
    v += b - a;
  }
  return len;
}

function crossesGram(str: string, join: number, grams: Uint8Array): boolean {
  for (let s = Math.max(0, join - GRAM + 1); s < join && s + GRAM <= str.length; s++)
    if (gramHit(grams, gramHash(str, s))) return true;
  return false;
}

/** The source position of chain character j. */
function chainSource(pieces: Array<[number, number]>, j: number, parent: View): number {
  let v = 0;
  for (const [a, b] of pieces) {
    const len = b - a;
    if (j < v + len) {
      const p = a + (j - v);
      return parent.source(p, p + 1)[0];
    }
    v += len;
  }
  const last = pieces.at(-1);
  // finish() never asks for an empty chain; without a piece there is no source position to give.
  if (last === undefined) throw new RangeError('chainSource of an empty chain');
  return parent.source(last[1] - 1, last[1])[1];
}
