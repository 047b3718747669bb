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
import { observedRewriter, type BodyObserver } from './observe.js';
import type { QueryInput } from './path-safety.js';
import { prepare, requestPath, withQueryCredential } from './prepare.js';
import { pump } from './pump.js';
import { prepareRequestBody } from './request-body.js';
import { CapStage, ResponseWriter, ScrubStage, TickBatch, type BodyPath, type Phase } from './exchange-stages.js';
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
  /** Scrubs response header names and values (a name that holds a secret drops its header). */
  scrubHeader?: (value: string) => string;
  /**
   * A fresh chunk scrubber per response (e.g. the vault redactor's `createScrubber`): applied to
   * each body chunk as it arrives, without a stream stage. The cheap way to redact a body. Header
   * bytes that are not printable ASCII are scrubbed with it too.
   */
  responseScrubber?: () => ChunkRewriter;
  /**
   * Shown the response body chunk by chunk, decoded and scrubbed (before `responseTransform`), as
   * it passes to the client (the model usage tap); never header bytes. Given, the body is read
   * plain like a scrubbed one.
   */
  observeBody?: BodyObserver;
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

/** A response over the cap: declared too large (`size`), or cut while it streamed. */
function tooLarge(name: string, limit: number, size?: number): GatehouseError {
  const message =
    size !== undefined
      ? `target "${name}" response is ${size} bytes; the limit is ${limit}`
      : `target "${name}" response passed the limit of ${limit} bytes; the stream was cut`;
  return new GatehouseError('response_too_large', message, {
    hint: 'ask for less data (ranges, pagination)',
    details: { limit },
  });
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
    started,
    name,
    maxResponse,
    total,
    path,
    method: prep.method,
    headers: prep.headers,
    body: up.body,
    requestBytes: up.bytes,
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
 *
 * The body passes through separate stages, in the style of undici's decorator handlers: decode
 * (every declared coding undone, or the response refused), scrub (the caller's chunk rewriter),
 * cap (bytes after decoding and scrubbing), then the writer. Without a coding to undo or a
 * caller's Transform, scrub and cap run in line on each chunk (DirectBody); otherwise the body is
 * pumped through stream stages (StagedBody).
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
    new ProxyExchange(target, credential, res, opts, x, { resolve, reject }).dispatch(dispatcher);
  });
}

/** The parsed response headers undici hands a dispatch handler. */
type ResponseHeaders = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2];

/** The dispatch handler of one exchange: it reads the head, picks the body path, and hands each chunk to it. */
class ProxyExchange implements Dispatcher.DispatchHandler {
  #phase: Phase = 'awaiting-headers';
  #status = 0;
  /** Bytes sent to the client (after decoding and scrubbing). */
  #sent = 0;
  #body: BodyPath | null = null;
  /** Set when the body is pumped through stream stages (pump, not `res` close, settles then). */
  #staged = false;
  readonly #life: ExchangeLifetime;
  readonly #target: ResolvedTarget;
  readonly #credential: string | undefined;
  readonly #res: ServerResponse;
  readonly #opts: UpstreamProxyOptions;
  readonly #x: ExchangeInput;

