/**
 * Content decoding for responses that must be read as plain bytes (buffered mode, and streaming
 * mode when a redaction transform is installed). We ask for identity; this handles upstreams that
 * compress anyway. Unknown or stacked encodings are refused: redaction cannot see inside them.
 */
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { GatehouseError } from '../core/index.js';

export function decoderFor(contentEncoding: string | undefined, targetName: string): Transform | null {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return null;
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.createGunzip();
  if (enc === 'deflate') return zlib.createInflate();
  if (enc === 'br') return zlib.createBrotliDecompress();
  throw new GatehouseError('upstream_error', `target "${targetName}" answered with an unsupported content-encoding`, {
    hint: 'the gateway reads only identity, gzip, deflate or br bodies',
    details: { contentEncoding: enc.slice(0, 40) },
  });
}

/**
 * A compressed request body decoded for the guard (the bytes sent stay as they are), as a server
 * that honours Content-Encoding would read it: gzip, deflate (zlib or raw), br, or a list of them
 * applied in order. Undefined when it cannot be decoded within `max` bytes (a zip bomb, an unknown
 * coding, corrupt data): the guard then judges the body as unread.
 */
export function decodeRequestForGuard(body: Buffer, contentEncoding: string, max: number): string | undefined {
  const codings = contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0 || codings.length > 3) return undefined;
  let bytes = body;
  try {
    // Codings are listed in the order they were applied: undo them from the last.
    for (const c of codings.reverse()) {
      const opts = { maxOutputLength: max };
      if (c === 'gzip' || c === 'x-gzip') bytes = zlib.gunzipSync(bytes, opts);
      else if (c === 'br') bytes = zlib.brotliDecompressSync(bytes, opts);
      else if (c === 'deflate') {
        try {
          bytes = zlib.inflateSync(bytes, opts);
        } catch (e) {
          if (e instanceof RangeError) throw e;
          bytes = zlib.inflateRawSync(bytes, opts);
        }
      } else return undefined;
    }
  } catch {
    return undefined;
  }
  return bytes.toString('utf8');
}
