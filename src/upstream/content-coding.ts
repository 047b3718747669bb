/**
 * The one parser for HTTP content codings, used for request bodies (what the guard must decode
 * to judge) and for response bodies (what must be decoded before scrubbing). Before it, each
 * caller read `Content-Encoding` only when it was a single string: an upstream that sent the
 * header twice (`gzip` and `identity`) got an array, no decoder was chosen, and the scrubber saw
 * compressed bytes (issue 13.3).
 *
 * INVARIANT: a body with a coding this parser does not know, or with more than MAX_CODINGS of
 * them, is refused, never passed on undecoded: nothing downstream can see inside it.
 */
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { GatehouseError } from '../core/index.js';

/** A coding Gatehouse can undo (`x-gzip` is read as `gzip`). */
export type ContentCoding = 'gzip' | 'deflate' | 'br';

/**
 * The most codings one body may carry. Real servers send one; a proxy that compresses again makes
 * two; three leaves a margin. Each coding is another decompressor (a zlib or brotli context, up to
 * a few hundred KiB) per body and another factor of amplification for a bomb, so the list is kept
 * far below undici's own cap of 5.
 */
export const MAX_CODINGS = 3;

export type CodingList =
  | { ok: true; codings: ContentCoding[] }
  | { ok: false; reason: 'unknown'; coding: string }
  | { ok: false; reason: 'too_many'; count: number };

const KNOWN: Readonly<Record<string, ContentCoding>> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate', br: 'br' };

/** A header value as a node or undici header object holds it: one string, repeated lines, or a number. */
export type HeaderValue = string | readonly string[] | number | undefined;

function tokens(h: HeaderValue): string[] {
  if (h === undefined) return [];
  const lines = typeof h === 'string' ? [h] : typeof h === 'number' ? [String(h)] : h;
  const out: string[] = [];
  // Repeated header lines are one comma-separated list (RFC 9110 §5.3); empty members are allowed.
  for (const line of lines)
    for (const t of String(line).split(',')) {
      const c = t.trim().toLowerCase();
      if (c !== '') out.push(c);
    }
  return out;
}

// Registered codings Gatehouse does not undo (IANA HTTP Content Coding Registry): only these are
// named in an error. Any other value came from the upstream and may be anything, a filled vault
// value it reflected included, so it is never echoed.
const REGISTERED_UNSUPPORTED = new Set([
  'compress',
  'x-compress',
  'zstd',
  'aes128gcm',
  'exi',
  'pack200-gzip',
  'dcb',
  'dcz',
]);

/** What a refused coding is called in an error: its registered name, or "unregistered". */
function shown(coding: string): string {
  return REGISTERED_UNSUPPORTED.has(coding) ? coding : 'unregistered';
}

function listOf(names: string[]): CodingList {
  const codings: ContentCoding[] = [];
  for (const n of names) {
    if (n === 'identity') continue;
    const c = KNOWN[n];
    if (c === undefined) return { ok: false, reason: 'unknown', coding: shown(n) };
    codings.push(c);
  }
  if (codings.length > MAX_CODINGS) return { ok: false, reason: 'too_many', count: codings.length };
  return { ok: true, codings };
}

/**
 * The codings of a `Content-Encoding` header in the order they were applied (so they are undone
 * from the last): comma lists and repeated headers joined, case-insensitive, `identity` dropped.
 */
export function parseContentCodings(h: HeaderValue): CodingList {
  return listOf(tokens(h));
}

/**
 * The codings a response body carries: its content codings, then the transfer codings other than
 * `chunked` (undici removes the chunk framing, but not `Transfer-Encoding: gzip, chunked`, whose
 * bytes would otherwise reach the scrubber compressed).
 */
export function responseCodings(contentEncoding: HeaderValue, transferEncoding: HeaderValue): CodingList {
  return listOf([...tokens(contentEncoding), ...tokens(transferEncoding).filter((t) => t !== 'chunked')]);
}

/** Whether `Transfer-Encoding` names any coding besides `chunked` (which undici undoes itself). */
export function hasTransferCoding(transferEncoding: HeaderValue): boolean {
  return tokens(transferEncoding).some((t) => t !== 'chunked');
}

/** The typed refusal for a response whose codings cannot be undone; the body is not returned. */
export function codingRefused(list: Exclude<CodingList, { ok: true }>, targetName: string): GatehouseError {
  const why =
    list.reason === 'unknown'
      ? `an unsupported content coding (${list.coding})`
      : `${list.count} stacked content codings (at most ${MAX_CODINGS})`;
  return new GatehouseError(
    'upstream_error',
    `target "${targetName}" answered with ${why}; the response was not returned`,
    {
      hint: 'Gatehouse reads only identity, gzip, deflate or br bodies, so it can scrub them; ask the upstream for an uncompressed answer',
      details: list.reason === 'unknown' ? { contentEncoding: list.coding } : { codings: list.count },
    },
  );
}

/**
 * The codings of a response, or the typed refusal. The one entry point for both the buffered and
 * the streamed response path.
 */
export function responseCodingsOrThrow(
  contentEncoding: HeaderValue,
  transferEncoding: HeaderValue,
  targetName: string,
): ContentCoding[] {
  const list = responseCodings(contentEncoding, transferEncoding);
  if (!list.ok) throw codingRefused(list, targetName);
  return list.codings;
}

function decoderOf(c: ContentCoding): Transform {
  if (c === 'gzip') return zlib.createGunzip();
  // `deflate` is the zlib format (RFC 9110); a raw deflate stream fails to decode, which is a typed
  // upstream_error, never bytes passed on undecoded.
  if (c === 'deflate') return zlib.createInflate();
  return zlib.createBrotliDecompress();
}

/** The decoders for `codings`, in the order the bytes must pass through them (last applied first). */
export function decoderChain(codings: readonly ContentCoding[]): Transform[] {
  return [...codings].reverse().map((c) => decoderOf(c));
}
