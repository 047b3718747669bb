import { Transform, type TransformCallback } from 'node:stream';

/**
 * THE chunk-rewriter contract (issue 22 item 1: one interface, not three copies): something that
 * rewrites a byte stream chunk by chunk and may hold bytes back until the end. The vault's
 * scrubbers, the upstream proxy's response stage and `rewriterStream` all speak it.
 */
export interface ChunkRewriter {
  push(chunk: Buffer | string): Buffer;
  end(): Buffer;
}

/**
 * A rewriter for output that never "ends" but goes quiet (an interactive terminal): `flush()`
 * releases everything held as if the stream ended here, and the rewriter stays usable for later
 * chunks. Prefer `end()` wherever an end exists: a flush releases a held tail that more data
 * could still have completed.
 */
export interface FlushableRewriter extends ChunkRewriter {
  flush(): Buffer;
}

/** The same contracts over JS strings (for callers that hold text, e.g. a session buffer). */
export interface TextRewriter {
  push(chunk: string): string;
  end(): string;
  flush(): string;
}

/** A Transform stream around a chunk rewriter (errors in it end the stream with that error). */
export function rewriterStream(r: ChunkRewriter): Transform {
  return new Transform({
    transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        const out = r.push(chunk);
        cb(null, out.length ? out : undefined);
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        const out = r.end();
        cb(null, out.length ? out : undefined);
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}
