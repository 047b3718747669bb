/**
 * Token buckets by key, in this process: `rate.burst` requests at once, then `rate.perSecond`.
 * The one bucket arithmetic the gate's per-token limit and webhook ingest's per-endpoint limit
 * share. Bounded: past 10,000 keys the table starts over (a flood of keys cannot grow it).
 */
export interface Rate {
  perSecond: number;
  burst: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one token for `key`: 0 when the request may pass now, else the milliseconds to wait. */
  take(key: string, rate: Rate, now = Date.now()): number {
    const b = this.#buckets.get(key) ?? { tokens: rate.burst, at: now };
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond);
    b.at = now;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 10_000) this.#buckets.clear();
    if (b.tokens < 1) return Math.ceil(((1 - b.tokens) / rate.perSecond) * 1000);
    b.tokens -= 1;
    return 0;
  }
}
