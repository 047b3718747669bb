/**
 * Views of a text for matching: strings DERIVED from the text (escapes decoded, line breaks
 * removed), each with a map from its positions back to the span of the source that produced
 * them. The redactor matches its literals in every view and replaces the SOURCE spans, so a
 * secret comes out redacted whether it was sent as is, as `\u0073\u0065…`, `&#x73;&#101;…`,
 * `%73e%63…`, a mixture of those with literal characters, or wrapped over several lines.
 *
 * Two modes: `text` views are JS strings; `bytes` views are latin1 strings of bytes (one char per
 * byte), where a decoded character is written as its UTF-8 bytes, the form the literals take.
 *
 * Streams: a view knows how much of it is final (`stable`): a character decoded from an escape
 * that may continue in the next chunk is not, nor is anything decoded from a part of its parent
 * that is not. The scrubber holds back whatever a match that is not final yet could cover.
 *
 * decode.ts builds decoded views, wrap.ts line-joined chains; engine.ts matches in them.
 */

export type Mode = 'text' | 'bytes';

export interface View {
  readonly text: string;
  /** View positions at or after this may still change when more input arrives. */
  readonly stable: number;
  /** The source span [start, end) that view positions [a, b) came from (a < b). */
  source(a: number, b: number): [number, number];
}

/**
 * Longer than any escape the decoders below read (`&#x` + 12 digits + `;` is 16, four `\xHH` or
 * `\NNN` 16, `&DiacriticalGrave;` 18): an escape that starts this far before the unsettled end of
 * a stream is complete.
 */
export const MAX_ESCAPE = 20;

export function rootView(text: string): View {
  return { text, stable: text.length, source: (a, b) => [a, b] };
}

/**
 * A view made of segments of its parent: a COPY segment maps view position i to parent position
 * pAt + (i - vAt); an ESCAPE segment maps every view position in it to the whole parent span
 * [pAt, pEnd) (the escape it was decoded from).
 */
export class MappedView implements View {
  /** Segments, four numbers each: vAt, pAt, pEnd, copy (1 or 0). */
  readonly #seg: Int32Array;
  readonly #k: number;

  constructor(
    readonly text: string,
    readonly stable: number,
    private readonly parent: View,
    seg: Int32Array,
    readonly nested = false,
  ) {
    this.#seg = seg;
    this.#k = seg.length >> 2;
  }

  static from(text: string, parent: View, seg: ArrayLike<number>, nested = false): MappedView {
    return new MappedView(text, text.length, parent, seg instanceof Int32Array ? seg : Int32Array.from(seg), nested);
  }

  withStable(stable: number): MappedView {
    return new MappedView(this.text, stable, this.parent, this.#seg, this.nested);
  }

  source(a: number, b: number): [number, number] {
    const ka = 4 * this.#segAt(a);
    const kb = 4 * this.#segAt(b - 1);
    const s = this.#at(ka + 3) ? this.#at(ka + 1) + (a - this.#at(ka)) : this.#at(ka + 1);
    const e = this.#at(kb + 3) ? this.#at(kb + 1) + (b - 1 - this.#at(kb)) + 1 : this.#at(kb + 2);
    return this.parent.source(s, e);
  }

  /** View position of parent position p (the start of the segment holding it if that is an escape). */
  viewIndexOf(p: number): number {
    let lo = 0;
    let hi = this.#k - 1;
    if (hi < 0 || p >= this.#at(4 * hi + 2)) return this.text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#at(4 * mid + 1) <= p) lo = mid;
      else hi = mid - 1;
    }
    return this.#at(4 * lo + 3) ? this.#at(4 * lo) + Math.max(0, p - this.#at(4 * lo + 1)) : this.#at(4 * lo);
  }

  #segAt(i: number): number {
    let lo = 0;
    let hi = this.#k - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#at(4 * mid) <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Entry i of the segment table. Positions are only ever asked for inside the view, so i is in
   * range; out of range is a bug, and a span made of undefined would redact the wrong text.
   */
  #at(i: number): number {
    const v = this.#seg[i];
    if (v === undefined) throw new RangeError(`view segment entry ${i} is out of range (${this.#seg.length})`);
    return v;
  }
}
