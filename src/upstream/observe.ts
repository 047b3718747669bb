/**
 * The response body's rewriter with an observer beside it (`observeBody` of both exchanges: the
 * model usage tap). One place, so the buffered and the streaming exchange show an observer the
 * same bytes: the body after decoding and scrubbing, chunk by chunk as it passes, and never the
 * header bytes (those are scrubbed with fresh scrubbers from the same factory, which an observer
 * wrapped into the factory would see too).
 */
import type { ChunkRewriter } from '../core/index.js';

/** Shown each chunk of a response body as it passes; it must not keep or change the chunk. */
export type BodyObserver = (chunk: Buffer) => void;

/** The caller's scrubber for one response body (or none), with `observe` shown what it lets through. */
export function observedRewriter(
  scrubber: ChunkRewriter | null,
  observe: BodyObserver | undefined,
): ChunkRewriter | null {
  if (!observe) return scrubber;
  const see = (b: Buffer): Buffer => {
    if (b.length > 0) observe(b);
    return b;
  };
  if (!scrubber) return { push: (c) => see(typeof c === 'string' ? Buffer.from(c) : c), end: () => Buffer.alloc(0) };
  return { push: (c) => see(scrubber.push(c)), end: () => see(scrubber.end()) };
}
