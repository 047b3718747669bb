/**
 * The streaming proxy's request body: a declared size is checked before anything is sent, a
 * textual body is read whole (so vault handles that straddle chunk boundaries can be filled), any
 * other body streams up through a byte counter that fails with `request_too_large` past the limit.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GatehouseError, isMultipartForm, isTextualRequestMedia, mediaTypeOf } from '../core/index.js';
import { cancelledError } from './deadline.js';
import { UPSTREAM_LIMITS } from './limits.js';

/** A request body the guard reads and handles are filled in: text servers parse (src/core/media-type.ts). */
const textual = (contentType: string | undefined) => isTextualRequestMedia(mediaTypeOf(contentType));

/** Form uploads: frameworks read `_method` (and GraphQL multipart requests their operations) from them. */
const isMultipartRequest = (contentType: string | undefined) => isMultipartForm(mediaTypeOf(contentType));

export function requestTooLarge(limit: number, size?: number): GatehouseError {
  return new GatehouseError('request_too_large', `request body exceeds the limit of ${limit} bytes`, {
    hint: 'send a smaller body',
    details: { limit, ...(size !== undefined ? { size } : {}) },
  });
}

/** Counts bytes and fails with `request_too_large` once the count passes `limit`. */
function byteLimit(limit: number, onCount: (n: number) => void): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      size += chunk.length;
      onCount(size);
      if (size > limit) cb(requestTooLarge(limit, size));
      else cb(null, chunk);
    },
  });
}

// Bytes of request bodies being read into memory right now, by every request in this process:
// many slow uploads at once must not add up to gigabytes (each is already capped on its own).
// Each token may hold only its share, so one caller's uploads cannot refuse everyone else's.
let reading = 0;
const readingByOwner = new Map<string, number>();

function busy(): GatehouseError {
  return new GatehouseError(
    'limit_exceeded',
    `the gateway is already reading ${UPSTREAM_LIMITS.maxReadingBytes} bytes of request bodies`,
    {
      hint: 'retry in a moment, or send smaller bodies',
      details: { retryAfterMs: 1000 },
    },
  );
}

function ownerBusy(): GatehouseError {
  return new GatehouseError(
    'limit_exceeded',
    `this token is already sending ${UPSTREAM_LIMITS.maxReadingBytesPerToken} bytes of request bodies at once`,
    {
      hint: 'wait for your other uploads to finish, or send smaller bodies',
      details: { retryAfterMs: 1000 },
    },
  );
}

function stalled(ms: number): GatehouseError {
  return new GatehouseError('timeout', `the request body stopped arriving: nothing for ${ms} ms`, {
    hint: 'send the body without pauses, then retry',
  });
}

/** Bytes being read now, in all and for one owner (tests and diagnostics). */
export function readingNow(owner?: string): number {
  return owner === undefined ? reading : (readingByOwner.get(owner) ?? 0);
}

export interface ReadWholeOptions {
  /** The error past `limit` bytes (default `request_too_large`). */
  tooLarge?: (limit: number, size: number) => GatehouseError;
  /** Whose share of the reading budget the bytes count against (a token id). */
  owner?: string;
  /**
   * Keep the bytes counted until this closes (the response): a body read whole stays in memory
   * while the request is served, so it stays in the budget too.
   */
  holdUntil?: { readonly closed: boolean; once(event: 'close', listener: () => void): unknown };
}

/**
 * Reads the whole body with plain listeners (an async iterator costs a generator, promises and a
 * stream wrapper per request). The limit holds whatever Content-Length claimed, and the bytes
 * count against the process-wide reading budget, and against the `owner`'s (a token id) share of
 * it, until the read fails or, once read, until `holdUntil` closes (at once without it). A body
 * that stops arriving for `requestBodyIdleMs` is a `timeout`, so a stalled upload cannot hold its
 * bytes for long. A client that goes away mid-body (an 'aborted' error, or a close) is a
 * cancellation, not a server fault.
 */
