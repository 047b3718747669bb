/**
 * Buffered exchange (the `api_request` tool): send, optionally follow same-origin redirects (each
 * judged as a new request), decode, scrub, and read the body up to a limit, reporting `truncated`
 * instead of cutting silently.
 *
 * Invariants:
 * - a redirect is followed only when its Location has the target's own origin and lies under its
 *   base path, and only once the caller's judge allowed it as a request of its own; any other
 *   origin is returned to the caller unfollowed, so the credential never travels elsewhere;
 * - the body is decoded with every content coding it declares (or refused), then scrubbed, then
 *   cut: what the scrubber holds back past the cut is dropped, never flushed.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatehouseError, type ChunkRewriter } from '../core/index.js';
import { decoderChain, responseCodingsOrThrow } from './content-coding.js';
import { startDeadline } from './deadline.js';
import {
  credentialForms,
  filterResponseHeaders,
  headerLines,
  headerValues,
  REDACTED,
  type HeaderInput,
  type HeaderLine,
  type RawHeaderLines,
} from './headers.js';
import { positive, UPSTREAM_LIMITS } from './limits.js';
import { mapUpstreamError } from './map-error.js';
import { observedRewriter, type BodyObserver } from './observe.js';
import type { QueryInput } from './path-safety.js';
import { prepare, requestPath, withQueryCredential } from './prepare.js';
import { judgeOrThrow, REDIRECT_STATUSES, redirectTarget, type JudgeHop } from './redirect.js';
import { requestTooLarge } from './request-body.js';
import type { ResolvedTarget } from './target-spec.js';

export interface UpstreamRequestOptions {
  method: string;
  /** Path under the target's base path; may carry a `?query`. */
  path: string;
  query?: QueryInput;
  headers?: HeaderInput;
  body?: string | Uint8Array;
  /** Whole exchange, default UPSTREAM_LIMITS.totalTimeoutMs. */
  timeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Body bytes kept (after decoding and scrubbing); beyond this the body is cut and `truncated` is true. */
  maxResponseBytes?: number;
  maxRequestBytes?: number;
  signal?: AbortSignal;
  /**
   * Follow 3xx within the target's origin and base path (max UPSTREAM_LIMITS.maxRedirects), each
   * hop judged by `judgeHop`. Default false. Without `judgeHop` no hop is followed
   * (`redirect_blocked`).
   */
  followRedirects?: boolean;
  /** Judges each hop as a new request (built by the caller, which holds the guard and the policy). */
  judgeHop?: JudgeHop;
  /** Fills vault handles in header values, query values and a string body. */
  fill?: (text: string) => string;
  /** Scrubs response header names and values as text (after the credential's own forms are replaced). */
  scrubHeader?: (value: string) => string;
  /**
   * A fresh chunk scrubber per response (the vault redactor's `createScrubber`). When given, the
   * body is scrubbed as it is read, before the size cut, and header bytes are scrubbed with it too.
   */
  responseScrubber?: () => ChunkRewriter;
  /**
   * Shown the final response's body chunk by chunk, decoded and scrubbed, as it is read (the model
   * usage tap); never header bytes, never a redirect's body. A body cut at the limit is shown only
   * up to where reading stopped.
   */
  observeBody?: BodyObserver;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
  durationMs: number;
  /** Same-origin redirects followed to get here. */
  redirects: number;
}

/** Raw bytes read past the kept limit while a scrubber still holds some back; past it the body counts as cut. */
const SCRUB_READ_SLACK = 1024 * 1024;

/**
 * Reads up to `max` bytes of (scrubbed) body. INVARIANT: scrub first, then cut; the scrubber's
 * held-back tail past the cut is dropped, never flushed into the kept bytes.
 */
async function readCapped(
  body: Readable,
  max: number,
  scrubber: ChunkRewriter | null,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let raw = 0;
  const full = (buf: Buffer): boolean => {
    if (size + buf.length > max) {
      chunks.push(buf.subarray(0, max - size));
      size = max;
      return true;
    }
    if (buf.length > 0) chunks.push(buf);
    size += buf.length;
    return false;
  };
  const cut = () => ({ body: Buffer.concat(chunks, size), truncated: true });
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    raw += buf.length;
    if (full(scrubber ? scrubber.push(buf) : buf)) return cut();
    if (scrubber && raw > max + SCRUB_READ_SLACK) return cut();
  }
  if (scrubber && full(scrubber.end())) return cut();
  return { body: Buffer.concat(chunks, size), truncated: false };
}

/** Scrubs text that came from the upstream before it goes into an error. */
function shownWith(forms: readonly string[], scrub: ((v: string) => string) | undefined): (text: string) => string {
  return (text) => {
    let t = text;
    for (const f of forms) if (t.includes(f)) t = t.split(f).join(REDACTED);
    return scrub ? scrub(t) : t;
  };
}

