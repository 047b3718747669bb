/**
 * The body stages of one streaming exchange (src/upstream/proxy.ts), each with its own state and
 * phase, in the style of undici's decorator handlers: scrub (the caller's chunk rewriter), cap
 * (bytes after decoding and scrubbing), then the writer into the client's response.
 */
import type { ServerResponse } from 'node:http';
import type { ChunkRewriter } from '../core/index.js';

/**
 * Where one exchange stands, by name:
 * - `awaiting-headers`: dispatched, no (final) response head yet;
 * - `gathering`: the head arrived in this tick; body chunks of the same tick are held so that a
 *   small answer goes out in one write with its exact (scrubbed) length;
 * - `streaming`: the head is sent; body chunks go out as they arrive (or through stream stages);
 * - `ended`: the response is complete on our side.
 */
export type Phase = 'awaiting-headers' | 'gathering' | 'streaming' | 'ended';

/** The body path of a response once its head is known. */
export interface BodyPath {
  data(chunk: Buffer): void;
  end(): void;
}

/** Scrub stage: each chunk through the caller's chunk rewriter; its held tail goes out at the end. */
export class ScrubStage implements BodyPath {
  readonly #rewriter: ChunkRewriter;
  readonly #fail: (e: unknown) => void;
  readonly #next: CapStage;

  constructor(rewriter: ChunkRewriter, fail: (e: unknown) => void, next: CapStage) {
    this.#rewriter = rewriter;
    this.#fail = fail;
    this.#next = next;
  }

  data(chunk: Buffer): void {
    let out: Buffer;
    try {
      out = this.#rewriter.push(chunk);
    } catch (e) {
      return this.#fail(e);
    }
    this.#next.data(out);
  }

  end(): void {
    let tail: Buffer;
    try {
      tail = this.#rewriter.end();
    } catch (e) {
      return this.#fail(e);
    }
    this.#next.end(tail.length === 0 ? undefined : tail);
  }
}

/** A tick's chunks are joined until they reach this size; a larger chunk goes on by itself. */
export const TICK_BATCH_MAX = 16 * 1024;

/**
 * Tick batching in front of the scrubber. undici hands a chunked body over one chunk at a time,
 * and a server-sent-events stream is one small chunk per event, several per socket read, all in
 * the same tick; scrubbing and writing them one by one cost a regex pass and a `writev` each (the
 * per-event cost that held SSE through `/gateway` under half a bare proxy's rate). Once the
 * response streams, the small chunks of one tick are joined and go on together at the end of that
 * tick: a microtask, never a timer, so no byte leaves later than the socket read it came in.
 * Chunks of TICK_BATCH_MAX or more (a download) pass straight on, as before.
 * INVARIANT: order is kept and nothing is dropped: `end` sends what is batched first, and a batch
 * whose exchange has failed in the meantime is discarded, never written.
 */
export class TickBatch implements BodyPath {
  #parts: Buffer[] = [];
  #bytes = 0;
  #queued = false;
  readonly #next: BodyPath;
  readonly #batching: () => boolean;
  readonly #live: () => boolean;
  readonly #onTick = (): void => {
    this.#queued = false;
    if (this.#live()) this.#flush();
    else this.#parts = [];
  };

  /** `batching`: whether chunks may wait for the end of the tick (only once streaming); `live`: the exchange has not failed. */
  constructor(next: BodyPath, batching: () => boolean, live: () => boolean) {
    this.#next = next;
    this.#batching = batching;
    this.#live = live;
  }

  data(chunk: Buffer): void {
    if (this.#parts.length === 0 && (chunk.length >= TICK_BATCH_MAX || !this.#batching()))
      return this.#next.data(chunk);
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= TICK_BATCH_MAX) return this.#flush();
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(this.#onTick);
    }
  }

  end(): void {
    this.#flush();
    this.#next.end();
  }

  #flush(): void {
    const parts = this.#parts;
    if (parts.length === 0) return;
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    this.#next.data(joined);
  }
}

/**
 * Cap stage: counts the bytes that leave (after decoding and scrubbing); past the cap the exchange
 * fails and nothing more is written (what the scrubber still holds is never flushed).
 */
export class CapStage implements BodyPath {
  #size = 0;
  readonly #max: number;
  readonly #onBytes: (total: number) => void;
  readonly #over: () => void;
  readonly #next: ResponseWriter;

  constructor(max: number, onBytes: (total: number) => void, over: () => void, next: ResponseWriter) {
    this.#max = max;
    this.#onBytes = onBytes;
    this.#over = over;
    this.#next = next;
  }

  #count(n: number): boolean {
    this.#size += n;
    this.#onBytes(this.#size);
    if (this.#size <= this.#max) return true;
    this.#over();
    return false;
  }

  data(chunk: Buffer): void {
    if (this.#count(chunk.length)) this.#next.data(chunk);
  }

  end(tail?: Buffer): void {
    if (tail !== undefined && !this.#count(tail.length)) return;
    this.#next.end(tail, this.#size);
  }
}

/** What the writer tells the exchange, and asks of the upstream. */
export interface WriterHooks {
  phase(p: Phase): void;
  pause(): void;
  resume(): void;
  /** Send an exact Content-Length for a body gathered whole (the upstream declared one, and a body may follow). */
  exactLength: boolean;
}

/**
 * Writes the body to `res`: chunks that arrive in the tick of the head are gathered (one write with
 * an exact length when the body ends in that tick), later ones stream with backpressure.
 */
export class ResponseWriter {
  #pending: Buffer[] | null = [];
  #draining = false;
  readonly #res: ServerResponse;
  readonly #headers: Record<string, string>;
  readonly #status: number;
  readonly #hooks: WriterHooks;
  readonly #onDrain = () => this.#hooks.resume();

  constructor(res: ServerResponse, headers: Record<string, string>, status: number, hooks: WriterHooks) {
    this.#res = res;
    this.#headers = headers;
    this.#status = status;
    this.#hooks = hooks;
  }

  /** End of the tick the head arrived in: the body did not all come with it; stream it. */
  startStreaming(): void {
    const first = this.#pending;
    if (first === null) return;
    this.#pending = null;
    this.#hooks.phase('streaming');
    this.#res.writeHead(this.#status, this.#headers);
    if (first.length === 0) this.#res.flushHeaders(); // SSE and slow streams get their headers now
    for (const c of first) this.#write(c);
  }

  data(chunk: Buffer): void {
    if (this.#pending !== null) this.#pending.push(chunk);
    else this.#write(chunk);
  }

  end(tail: Buffer | undefined, size: number): void {
    this.#hooks.phase('ended');
    if (this.#pending === null) return void this.#res.end(tail);
    // The whole body came with the head: one write, with its exact (scrubbed) length when the
    // upstream declared one and a body may follow.
    const parts = tail ? [...this.#pending, tail] : this.#pending;
    this.#pending = null;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (this.#hooks.exactLength) this.#headers['content-length'] = String(body.length);
    this.#res.writeHead(this.#status, this.#headers);
    this.#res.end(body.length ? body : undefined);
  }

  detach(): void {
    if (this.#draining) this.#res.off('drain', this.#onDrain);
  }

  /** A write with backpressure; the first full buffer adds the one drain listener later writes reuse. */
  #write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#res.write(chunk)) return;
    if (!this.#draining) {
      this.#draining = true;
      this.#res.on('drain', this.#onDrain);
    }
    this.#hooks.pause();
  }
}