export function readWhole(req: IncomingMessage, limit: number, opts: ReadWholeOptions = {}): Promise<Buffer> {
  const { tooLarge = requestTooLarge, owner, holdUntil } = opts;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const idleMs = UPSTREAM_LIMITS.requestBodyIdleMs;
    const idle = setTimeout(() => done(stalled(idleMs)), idleMs);
    const release = (n: number) => {
      reading -= n;
      if (owner !== undefined && n > 0) {
        const left = (readingByOwner.get(owner) ?? 0) - n;
        if (left > 0) readingByOwner.set(owner, left);
        else readingByOwner.delete(owner);
      }
    };
    const done = (err: unknown, buf?: Buffer) => {
      clearTimeout(idle);
      const n = size;
      size = 0;
      if (err === null && holdUntil && !holdUntil.closed && n > 0) holdUntil.once('close', () => release(n));
      else release(n);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err === null) resolve(buf!);
      else reject(err);
    };
    function onData(c: Buffer) {
      idle.refresh();
      size += c.length;
      reading += c.length;
      let mine = 0;
      if (owner !== undefined) readingByOwner.set(owner, (mine = (readingByOwner.get(owner) ?? 0) + c.length));
      if (size > limit) return done(tooLarge(limit, size));
      if (reading > UPSTREAM_LIMITS.maxReadingBytes) return done(busy());
      if (mine > UPSTREAM_LIMITS.maxReadingBytesPerToken) return done(ownerBusy());
      chunks.push(c);
    }
    function onEnd() {
      done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    }
    function onError() {
      done(cancelledError());
    }
    function onClose() {
      if (!req.complete) done(cancelledError());
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export interface PreparedBody {
  body: Buffer | Readable | undefined;
  /** Set when the body is sent with a known length (the declared one, or the filled text's). */
  contentLength: number | undefined;
  /** Bytes sent so far (final once the exchange settles). */
  bytes(): number;
}

/**
 * Reads a textual or multipart-form request body whole before anything is decided about it, so the
 * guard judges the exact bytes that will be sent (a GraphQL mutation, a method override in a form).
 * Any other body is left to stream up unread, and `unread` says one is coming (so rules that need
 * the body fail closed). The declared size is checked before reading; the limit holds whatever
 * Content-Length claimed.
 */
export async function readTextualBody(
  req: IncomingMessage,
  maxRequest: number,
  opts: Pick<ReadWholeOptions, 'owner' | 'holdUntil'> = {},
): Promise<{ body?: Buffer; unread: boolean }> {
  const declared = declaredLength(req, maxRequest);
  if (!hasBody(req, declared)) return { unread: false };
  const type = req.headers['content-type'];
  // A body with no declared type is read too: servers sniff it (and frameworks that parse every
  // body as JSON read it), so the guard must see it.
  if ((type ?? '').trim() !== '' && !textual(type) && !isMultipartRequest(type)) return { unread: true };
  return { body: await readWhole(req, maxRequest, opts), unread: false };
}

function declaredLength(req: IncomingMessage, maxRequest: number): number | undefined {
  const cl = req.headers['content-length'];
  const declared = cl !== undefined ? Number(cl) : undefined;
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new GatehouseError('invalid_input', 'Content-Length is not a valid number', {
      hint: 'send a valid Content-Length or use chunked encoding',
    });
  }
  if (declared !== undefined && declared > maxRequest) throw requestTooLarge(maxRequest, declared);
  return declared;
}

function hasBody(req: IncomingMessage, declared: number | undefined): boolean {
  return (declared !== undefined && declared > 0) || req.headers['transfer-encoding'] !== undefined;
}

async function filledBody(
  raw: Buffer,
  maxRequest: number,
  fillBody: ((text: string) => string | Promise<string>) | undefined,
): Promise<PreparedBody> {
  // Handles are filled only in UTF-8 text: any other body (UTF-16, Latin-1) would be re-encoded
  // from a lossy reading, so it is sent byte for byte as it came.
  if (fillBody === undefined || !isUtf8(raw)) return { body: raw, contentLength: raw.length, bytes: () => raw.length };
  const text = raw.toString('utf8');
  const filled = await fillBody(text);
  // Nothing filled: send the bytes as they came (no re-encoding, and byte-exact).
  const out = filled === text ? raw : Buffer.from(filled, 'utf8');
  if (out.length > maxRequest) throw requestTooLarge(maxRequest, out.length);
  return { body: out, contentLength: out.length, bytes: () => out.length };
}

/**
 * The body to send: `preread` when the caller already read it (readTextualBody), else a textual
 * body read whole here (handles that straddle chunks are filled), else a counted stream.
 */
export async function prepareRequestBody(
  req: IncomingMessage,
  maxRequest: number,
  fillBody: ((text: string) => string | Promise<string>) | undefined,
  preread?: Buffer,
): Promise<PreparedBody> {
  // A body read ahead because it is text (or multipart) is filled as such; one read ahead only so
  // an approval could bind to its digest (binary) is sent exactly as read.
  const type = req.headers['content-type'];
  if (preread !== undefined) {
    return filledBody(preread, maxRequest, textual(type) || isMultipartRequest(type) ? fillBody : undefined);
  }
  const declared = declaredLength(req, maxRequest);
  if (!hasBody(req, declared)) return { body: undefined, contentLength: undefined, bytes: () => 0 };

  if (fillBody && textual(type)) return filledBody(await readWhole(req, maxRequest), maxRequest, fillBody);

  let count = 0;
  const counter = byteLimit(maxRequest, (n) => (count = n));
  req.on('error', (e) => counter.destroy(e));
  return { body: req.pipe(counter), contentLength: declared, bytes: () => count };
}
