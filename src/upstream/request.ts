/**
 * Buffered exchange (the `api_request` tool): send, optionally follow same-origin redirects, read
 * the body up to a limit, and report `truncated` instead of cutting silently.
 *
 * Invariant: a redirect is followed only when its Location has the target's own origin; any other
 * Location is returned to the caller unfollowed, so the credential never travels to another origin.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatehouseError } from '../core/index.js';
import { startDeadline } from './deadline.js';
import { decoderFor } from './decode.js';
import { credentialForms, filterResponseHeaders, type HeaderInput } from './headers.js';
import { positive, UPSTREAM_LIMITS } from './limits.js';
import { mapUpstreamError } from './map-error.js';
import type { QueryInput } from './path-safety.js';
import { prepare, requestPath, withQueryCredential } from './prepare.js';
import type { ResolvedTarget } from './target-spec.js';
import { requestTooLarge } from './request-body.js';

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
  /** Body bytes kept; beyond this the body is cut and `truncated` is true. */
  maxResponseBytes?: number;
  maxRequestBytes?: number;
  signal?: AbortSignal;
  /** Follow 3xx within the target's origin only (max UPSTREAM_LIMITS.maxRedirects). Default false. */
  followRedirects?: boolean;
  /** Fills vault handles in header values, query values and a string body. */
  fill?: (text: string) => string;
  /** Scrubs response header values (after the credential's own forms are replaced). */
  scrubHeader?: (value: string) => string;
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

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function readCapped(body: Readable, max: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length > max) {
      chunks.push(buf.subarray(0, max - size));
      size = max;
      return { body: Buffer.concat(chunks, size), truncated: true };
    }
    chunks.push(buf);
    size += buf.length;
  }
  return { body: Buffer.concat(chunks, size), truncated: false };
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
  const prep = prepare(target, credential, { method: opts.method, path: opts.path, query: opts.query, headers: opts.headers, fill });

  let body: Buffer | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? Buffer.from(fill(opts.body), 'utf8') : Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength);
    if (body.length > maxRequest) {
      throw requestTooLarge(maxRequest, body.length);
    }
  }
  const forms = credentialForms(target.spec.auth, credential);
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
      });
      const location = res.headers['location'];
      if (opts.followRedirects && REDIRECTS.has(res.statusCode) && typeof location === 'string') {
        let next: URL | undefined;
        try {
          next = new URL(location, url);
        } catch {
          next = undefined;
        }
        // Only the target's own origin is followed; anything else goes back to the caller as is.
        if (next && next.origin === target.origin && (next.protocol === 'http:' || next.protocol === 'https:')) {
          await res.body.dump().catch(() => undefined);
          if (redirects >= UPSTREAM_LIMITS.maxRedirects) {
            throw new GatehouseError('redirect_blocked', `target "${name}" redirected more than ${UPSTREAM_LIMITS.maxRedirects} times`, { hint: 'call the final URL directly or set followRedirects: false' });
          }
          redirects++;
          next.hash = '';
          url = next;
          if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
            delete headers['content-type'];
          }
          continue;
        }
      }
      let stream: Readable = res.body;
      const decoder = decoderFor(typeof res.headers['content-encoding'] === 'string' ? res.headers['content-encoding'] : undefined, name);
      if (decoder) {
        res.body.on('error', (e) => decoder.destroy(e));
        stream = res.body.pipe(decoder);
      }
      let read: { body: Buffer; truncated: boolean };
      try {
        read = await readCapped(stream, maxResponse);
      } finally {
        if (!res.body.destroyed && !res.body.readableEnded) res.body.destroy();
      }
      const outHeaders = filterResponseHeaders(res.headers, forms, opts.scrubHeader);
      if (decoder) {
        delete outHeaders['content-encoding'];
        delete outHeaders['content-length'];
      }
      return { status: res.statusCode, headers: outHeaders, body: read.body, truncated: read.truncated, durationMs: performance.now() - started, redirects };
    }
  } catch (e) {
    throw mapUpstreamError(deadline.signal.aborted && !(e instanceof GatehouseError) ? deadline.signal.reason : e, name);
  } finally {
    deadline.dispose();
  }
}
