/**
 * wrapChains (src/vault/redact/wrap.ts) skips the chains that can neither hold a match nor hold
 * output without building them. This checks that shortcut against the straightforward version it
 * replaced, kept here as the reference: the same chain views (text and source of every position)
 * and the same hold, on random texts rich in what chains are made of (literal characters, line
 * breaks, CR, indentation, escape introducers), settled or not, final or not.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/vault/redact/engine.js';
import { MappedView, MAX_ESCAPE, type View } from '../../src/vault/redact/views.js';
import { GRAM, gramHash, gramHit, wrapChains, type Chains, type WrapIndex } from '../../src/vault/redact/wrap.js';
import { rng } from '../helpers/rng.js';

function described(c: Chains): { hold: number; views: { text: string; source: number[][] }[] } {
  return {
    hold: c.hold,
    views: c.views.map((v) => ({
      text: v.text,
      source: Array.from({ length: v.text.length }, (_, i) => v.source(i, i + 1)),
    })),
  };
}

const SECRETS = ['Q9vX2mK7pL4rT8wZ3nB6', 'c2VjcmV0LXZhbHVlLTAx', 'ab12', 'deadbeefcafe'];

describe('wrapChains shortcut', () => {
  it('finds the same chains and hold as the straightforward version', () => {
    let compared = 0;
    let withViews = 0;
    let held = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const rand = rng(seed);
      const lits = SECRETS.filter(() => rand() < 0.6);
      if (lits.length === 0) lits.push(SECRETS[seed % SECRETS.length]!);
      const c: WrapIndex = compile(lits, [], 'bytes');
      // Pieces of literals (so joins can cross real 4-character windows), other characters,
      // breaks and blanks.
      const parts = [...lits.join(''), ' ', '\t', '\n', '\r\n', '\r', ':', '=', '-', '\\', '%', '&', 'x', 'Z', '9'];
      let text = '';
      const len = 1 + Math.floor(rand() * 120);
      while (text.length < len) {
        const p = rand();
        if (p < 0.2) {
          // A literal wrapped across a break, maybe indented: a chain a literal can cross.
          const lit = lits[Math.floor(rand() * lits.length)]!;
          const at = 1 + Math.floor(rand() * (lit.length - 1));
          text +=
            lit.slice(0, at) + (rand() < 0.5 ? '\n' : '\r\n') + ' '.repeat(Math.floor(rand() * 3)) + lit.slice(at);
        } else if (p < 0.4) {
          const lit = lits[Math.floor(rand() * lits.length)]!;
          const a = Math.floor(rand() * lit.length);
          text += lit.slice(a, a + 1 + Math.floor(rand() * (lit.length - a)));
        } else text += parts[Math.floor(rand() * parts.length)];
      }
      const final = rand() < 0.3;
      const stable = final ? text.length : Math.max(0, text.length - Math.floor(rand() * 30));
      const view: View = { text, stable, source: (a, b) => [a, b] };
      const got = described(wrapChains(view, c, final));
      const want = described(referenceWrapChains(view, c, final));
      expect(got, `seed ${seed}: ${JSON.stringify(text)} stable ${stable} final ${final}`).toEqual(want);
      compared++;
      if (want.views.length) withViews++;
      if (want.hold !== Infinity) held++;
    }
    // The comparison must have covered chains that are kept and chains that hold output.
    expect(compared).toBe(3000);
    expect(withViews).toBeGreaterThan(100);
    expect(held).toBeGreaterThan(100);
  });
});

// The version wrapChains replaced (before the shortcut), verbatim but for its name.
function referenceWrapChains(parent: View, w: WrapIndex, final: boolean): Chains {
  const t = parent.text;
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
    const bs = nl > 0 && t.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (end !== bs) {
      if (pieces.length) finish(false);
      // The usual case, settled at once: no literal character right before the break.
      if (bs === 0 || !alpha[t.charCodeAt(bs - 1)]) continue;
      let k = bs - 1;
      const lim = Math.max(0, bs - (w.maxLit - 1));
      while (k > lim && alpha[t.charCodeAt(k - 1)]) k--;
      pieces.push([k, bs]);
      str = t.slice(k, bs);
    }
    let be = nl + 1;
    while (be < n && (t.charCodeAt(be) === 32 || t.charCodeAt(be) === 9)) be++;
    let r = be;
    while (r < n && alpha[t.charCodeAt(r)]) r++;
    // Settled only if the character that ended the run (or the break) is final and cannot turn
    // into (part of) a line break: a CR may be followed by the LF of the next chunk.
    const intro = r + MAX_ESCAPE >= parent.stable ? introducerNear(t, r, parent.stable) : -1;
    const unsettled = r >= parent.stable || (t.charCodeAt(r) === 13 && r + 1 >= parent.stable) || intro >= 0;
    const upTo = intro >= 0 ? intro : Infinity;
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
