import { GatehouseError } from '../core/index.js';

/**
 * Documented defaults for every limit. Each one ends in a typed GatehouseError (or, for the
 * buffered response size, a `truncated: true` flag), never a hang or a silent cut.
 */
export const UPSTREAM_LIMITS = {
  /** Largest request body sent upstream (`request_too_large`). */
  maxRequestBytes: 10 * 1024 * 1024,
  /** Request bytes this process may be reading into memory at once, over all requests (`limit_exceeded`). */
  maxReadingBytes: 64 * 1024 * 1024,
  /** The most of that one token may hold at once, so one caller cannot starve the rest (`limit_exceeded`). */
  maxReadingBytesPerToken: 16 * 1024 * 1024,
  /** Most bytes a compressed request body is decoded to for the guard; past it the body is judged unread. */
  maxDecodedForGuard: 1024 * 1024,
  /** Longest silence while a request body is being read into memory (`timeout`): a stalled upload gives its share back. */
  requestBodyIdleMs: 30_000,
  /** Buffered mode (`api_request`): the body is cut here and `truncated: true` is set. */
  bufferedResponseBytes: 1024 * 1024,
  /** Streaming mode (`/gateway`): hard cap; the stream is aborted (`response_too_large`). */
  streamResponseBytes: 1024 * 1024 * 1024,
  /** Time to the response headers (`timeout`). */
  headersTimeoutMs: 30_000,
  /** Longest silence between body chunks (`timeout`); streams get longer for SSE keep-alive gaps. */
  bodyTimeoutMs: 30_000,
  streamBodyTimeoutMs: 300_000,
  /** Whole exchange including the body (`timeout`). */
  totalTimeoutMs: 60_000,
  streamTotalTimeoutMs: 3_600_000,
  /** TCP/TLS connect including name resolution (`timeout`). */
  connectTimeoutMs: 10_000,
  /** Same-origin redirects followed when asked. */
  maxRedirects: 5,
} as const;

/** A caller's override of a limit: the default when absent, a typed error when not a positive number. */
export function positive(n: number | undefined, fallback: number, what: string): number {
  if (n === undefined) return fallback;
  if (!Number.isFinite(n) || n <= 0)
    throw new GatehouseError('invalid_input', `${what} must be a positive number`, {
      hint: `omit it for the default (${fallback})`,
    });
  return n;
}
