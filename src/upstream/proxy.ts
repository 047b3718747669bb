/**
 * Streaming exchange (the `/gateway/:target/*` route): the request body streams up and the response
 * body streams down as it arrives (SSE, large downloads), through an optional redaction Transform.
 *
 * Contract with the caller:
 * - if the returned promise rejects and `res.headersSent` is false, nothing was written: the caller
 *   answers with the error (HTTP_STATUS in core/errors.ts);
 * - once headers are sent, an error (size cap, body timeout, cancellation) destroys `res`, which is
 *   the only honest mid-stream signal, and the promise rejects with the typed error;
 * - redirects are never followed here; a 3xx goes back to the client as is (its Location scrubbed
 *   like every header), and a client that follows it makes a new request through the gate;
 * - a response body is decoded with every coding it declares (content codings, and transfer
 *   codings other than chunked) before a scrubber sees it, or the response is refused
 *   (`upstream_error`) before any header is sent;
 * - the byte cap counts what leaves after decoding and scrubbing; past it the stream is aborted,
 *   and what the scrubber still holds back is never flushed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatehouseError, rewriterStream, type ChunkRewriter } from '../core/index.js';
import { cancelledError } from './deadline.js';
import { decoderChain, hasTransferCoding, responseCodingsOrThrow } from './content-coding.js';
import { credentialForms, filterResponseHeaders, headerLines, headerValues, type RawHeaderLines } from './headers.js';
import { positive, UPSTREAM_LIMITS } from './limits.js';
import { mapUpstreamError } from './map-error.js';
import type { QueryInput } from './path-safety.js';
import { prepare, requestPath, withQueryCredential } from './prepare.js';
import { pump } from './pump.js';
import { prepareRequestBody } from './request-body.js';
import type { ResolvedTarget } from './target-spec.js';

/** Incremental scrubbing of a byte stream: THE chunk-rewriter contract of src/core/streams.ts. */
export type ResponseScrubber = ChunkRewriter;

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
  /** Scrubs response header names and values (a name that holds a secret drops its header). */
  scrubHeader?: (value: string) => string;
  /**
   * A fresh chunk scrubber per response (e.g. the vault redactor's `createScrubber`): applied to
   * each body chunk as it arrives, without a stream stage. The cheap way to redact a body. Header
   * bytes that are not printable ASCII are scrubbed with it too.
   */
  responseScrubber?: () => ResponseScrubber;
  /** A fresh Transform per response (applied after `responseScrubber` when both are given). */
  responseTransform?: () => Transform;
  /** Extra incoming header names never forwarded (e.g. the gateway's own token header). */
  dropHeaders?: string[];
  /** The request body, when the caller already read it (readTextualBody); `req` is not read again. */
  body?: Buffer;
}

