/**
 * Streaming exchange (the `/gateway/:target/*` route): the request body streams up and the response
 * body streams down as it arrives (SSE, large downloads), through an optional redaction Transform.
 *
 * Contract with the caller:
 * - if the returned promise rejects and `res.headersSent` is false, nothing was written: the caller
 *   answers with the error (see httpStatusFor);
 * - once headers are sent, an error (size cap, body timeout, cancellation) destroys `res`, which is
 *   the only honest mid-stream signal, and the promise rejects with the typed error;
 * - redirects are never followed here; a 3xx goes back to the client as is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatehouseError } from '../core/index.js';
import { cancelledError, startDeadline } from './deadline.js';
import { decoderFor } from './decode.js';
import { credentialForms, filterResponseHeaders } from './headers.js';
import { UPSTREAM_LIMITS } from './limits.js';
import { mapUpstreamError } from './map-error.js';
import type { QueryInput } from './path-safety.js';
import { prepare, requestPath, withQueryCredential } from './prepare.js';
import { pump } from './pump.js';
import type { ResolvedTarget } from './target-spec.js';

export interface UpstreamProxyOptions {
  /** Path under the target's base path (the part after /gateway/:target). */
  path: string;
  /** Query string (with or without "?") or parameters. */
  query?: QueryInput;
  /** Defaults to req.method. */
  method?: string;
  signal?: AbortSignal;
  /** Whole exchange, default UPSTREAM_LIMITS.streamTotalTimeoutMs. */
  timeoutMs?: number;
  headersTimeoutMs?: number;
  /** Longest silence between body chunks, default UPSTREAM_LIMITS.streamBodyTimeoutMs. */
  bodyTimeoutMs?: number;
  maxRequestBytes?: number;
  /** Hard cap on response bytes sent to the client (after decoding and transform); the stream is aborted beyond it. */
  maxResponseBytes?: number;
  /** Fills vault handles in header values and query values. */
  fill?: (text: string) => string;
  /**
   * Fills vault handles in a textual request body (read whole to do so). Async, because the
   * handles in a body are only known once it has arrived. Defaults to `fill`.
   */
  fillBody?: (text: string) => string | Promise<string>;
  /** Scrubs response header values. */
  scrubHeader?: (value: string) => string;
  /** A fresh Transform per response, e.g. the vault's streaming redactor. */
  responseTransform?: () => Transform;
  /** Extra incoming header names never forwarded (e.g. the gateway's own token header). */
  dropHeaders?: string[];
}

export interface UpstreamProxyResult {
  status: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

const TEXTUAL = /^(text\/|application\/(json|[^;]*\+json|x-www-form-urlencoded|xml|[^;]*\+xml|graphql|x-ndjson))/i;

/** Counts bytes and fails with `error()` once the count passes `limit`. */
function byteLimit(limit: number, error: (size: number) => GatehouseError, onCount: (n: number) => void): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      size += chunk.length;
      onCount(size);
      if (size > limit) cb(error(size));
      else cb(null, chunk);
    },
  });
}

function positive(n: number | undefined, fallback: number, what: string): number {
  if (n === undefined) return fallback;
  if (!Number.isFinite(n) || n <= 0) throw new GatehouseError('invalid_input', `${what} must be a positive number`, { hint: `omit it for the default (${fallback})` });
  return n;
}