  constructor(
    target: ResolvedTarget,
    credential: string | undefined,
    res: ServerResponse,
    opts: UpstreamProxyOptions,
    x: ExchangeInput,
    settle: { resolve(r: UpstreamProxyResult): void; reject(e: unknown): void },
  ) {
    this.#target = target;
    this.#credential = credential;
    this.#res = res;
    this.#opts = opts;
    this.#x = x;
    this.#life = new ExchangeLifetime(res, x, opts.signal, {
      resolve: () =>
        settle.resolve({
          status: this.#status,
          durationMs: performance.now() - x.started,
          requestBytes: x.requestBytes(),
          responseBytes: this.#sent,
        }),
      reject: settle.reject,
      // The client went away (cancels the upstream exchange), or the response was delivered (on
      // the stage path, the pump settles that case).
      delivered: () => !this.#staged,
    });
  }

  dispatch(dispatcher: Dispatcher): void {
    if (this.#life.failure !== null) return this.#life.fail(this.#life.failure);
    try {
      dispatcher.dispatch(
        {
          origin: this.#target.origin,
          path: this.#x.path,
          method: this.#x.method as Dispatcher.HttpMethod,
          headers: this.#x.headers,
          body: this.#x.body,
          headersTimeout: this.#opts.headersTimeoutMs ?? UPSTREAM_LIMITS.headersTimeoutMs,
          bodyTimeout: this.#opts.bodyTimeoutMs ?? UPSTREAM_LIMITS.streamBodyTimeoutMs,
        },
        this,
      );
    } catch (e) {
      this.#life.fail(e);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#life.controller = controller;
    const failure = this.#life.failure;
    if (failure !== null || this.#life.settled) controller.abort(failure instanceof Error ? failure : cancelledError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders): void {
    if (this.#life.settled) return;
    if (statusCode < 200) return; // 1xx informational answers are not forwarded
    this.#status = statusCode;
    try {
      // The raw lines keep header names in the upstream's own case (a secret in a name is
      // matched as sent) and every repeated header; the parsed object is the fallback.
      const raw = (controller as { rawHeaders?: RawHeaderLines | null }).rawHeaders;
      const head = responseHead(
        headerLines(raw ?? headers),
        this.#target,
        this.#credential,
        this.#opts,
        this.#x.maxResponse,
      );
      if (head.tooLarge !== undefined)
        return this.#life.fail(tooLarge(this.#x.name, this.#x.maxResponse, head.tooLarge));
      if (head.decoders.length > 0 || head.transform) this.#stream(head);
      else this.#gather(head);
    } catch (e) {
      this.#life.fail(e);
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#life.settled) this.#body?.data(chunk);
  }

  onResponseEnd(): void {
    if (!this.#life.settled) this.#body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#life.fail(err);
  }

  /** Stream-stage path: decoders, the scrubber as a stream stage and/or the caller's Transform, pumped into `res`. */
  #stream(head: ResponseHead): void {
    const stages: Transform[] = [...head.decoders];
    if (head.scrubber) stages.push(rewriterStream(head.scrubber));
    if (head.transform) stages.push(head.transform);
    const source = new Readable({ read: () => this.#life.controller?.resume() });
    this.#staged = true;
    this.#life.onFailure(() => {
      if (!source.destroyed) source.destroy();
      for (const s of stages) if (!s.destroyed) s.destroy();
    });
    this.#body = {
      data: (chunk) => {
        if (!source.push(chunk)) this.#life.controller?.pause();
      },
      end: () => source.push(null),
    };
    this.#phase = 'streaming';
    this.#res.writeHead(this.#status, head.headers);
    if (head.headers['content-length'] === undefined) this.#res.flushHeaders();
    const maxBytes = this.#x.maxResponse;
    pump(source, stages, this.#res, {
      maxBytes,
      capError: () => tooLarge(this.#x.name, maxBytes),
      onBytes: (n) => (this.#sent = n),
    }).then(
      () => {
        this.#phase = 'ended';
        this.#life.succeed();
      },
      (e: unknown) => this.#life.fail(e),
    );
  }

  /** Direct path: scrub and cap in line; gather what comes in this tick, then stream. */
  #gather(head: ResponseHead): void {
    const writer = new ResponseWriter(this.#res, head.headers, this.#status, {
      phase: (p) => (this.#phase = p),
      pause: () => this.#life.controller?.pause(),
      resume: () => {
        if (!this.#life.settled) this.#life.controller?.resume();
      },
      exactLength: head.upstreamDeclared && this.#x.method !== 'HEAD' && this.#status !== 204 && this.#status !== 304,
    });
    this.#life.onCleanup(() => writer.detach());
    const cap = new CapStage(
      this.#x.maxResponse,
      (n) => (this.#sent = n),
      () => this.#life.fail(tooLarge(this.#x.name, this.#x.maxResponse)),
      writer,
    );
    this.#body = head.scrubber
      ? new TickBatch(
          new ScrubStage(head.scrubber, (e) => this.#life.fail(e), cap),
          () => this.#phase === 'streaming',
          () => !this.#life.settled,
        )
      : cap;
    this.#phase = 'gathering';
    // End of the tick the head arrived in: a body still coming streams from here on.
    queueMicrotask(() => {
      if (this.#phase === 'gathering' && !this.#life.settled) writer.startStreaming();
    });
  }
}

type HeaderLines = ReturnType<typeof headerLines>;

/** The response head as it leaves: filtered, scrubbed headers and the stages the body needs. */
interface ResponseHead {
  headers: Record<string, string>;
  decoders: Transform[];
  scrubber: ChunkRewriter | null;
  transform: Transform | undefined;
  /** The upstream declared a length (so the client gets an exact one, recomputed after scrubbing). */
  upstreamDeclared: boolean;
  /** A declared length over the cap, when the body is not read (refused before any header is sent). */
  tooLarge?: number;
}

function responseHead(
  lines: HeaderLines,
  target: ResolvedTarget,
  credential: string | undefined,
  opts: UpstreamProxyOptions,
  maxResponse: number,
): ResponseHead {
  const name = target.spec.name;
  const transform = opts.responseTransform?.();
  const scrubber = observedRewriter(opts.responseScrubber?.() ?? null, opts.observeBody);
  // A transfer coding other than chunked is never passed on encoded (Transfer-Encoding is
  // hop-by-hop, so the client would not know it); a body that is redacted is read plain.
  const mustRead =
    transform !== undefined || scrubber !== null || hasTransferCoding(headerValues(lines, 'transfer-encoding'));
  // Redaction must see plain bytes: every declared coding is undone first, or the response is
  // refused (INVARIANT: never scrubbed while still encoded).
  const codings = mustRead
    ? responseCodingsOrThrow(headerValues(lines, 'content-encoding'), headerValues(lines, 'transfer-encoding'), name)
    : [];
  const decoders = decoderChain(codings);
  const headers = filterResponseHeaders(lines, formsFor(target, credential), {
    text: opts.scrubHeader,
    bytes: opts.responseScrubber,
  });
  if (decoders.length > 0) delete headers['content-encoding'];
  const upstreamDeclared = headers['content-length'] !== undefined;
  const head: ResponseHead = { headers, decoders, scrubber, transform, upstreamDeclared };
  if (mustRead) delete headers['content-length'];
  else if (upstreamDeclared) {
    const declared = Number(headers['content-length']);
    if (declared > maxResponse) head.tooLarge = declared;
  }
  return head;
}

/** How an exchange's lifetime settles; `delivered` says whether a finished `res` settles it (not on the stage path). */
interface LifetimeSettle {
  resolve(): void;
  reject(e: unknown): void;
  delivered(): boolean;
}

/**
 * The life of one exchange: the total timeout, the caller's abort signal and the client's `res`
 * events, and one settled outcome. On failure it aborts the upstream dispatch, cuts a response
 * already under way (the only honest mid-stream signal), and destroys what was registered.
 */
class ExchangeLifetime {
  controller: Dispatcher.DispatchController | null = null;
  /** A failure known before the dispatch started (an already aborted signal), or the first one. */
  failure: unknown = null;
  #settled = false;
  readonly #cleanups: (() => void)[] = [];
  readonly #onFailure: (() => void)[] = [];
  readonly #res: ServerResponse;
  readonly #x: ExchangeInput;
  readonly #settle: LifetimeSettle;

  constructor(res: ServerResponse, x: ExchangeInput, signal: AbortSignal | undefined, settle: LifetimeSettle) {
    this.#res = res;
    this.#x = x;
    this.#settle = settle;
    const timer = setTimeout(() => {
      this.fail(
        new GatehouseError('timeout', `target "${x.name}" did not finish within ${x.total} ms`, {
          hint: 'raise timeout_ms or ask for less data',
          details: { phase: 'total', limitMs: x.total },
        }),
      );
    }, x.total);
    timer.unref?.();
    this.#cleanups.push(() => clearTimeout(timer));
    const onAbort = () => this.fail(cancelledError());
    if (signal?.aborted) this.failure = cancelledError();
    else if (signal) {
      signal.addEventListener('abort', onAbort, { once: true });
      this.#cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
    const onClose = () => {
      if (!res.writableFinished) this.fail(cancelledError());
      else if (settle.delivered()) this.succeed();
    };
    const onError = (e: unknown) => this.fail(e);
    res.on('close', onClose);
    res.on('error', onError);
    this.#cleanups.push(() => {
      res.off('close', onClose);
      res.off('error', onError);
    });
  }

  get settled(): boolean {
    return this.#settled;
  }

  onCleanup(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  /** Registers what a failure must destroy (stream stages). */
  onFailure(fn: () => void): void {
    this.#onFailure.push(fn);
  }

  succeed(): void {
    if (this.#settled) return;
    this.#settled = true;
    for (const fn of this.#cleanups) fn();
    this.#settle.resolve();
  }

  fail(e: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    for (const fn of this.#cleanups) fn();
    this.failure ??= e;
    // Aborting calls onResponseError synchronously; `settled` makes that a no-op.
    const ctl = this.controller;
    if (ctl && !ctl.aborted) ctl.abort(e instanceof Error ? e : new Error(String(e)));
    if (this.#res.headersSent && !this.#res.destroyed) this.#res.destroy();
    const body = this.#x.body;
    if (body instanceof Readable && !body.destroyed) body.destroy();
    for (const fn of this.#onFailure) fn();
    this.#settle.reject(mapUpstreamError(e, this.#x.name));
  }
}
