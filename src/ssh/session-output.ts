/**
 * A session's output stream, cleaned and scrubbed ONCE as it arrives, so that everything kept
 * (the read buffer, the transcript) is already safe and any slice of it can be returned as is.
 *
 * bytes -> UTF-8 decoding -> ANSI/control stripping -> one stateful scrubber -> UTF-8 decoding
 *
 * Scrubbing after the ANSI stripping matters: an escape sequence inside a secret
 * (`hun\x1b[0mter2`) disappears when stripped, so scrubbing first would miss it.
 *
 * The scrubber holds back a tail that might be the start of a secret continued in the next
 * chunk. A prompt with no newline after it would stay hidden until more output came, so after
 * `quietMs` without output the held tail is released (`flush()` when the scrubber has it,
 * otherwise `end()` and a fresh scrubber, which is equivalent). Known limit, stated in the README:
 * a program that prints a secret slowly, with pauses longer than the quiet period inside it, gets
 * each piece through unscrubbed; so does any transformation the agent applies (base64, rev, …).
 * Scrubbing protects against accidental exposure, not a determined program on the remote side.
 */
import { StringDecoder } from 'node:string_decoder';
import { AnsiStripper } from './ansi.js';
import type { Scrubber } from './types.js';

/** Incremental scrubber (the vault redactor's `createScrubber()` shape; `flush()` optional). */
export interface ChunkScrubberLike {
  push(chunk: string | Buffer): Buffer;
  end(): Buffer;
  /** Releases what is held without ending the stream (a flushable variant). */
  flush?(): Buffer;
}

export type ScrubberFactory = () => ChunkScrubberLike;

/** Cap of text held back by `lineScrubber` while no newline arrives. */
const LINE_HOLD_MAX = 64 * 1024;

/**
 * Adapts a whole-string scrubber (`(s) => s`) to the chunk interface: text is released up to its
 * last newline (a secret without a newline in it is then always scrubbed whole), the rest held.
 */
export function lineScrubber(scrub: Scrubber): ChunkScrubberLike {
  let held = '';
  const take = (all: boolean): Buffer => {
    const cut = all ? held.length : held.lastIndexOf('\n') + 1;
    const out = held.slice(0, cut);
    held = held.slice(cut);
    return Buffer.from(out ? scrub(out) : '', 'utf8');
  };
  return {
    push(chunk) {
      held += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      return take(held.length > LINE_HOLD_MAX);
    },
    end: () => take(true),
    flush: () => take(true),
  };
}

/** Scrubs one whole string with a fresh scrubber (inputs and events for the transcript). */
export function scrubWhole(factory: ScrubberFactory, text: string): string {
  const s = factory();
  return Buffer.concat([s.push(text), s.end()]).toString('utf8');
}

export class OutputPipeline {
  private readonly raw = new StringDecoder('utf8');
  private readonly stripper = new AnsiStripper();
  private readonly clean = new StringDecoder('utf8');
  private scrubber: ChunkScrubberLike;
  private quiet: NodeJS.Timeout | undefined;
  private ended = false;

  /**
   * @param emit receives scrubbed text, in order, exactly once per character
   * @param quietMs after this long without input, the scrubber's held tail is released
   */
  constructor(
    private readonly factory: ScrubberFactory,
    private readonly emit: (text: string) => void,
    private readonly quietMs: number,
  ) {
    this.scrubber = factory();
  }

  /** Raw bytes from the channel. */
  pushBytes(d: Buffer): void {
    this.pushText(this.raw.write(d));
  }

  /** Already decoded text that has not been ANSI stripped yet (e.g. the rest after init). */
  pushText(text: string): void {
    if (this.ended) return;
    const cleaned = this.stripper.push(text);
    if (cleaned) this.out(this.scrubber.push(cleaned));
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.release(), this.quietMs);
    this.quiet.unref();
  }

  /** Releases everything held (stripper carry, scrubber tail); the stream goes on. */
  release(): void {
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = undefined;
    if (this.ended) return;
    const carry = this.stripper.flush();
    if (carry) this.out(this.scrubber.push(carry));
    if (this.scrubber.flush) {
      this.out(this.scrubber.flush());
    } else {
      this.out(this.scrubber.end());
      this.scrubber = this.factory();
    }
  }

  /** Ends the stream: everything left is scrubbed and emitted. */
  end(): void {
    if (this.ended) return;
    this.pushTextNoTimer(this.raw.end());
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = undefined;
    const carry = this.stripper.flush();
    if (carry) this.out(this.scrubber.push(carry));
    this.out(this.scrubber.end());
    const rest = this.clean.end();
    this.ended = true;
    if (rest) this.emit(rest);
  }

  private pushTextNoTimer(text: string): void {
    const cleaned = this.stripper.push(text);
    if (cleaned) this.out(this.scrubber.push(cleaned));
  }

  private out(b: Buffer): void {
    if (b.length === 0) return;
    const text = this.clean.write(b);
    if (text) this.emit(text);
  }
}