function requestTooLarge(limit: number, size?: number): GatehouseError {
  return new GatehouseError('request_too_large', `request body exceeds the limit of ${limit} bytes`, { hint: 'send a smaller body', details: { limit, ...(size !== undefined ? { size } : {}) } });
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw requestTooLarge(limit, size);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

export async function streamingProxy(
  dispatcher: Dispatcher,
  target: ResolvedTarget,
  credential: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  opts: UpstreamProxyOptions,
): Promise<UpstreamProxyResult> {
  const started = performance.now();
  const name = target.spec.name;
  const maxRequest = positive(opts.maxRequestBytes, UPSTREAM_LIMITS.maxRequestBytes, 'maxRequestBytes');
  const maxResponse = positive(opts.maxResponseBytes, UPSTREAM_LIMITS.streamResponseBytes, 'maxResponseBytes');
  const total = positive(opts.timeoutMs, UPSTREAM_LIMITS.streamTotalTimeoutMs, 'timeoutMs');
  const prep = prepare(target, credential, {
    method: opts.method ?? req.method,
    path: opts.path,
    query: opts.query,
    headers: req.headers,
    fill: opts.fill,
    dropHeaders: opts.dropHeaders,
  });

  // Request body: declared size checked before anything is sent; streamed through a counter.
  const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new GatehouseError('invalid_input', 'Content-Length is not a valid number', { hint: 'send a valid Content-Length or use chunked encoding' });
  }
  if (declared !== undefined && declared > maxRequest) throw requestTooLarge(maxRequest, declared);
  const hasBody = (declared !== undefined && declared > 0) || req.headers['transfer-encoding'] !== undefined;
  let requestBytes = 0;
  let body: Buffer | Readable | undefined;
  const contentType = String(req.headers['content-type'] ?? '');
  const fillBody = opts.fillBody ?? opts.fill;
  if (hasBody && fillBody && TEXTUAL.test(contentType)) {
    // Vault handles can straddle chunk boundaries, so a textual body is read whole to be filled.
    const filled = Buffer.from(await fillBody((await readAll(req, maxRequest)).toString('utf8')), 'utf8');
    if (filled.length > maxRequest) throw requestTooLarge(maxRequest, filled.length);
    body = filled;
    requestBytes = filled.length;
    prep.headers['content-length'] = String(filled.length);
  } else if (hasBody) {
    const counter = byteLimit(maxRequest, (n) => requestTooLarge(maxRequest, n), (n) => (requestBytes = n));
    req.on('error', (e) => counter.destroy(e));
    body = req.pipe(counter);
    if (declared !== undefined) prep.headers['content-length'] = String(declared);
  }

  const deadline = startDeadline(name, total, opts.signal);
  // The client going away cancels the upstream exchange.
  const onClientClose = () => {
    if (!res.writableFinished) deadline.abort(cancelledError());
  };
  res.on('close', onClientClose);
  let responseBytes = 0;
  try {
    const up = await dispatcher.request({
      origin: target.origin,
      path: requestPath(withQueryCredential(target, prep.url, credential)),
      method: prep.method as Dispatcher.HttpMethod,
      headers: prep.headers,
      body,
      signal: deadline.signal,
      headersTimeout: opts.headersTimeoutMs ?? UPSTREAM_LIMITS.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs ?? UPSTREAM_LIMITS.streamBodyTimeoutMs,
    });
    const transform = opts.responseTransform?.();
    let decoder: Transform | null = null;
    try {
      decoder = transform ? decoderFor(typeof up.headers['content-encoding'] === 'string' ? up.headers['content-encoding'] : undefined, name) : null;
    } catch (e) {
      up.body.destroy();
      throw e;
    }
    const headers = filterResponseHeaders(up.headers, credentialForms(target.spec.auth, credential), opts.scrubHeader);
    if (decoder) delete headers['content-encoding'];
    if (transform) delete headers['content-length'];
    const declaredOut = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
    if (declaredOut !== undefined && declaredOut > maxResponse) {
      up.body.destroy();
      throw new GatehouseError('response_too_large', `target "${name}" response is ${declaredOut} bytes; the limit is ${maxResponse}`, { hint: 'ask for less data (ranges, pagination)', details: { limit: maxResponse } });
    }
    res.writeHead(up.statusCode, headers);
    // Streams of unknown length (SSE, chunked downloads) get their headers at once; a fixed-length
    // body carries them in its first write (one packet fewer on the hot path).
    if (headers['content-length'] === undefined) res.flushHeaders();
    const stages: Transform[] = [];
    if (decoder) stages.push(decoder);
    if (transform) stages.push(transform);
    await pump(up.body, stages, res, {
      maxBytes: maxResponse,
      capError: () => new GatehouseError('response_too_large', `target "${name}" response passed the limit of ${maxResponse} bytes; the stream was cut`, { hint: 'ask for less data (ranges, pagination)', details: { limit: maxResponse } }),
      onBytes: (n) => (responseBytes = n),
      signal: deadline.signal,
    });
    return { status: up.statusCode, durationMs: performance.now() - started, requestBytes, responseBytes };
  } catch (e) {
    const reason: unknown = deadline.signal.aborted ? deadline.signal.reason : e;
    const err = mapUpstreamError(e instanceof GatehouseError ? e : reason, name);
    if (res.headersSent && !res.destroyed) res.destroy();
    if (body instanceof Readable && !body.destroyed) body.destroy();
    throw err;
  } finally {
    res.off('close', onClientClose);
    deadline.dispose();
  }
}

/** HTTP status for answering a proxy error before any header was sent. */
export function httpStatusFor(err: GatehouseError): number {
  switch (err.code) {
    case 'path_denied':
    case 'invalid_input':
      return 400;
    case 'ssrf_blocked':
    case 'denied':
    case 'not_granted':
    case 'redirect_blocked':
      return 403;
    case 'unauthenticated':
      return 401;
    case 'not_found':
      return 404;
    case 'request_too_large':
      return 413;
    case 'approval_required':
      return 202;
    case 'timeout':
      return 504;
    case 'cancelled':
      return 499;
    case 'config_invalid':
    case 'audit_unavailable':
    case 'store_unavailable':
      return 503;
    case 'upstream_error':
    case 'response_too_large':
      return 502;
    default:
      return 500;
  }
}