export interface UpstreamProxyResult {
  status: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

// The credential's wire forms, per resolved target (frozen and cached by the pool) and credential.
const formsCache = new WeakMap<ResolvedTarget, { credential: string | undefined; forms: string[] }>();
function formsFor(target: ResolvedTarget, credential: string | undefined): string[] {
  const hit = formsCache.get(target);
  if (hit && hit.credential === credential) return hit.forms;
  const forms = credentialForms(target.spec.auth, credential);
  formsCache.set(target, { credential, forms });
  return forms;
}

function tooLarge(name: string, limit: number, size?: number): GatehouseError {
  return size !== undefined
    ? new GatehouseError('response_too_large', `target "${name}" response is ${size} bytes; the limit is ${limit}`, { hint: 'ask for less data (ranges, pagination)', details: { limit } })
    : new GatehouseError('response_too_large', `target "${name}" response passed the limit of ${limit} bytes; the stream was cut`, { hint: 'ask for less data (ranges, pagination)', details: { limit } });
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
  const method = opts.method ?? req.method;
  const prep = prepare(target, credential, {
    method,
    path: opts.path,
    query: opts.query,
    headers: req.headers,
    fill: opts.fill,
    dropHeaders: opts.dropHeaders,
  });
  const path = requestPath(withQueryCredential(target, prep.url, credential));
  const up = await prepareRequestBody(req, maxRequest, opts.fillBody ?? opts.fill, opts.body);
  if (up.contentLength !== undefined) prep.headers['content-length'] = String(up.contentLength);
  return exchange(dispatcher, target, credential, res, opts, {
    started, name, maxResponse, total, path, method: prep.method, headers: prep.headers, body: up.body, requestBytes: up.bytes,
  });
}

interface ExchangeInput {
  started: number;
  name: string;
  maxResponse: number;
  total: number;
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: Buffer | Readable | undefined;
  requestBytes: () => number;
}

/**
 * One upstream exchange through undici's dispatch API, writing straight into `res`: no response
 * body stream, no pipe, no promise per stage. Backpressure goes both ways through the dispatch
 * controller (pause on a full `res`, resume on its drain).
 *
 * When the headers and the whole body arrive in the same tick (the usual small API answer), the
 * response goes out in one write with an exact Content-Length (after scrubbing); otherwise the
 * headers are flushed at the end of that tick and the body streams as it arrives, so SSE and slow
 * streams are never held back.
 */
function exchange(
  dispatcher: Dispatcher,
  target: ResolvedTarget,
  credential: string | undefined,
  res: ServerResponse,
  opts: UpstreamProxyOptions,
  x: ExchangeInput,
): Promise<UpstreamProxyResult> {
  return new Promise<UpstreamProxyResult>((resolve, reject) => {
    const { name, maxResponse } = x;
    let ctl: Dispatcher.DispatchController | null = null;
    let failure: unknown = null;
    let settled = false;
    let status = 0;
    let outHeaders: Record<string, string> | null = null;
    let scrubber: ResponseScrubber | null = null;
    // 0 waiting for headers, 1 headers in (same tick: body gathered), 2 streaming, 3 body ended
    let phase = 0;
    let pending: Buffer[] | null = null;
    let size = 0;
    let draining = false;
    let staged: Readable | null = null; // the source of the stream-stage path (decoder, Transform)
    const stages: Transform[] = [];
    let upstreamDeclared = false;

    const timer = setTimeout(() => {
      fail(new GatehouseError('timeout', `target "${name}" did not finish within ${x.total} ms`, {
        hint: 'raise timeout_ms or ask for less data',
        details: { phase: 'total', limitMs: x.total },
      }));
    }, x.total);
    timer.unref?.();
    const onAbort = () => fail(cancelledError());
    const onClose = () => {
      // The client went away (cancels the upstream exchange), or the response was delivered (on
      // the stage path, pump settles that case).
      if (!res.writableFinished) fail(cancelledError());
      else if (!staged) succeed();
    };
    const onResError = (e: unknown) => fail(e);
    const onDrain = () => {
      if (!settled) ctl?.resume();
    };
    if (opts.signal?.aborted) failure = cancelledError();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    res.on('close', onClose);
    res.on('error', onResError);

    function cleanup() {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      res.off('close', onClose);
      res.off('error', onResError);
      if (draining) res.off('drain', onDrain);
    }
    function succeed() {
      if (settled) return;
      settled = true;
      cleanup();
      resolve({ status, durationMs: performance.now() - x.started, requestBytes: x.requestBytes(), responseBytes: size });
    }
    function fail(e: unknown) {
      if (settled) return;
      settled = true;
      cleanup();
      failure ??= e;
      // Aborting calls onResponseError synchronously; `settled` makes that a no-op.
      if (ctl && !ctl.aborted) ctl.abort(e instanceof Error ? e : new Error(String(e)));
      if (res.headersSent && !res.destroyed) res.destroy();
      if (x.body instanceof Readable && !x.body.destroyed) x.body.destroy();
      if (staged && !staged.destroyed) staged.destroy();
      for (const s of stages) if (!s.destroyed) s.destroy();
      reject(mapUpstreamError(e, name));
    }
    // The first write with backpressure; later writes reuse the same drain listener.
    function write(chunk: Buffer) {
      if (chunk.length === 0) return;
      if (!res.write(chunk)) {
        if (!draining) {
          draining = true;
          res.on('drain', onDrain);
        }
        ctl?.pause();
      }
    }
    function count(n: number): boolean {
      size += n;
      if (size > maxResponse) {
        fail(tooLarge(name, maxResponse));
        return false;
      }
      return true;
    }
    // End of the tick the headers arrived in: the body did not all come with them; stream it.
    function startStreaming() {
      if (phase !== 1 || settled) return;
      phase = 2;
      res.writeHead(status, outHeaders!);
      const first = pending!;
      pending = null;
      if (first.length === 0) res.flushHeaders(); // SSE and slow streams get their headers now
      for (const c of first) write(c);
    }

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        ctl = controller;
        if (failure !== null || settled) controller.abort(failure instanceof Error ? failure : cancelledError());
      },
      onResponseStart(controller, statusCode, headers) {
        if (settled) return;
        if (statusCode < 200) return; // 1xx informational answers are not forwarded
        status = statusCode;
        try {
          // The raw lines keep header names in the upstream's own case (a secret in a name is
          // matched as sent) and every repeated header; the parsed object is the fallback.
          const raw = (controller as { rawHeaders?: RawHeaderLines | null }).rawHeaders;
          const lines = headerLines(raw ?? headers);
          const ce = headerValues(lines, 'content-encoding');
          const te = headerValues(lines, 'transfer-encoding');
          const transform = opts.responseTransform?.();
          scrubber = opts.responseScrubber?.() ?? null;
          // A transfer coding other than chunked is never passed on encoded (Transfer-Encoding is
          // hop-by-hop, so the client would not know it); a body that is redacted is read plain.
          const mustRead = transform !== undefined || scrubber !== null || hasTransferCoding(te);
          // Redaction must see plain bytes: every declared coding is undone first, or the
          // response is refused (INVARIANT: never scrubbed while still encoded).
          const decoders = mustRead ? decoderChain(responseCodingsOrThrow(ce, te, name)) : [];
          const out = filterResponseHeaders(lines, formsFor(target, credential), { text: opts.scrubHeader, bytes: opts.responseScrubber });
          if (decoders.length > 0) delete out['content-encoding'];
          upstreamDeclared = out['content-length'] !== undefined;
          if (mustRead) delete out['content-length'];
          else if (out['content-length'] !== undefined) {
            const declaredOut = Number(out['content-length']);
            if (declaredOut > maxResponse) return fail(tooLarge(name, maxResponse, declaredOut));
          }
          outHeaders = out;
          if (decoders.length > 0 || transform) {
            // Stream-stage path: decoders and/or caller Transform between undici and res.
            stages.push(...decoders);
            if (scrubber) stages.push(rewriterStream(scrubber));
            if (transform) stages.push(transform);
            scrubber = null;
            staged = new Readable({ read: () => ctl?.resume() });
            phase = 2;
            res.writeHead(status, out);
            if (out['content-length'] === undefined) res.flushHeaders();
            pump(staged, stages, res, {
              maxBytes: maxResponse,
              capError: () => tooLarge(name, maxResponse),
              onBytes: (n) => (size = n),
            }).then(() => {
              phase = 3;
              succeed();
            }, fail);
            return;
          }
          phase = 1;
          pending = [];
          queueMicrotask(startStreaming);
        } catch (e) {
          fail(e);
        }
      },
      onResponseData(_controller, chunk) {
        if (settled) return;
        if (staged) {
          if (!staged.push(chunk)) ctl?.pause();
          return;
        }
        let out = chunk;
        if (scrubber) {
          try {
            out = scrubber.push(chunk);
          } catch (e) {
            return fail(e);
          }
        }
        if (!count(out.length)) return;
        if (phase === 1) pending!.push(out);
        else write(out);
      },
      onResponseEnd() {
        if (settled) return;
        if (staged) {
          staged.push(null);
          return;
        }
        let tail: Buffer | undefined;
        if (scrubber) {
          try {
            tail = scrubber.end();
          } catch (e) {
            return fail(e);
          }
          if (tail.length === 0) tail = undefined;
          else if (!count(tail.length)) return;
        }
        if (phase === 1) {
          // The whole body came with the headers: one write, with its exact (scrubbed) length
          // when the upstream declared one and a body may follow.
          const parts = tail ? [...pending!, tail] : pending!;
          pending = null;
          const body = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
          const hasBody = x.method !== 'HEAD' && status !== 204 && status !== 304;
          if (upstreamDeclared && hasBody) outHeaders!['content-length'] = String(body.length);
          phase = 3;
          res.writeHead(status, outHeaders!);
          res.end(body.length ? body : undefined);
          return;
        }
        phase = 3;
        res.end(tail);
      },
      onResponseError(_controller, err) {
        fail(err);
      },
    };

    if (failure !== null) return fail(failure);
    try {
      dispatcher.dispatch(
        {
          origin: target.origin,
          path: x.path,
          method: x.method as Dispatcher.HttpMethod,
          headers: x.headers,
          body: x.body,
          headersTimeout: opts.headersTimeoutMs ?? UPSTREAM_LIMITS.headersTimeoutMs,
          bodyTimeout: opts.bodyTimeoutMs ?? UPSTREAM_LIMITS.streamBodyTimeoutMs,
        },
        handler,
      );
    } catch (e) {
      fail(e);
    }
  });
}
