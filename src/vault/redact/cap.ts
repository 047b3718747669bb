/**
 * Scrub, then cap: the one way a bounded channel (api_request bodies, file_read, SSH/exec output)
 * produces what an agent reads. Cutting first and scrubbing after leaks every secret that
 * straddles the cut, all but its last characters (issue 13 item 5); so the channel reads a little
 * past its limit (`holdBack()`), scrubs as a stream, and cuts the SCRUBBED output.
 */
import { cutText, type FlushableRewriter, type TextRewriter } from '../../core/index.js';
import type { Scrub } from './redactor.js';

export interface CappedBytes {
  /** Scrubbed output, at most `limit` bytes, never ending inside a UTF-8 sequence. */
  output: Buffer;
  /** True when the source was cut or the scrubbed output was longer than the limit. */
  truncated: boolean;
}

export interface CappedText {
  text: string;
  truncated: boolean;
}

/**
 * A bounded channel's collector: push raw chunks as they are read, then `finish(ended)`.
 * `readLimit` is how many raw bytes to read (limit + holdBack) so a secret straddling the limit is
 * seen whole; `push` returns false once more input cannot change the output.
 */
export class ScrubCap {
  readonly readLimit: number;
  readonly #scrubber: FlushableRewriter;
  readonly #parts: Buffer[] = [];
  #out = 0;
  #read = 0;

  constructor(
    scrub: Scrub,
    readonly limit: number,
  ) {
    this.#scrubber = scrub.createScrubber();
    this.readLimit = limit + scrub.holdBack();
  }

  push(chunk: Buffer | string): boolean {
    // Past the limit, nothing more can be shown: later input is not even scrubbed.
    if (this.#out > this.limit) return false;
    this.#read += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    const out = this.#scrubber.push(chunk);
    this.#parts.push(out);
    this.#out += out.length;
    return this.#out <= this.limit && this.#read < this.readLimit;
  }

  /** `ended`: the source ended and all of it was pushed (not cut at a read limit). */
  finish(ended: boolean): CappedBytes {
    // INVARIANT: the held-back tail of a source that did not end is DROPPED, never flushed: it may
    // be the start of a secret whose rest lies past the cut.
    if (ended && this.#out <= this.limit) this.#parts.push(this.#scrubber.end());
    const all = Buffer.concat(this.#parts);
    if (all.length <= this.limit) return { output: all, truncated: !ended };
    return { output: all.subarray(0, utf8Boundary(all, this.limit)), truncated: true };
  }
}

/** Scrubs `chunks` as one stream and returns at most `limit` bytes of the scrubbed output. */
export function scrubThenCap(
  scrub: Scrub,
  chunks: Buffer | Iterable<Buffer | string>,
  opts: { limit: number; ended: boolean },
): CappedBytes {
  const cap = new ScrubCap(scrub, opts.limit);
  // Once the output is past the limit, push() ignores the rest: nothing after it can be shown.
  for (const c of Buffer.isBuffer(chunks) ? [chunks] : chunks) cap.push(c);
  return cap.finish(opts.ended);
}

/** The same for text: at most `limit` UTF-16 code units, cut on a code-point boundary. */
export function scrubThenCapText(
  scrub: Scrub,
  text: string | Iterable<string>,
  opts: { limit: number; ended: boolean },
): CappedText {
  const s: TextRewriter = scrub.createTextScrubber();
  let out = '';
  for (const c of typeof text === 'string' ? [text] : text) {
    out += s.push(c);
    if (out.length > opts.limit) return { text: cutText(out, opts.limit), truncated: true };
  }
  // INVARIANT: as above, a source that did not end never has its held tail released.
  if (opts.ended) out += s.end();
  return out.length > opts.limit
    ? { text: cutText(out, opts.limit), truncated: true }
    : { text: out, truncated: !opts.ended };
}

/** Whether buf[k] is a UTF-8 continuation byte (10xxxxxx); past either end it is not. */
function isContinuation(buf: Buffer, k: number): boolean {
  const b = buf[k];
  return b !== undefined && (b & 0xc0) === 0x80;
}

/** The largest n ≤ limit such that buf[0, n) does not end inside a UTF-8 sequence. */
function utf8Boundary(buf: Buffer, limit: number): number {
  let k = limit;
  while (k > limit - 3 && k > 0 && isContinuation(buf, k)) k--;
  return isContinuation(buf, k) ? limit : k;
}