export async function bufferedRequest(
  dispatcher: Dispatcher,
  target: ResolvedTarget,
  credential: string | undefined,
  opts: UpstreamRequestOptions,
): Promise<UpstreamResponse> {
  const started = performance.now();
  const name = target.spec.name;
  const maxResponse = positive(opts.maxResponseBytes, UPSTREAM_LIMITS.bufferedResponseBytes, 'maxResponseBytes');
  const maxRequest = positive(opts.maxRequestBytes, UPSTREAM_LIMITS.maxRequestBytes, 'maxRequestBytes');
  const total = positive(opts.timeoutMs, UPSTREAM_LIMITS.totalTimeoutMs, 'timeoutMs');
  const fill = opts.fill ?? ((s: string) => s);
  const prep = prepare(target, credential, {
    method: opts.method,
    path: opts.path,
    query: opts.query,
    headers: opts.headers,
    fill,
  });

  let body: Buffer | undefined;
  if (opts.body !== undefined) {
    body =
      typeof opts.body === 'string'
        ? Buffer.from(fill(opts.body), 'utf8')
        : Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength);
    if (body.length > maxRequest) {
      throw requestTooLarge(maxRequest, body.length);
    }
  }
  const forms = credentialForms(target.spec.auth, credential);
  const show = shownWith(forms, opts.scrubHeader);
  const deadline = startDeadline(name, total, opts.signal);
  let method = prep.method;
  let url = prep.url;
  const headers = { ...prep.headers };
  let redirects = 0;
  try {
    for (;;) {
      const sendUrl = withQueryCredential(target, url, credential);
      const res = await dispatcher.request({
        origin: target.origin,
        path: requestPath(sendUrl),
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: deadline.signal,
        headersTimeout: opts.headersTimeoutMs ?? UPSTREAM_LIMITS.headersTimeoutMs,
        bodyTimeout: opts.bodyTimeoutMs ?? UPSTREAM_LIMITS.bodyTimeoutMs,
        // Raw lines: names as sent (a secret in a name is matched in its own case), every
        // repeated header kept.
        responseHeaders: 'raw',
      });
      const lines: HeaderLine[] = headerLines(res.headers as unknown as RawHeaderLines);
      if (opts.followRedirects && REDIRECT_STATUSES.has(res.statusCode)) {
        let where: ReturnType<typeof redirectTarget>;
        try {
          where = redirectTarget(target, url, res.statusCode, method, headerValues(lines, 'location'), show);
        } catch (e) {
          res.body.on('error', ignore);
          res.body.destroy();
          throw e;
        }
        if (where.follow) {
          await res.body.dump().catch(() => undefined);
          if (redirects >= UPSTREAM_LIMITS.maxRedirects) {
            throw new GatehouseError(
              'redirect_blocked',
              `target "${name}" redirected more than ${UPSTREAM_LIMITS.maxRedirects} times`,
              { hint: 'call the final URL directly or set followRedirects: false' },
            );
          }
          // INVARIANT: a hop is judged as the request it is, before anything is sent.
          await judgeOrThrow(opts.judgeHop, where.hop, name, show);
          redirects++;
          url = where.url;
          method = where.hop.method;
          if (!where.hop.resendsBody) {
            body = undefined;
            delete headers['content-type'];
          }
          continue;
        }
      }
      return await readResponse(res.statusCode, res.body, lines, {
        name,
        forms,
        maxResponse,
        opts,
        started,
        redirects,
      });
    }
  } catch (e) {
    throw mapUpstreamError(
      deadline.signal.aborted && !(e instanceof GatehouseError) ? deadline.signal.reason : e,
      name,
    );
  } finally {
    deadline.dispose();
  }
}

const ignore = () => undefined;

interface ReadContext {
  name: string;
  forms: readonly string[];
  maxResponse: number;
  opts: UpstreamRequestOptions;
  started: number;
  redirects: number;
}

/** Decodes every declared coding (or refuses the response), scrubs, cuts, and filters the headers. */
async function readResponse(
  status: number,
  resBody: Readable,
  lines: HeaderLine[],
  c: ReadContext,
): Promise<UpstreamResponse> {
  let stream: Readable = resBody;
  const stages: Readable[] = [];
  try {
    const codings = responseCodingsOrThrow(
      headerValues(lines, 'content-encoding'),
      headerValues(lines, 'transfer-encoding'),
      c.name,
    );
    for (const d of decoderChain(codings)) {
      stream.on('error', (e) => d.destroy(e));
      stream = stream.pipe(d);
      stages.push(d);
    }
    const decoded = stages.length > 0;
    const read = await readCapped(
      stream,
      c.maxResponse,
      observedRewriter(c.opts.responseScrubber?.() ?? null, c.opts.observeBody),
    );
    const headers = filterResponseHeaders(lines, c.forms, { text: c.opts.scrubHeader, bytes: c.opts.responseScrubber });
    if (decoded) {
      delete headers['content-encoding'];
      delete headers['content-length'];
    }
    return {
      status,
      headers,
      body: read.body,
      truncated: read.truncated,
      durationMs: performance.now() - c.started,
      redirects: c.redirects,
    };
  } finally {
    // Destroying an unread body emits an abort error: nobody else listens by now.
    for (const s of [resBody, ...stages]) {
      if (s.destroyed || s.readableEnded) continue;
      s.on('error', ignore);
      s.destroy();
    }
  }
}
