import { Transform, type TransformCallback } from 'node:stream';

/** Something that rewrites a byte stream chunk by chunk and may hold bytes back until the end. */
export interface ChunkRewriter {
  push(chunk: Buffer | string): Buffer;
  end(): Buffer;
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
