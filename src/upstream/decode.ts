/**
 * Content decoding for responses that must be read as plain bytes (buffered mode, and streaming
 * mode when a redaction transform is installed). We ask for identity; this handles upstreams that
 * compress anyway. Unknown or stacked encodings are refused: redaction cannot see inside them.
 */
import { promisify } from 'node:util';
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

const gunzip = promisify(zlib.gunzip);
const brotli = promisify(zlib.brotliDecompress);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/**
 * A compressed request body decoded for the guard (the bytes sent stay as they are), as a server
 * that honours Content-Encoding would read it: gzip, deflate (zlib or raw), br, or a list of them
 * applied in order. Undefined when it cannot be decoded within `max` bytes (a zip bomb, an unknown
 * coding, corrupt data): the guard then judges the body as unread, which fails closed.
 *
 * Decoding runs on the thread pool, never on the event loop, and stops at `max` bytes, so a
 * caller sending small bombs costs a bounded amount of work per request (and is rate-limited).
 */
export async function decodeRequestForGuard(body: Buffer, contentEncoding: string, max: number): Promise<string | undefined> {
  const codings = contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0 || codings.length > 3) return undefined;
  let bytes = body;
  const opts = { maxOutputLength: max };
  try {
    // Codings are listed in the order they were applied: undo them from the last.
    for (const c of codings.reverse()) {
      if (c === 'gzip' || c === 'x-gzip') bytes = await gunzip(bytes, opts);
      else if (c === 'br') bytes = await brotli(bytes, opts);
      else if (c === 'deflate') bytes = await inflate(bytes, opts).catch((e: unknown) => (e instanceof RangeError ? Promise.reject(e) : inflateRaw(bytes, opts)));
      else return undefined;
    }
  } catch {
    return undefined;
  }
  return bytes.toString('utf8');
}
