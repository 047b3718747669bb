/**
 * A compressed request body decoded for the guard (the bytes sent stay as they are), as a server
 * that honours Content-Encoding would read it. The codings come from the one parser
 * (content-coding.ts) that the response path uses too.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { parseContentCodings, type HeaderValue } from './content-coding.js';

const gunzip = promisify(zlib.gunzip);
const brotli = promisify(zlib.brotliDecompress);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/**
 * The body's bytes once its content codings are undone: gzip, deflate (zlib or raw, as servers
 * accept both), br, or a list of them applied in order; `identity` alone gives the body back as
 * it is. Undefined when it cannot be decoded within `max` bytes (a zip bomb, an unknown coding,
 * too many codings, corrupt data): the guard then judges the body as unread, which fails closed.
 *
 * Decoding runs on the thread pool, never on the event loop, and stops at `max` bytes, so a
 * caller sending small bombs costs a bounded amount of work per request (and is rate-limited).
 */
export async function decodeRequestForGuard(
  body: Buffer,
  contentEncoding: HeaderValue,
  max: number,
): Promise<Buffer | undefined> {
  const list = parseContentCodings(contentEncoding);
  if (!list.ok) return undefined;
  let bytes = body;
  const opts = { maxOutputLength: max };
  try {
    // Codings are listed in the order they were applied: undo them from the last.
    for (let i = list.codings.length - 1; i >= 0; i--) {
      const c = list.codings[i];
      if (c === 'gzip') bytes = await gunzip(bytes, opts);
      else if (c === 'br') bytes = await brotli(bytes, opts);
      else
        bytes = await inflate(bytes, opts).catch((e: unknown) =>
          e instanceof RangeError ? Promise.reject(e) : inflateRaw(bytes, opts),
        );
    }
  } catch {
    return undefined;
  }
  return bytes.length > max ? undefined : bytes;
}
