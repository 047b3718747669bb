import { GatehouseError, TokenBuckets } from '../core/index.js';

export interface RateLimitOptions {
  /** Sustained calls per second per token. */
  perSecond: number;
  /** Calls a token may make at once before the sustained rate applies. */
  burst: number;
}

/**
 * A token bucket per token, in this process. It bounds how fast one agent can drive actions
 * (the MCP spec asks servers to rate-limit tool invocations); a refusal is a typed
 * `limit_exceeded` error that says when to retry, never a silent drop.
 */
export class RateLimiter {
  readonly #opts: RateLimitOptions;
  readonly #buckets = new TokenBuckets();

  constructor(opts: RateLimitOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1))
      throw new GatehouseError('config_invalid', 'rate limit needs per_second > 0 and burst >= 1');
    this.#opts = opts;
  }

  take(key: string, now = Date.now()): void {
    const waitMs = this.#buckets.take(key, this.#opts, now);
    if (waitMs > 0) {
      const { perSecond, burst } = this.#opts;
      throw new GatehouseError(
        'limit_exceeded',
        `rate limit: more than ${perSecond} calls per second (burst ${burst}) for this token`,
        {
          hint: `slow down and retry in ${waitMs} ms`,
          details: { retryAfterMs: waitMs },
        },
      );
    }
  }
}
