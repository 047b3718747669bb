/**
 * A bounded least-recently-used map: the one cache shape the process keeps for values that are a
 * pure function of their key (guard findings per command, strength verdicts per secret, media
 * types per Content-Type). Map iteration order is insertion order, so the first key is the oldest;
 * once the map is full, a hit moves its key to the end.
 */
export class BoundedLru<K, V> {
  readonly #map = new Map<K, V>();

  constructor(private readonly max: number) {}

  /**
   * A hit moves its key to the newest end only once the map is full: before that nothing is
   * evicted, so the order does not matter yet, and a hit is one lookup instead of a lookup, a
   * delete and an insert (these caches are read several times per proxied request).
   */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined && this.#map.size >= this.max) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#map.size;
  }
}
