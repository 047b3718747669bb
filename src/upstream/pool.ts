/**
 * One undici Pool per target, created on first use, kept alive between calls, replaced when the
 * target's origin or private-network setting changes, closed on close().
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { GatehouseError } from '../core/index.js';
import { UPSTREAM_LIMITS } from './limits.js';
import { streamingProxy, type UpstreamProxyOptions, type UpstreamProxyResult } from './proxy.js';
import { bufferedRequest, type UpstreamRequestOptions, type UpstreamResponse } from './request.js';
import { buildSafeConnector, type LookupFunction } from './safe-connector.js';
import { validateTargetSpec, type HttpTargetSpec, type ResolvedTarget } from './target-spec.js';

export interface UpstreamPoolOptions {
  /** dns.lookup-shaped resolver; tests map names to addresses with it. Default: dns.lookup. */
  lookup?: LookupFunction;
  /** Sockets per target (default 128). */
  connections?: number;
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
}

interface Entry {
  pool: Pool;
  fingerprint: string;
}

export class UpstreamPool {
  readonly #opts: UpstreamPoolOptions;
  readonly #pools = new Map<string, Entry>();

  /** Connection pools held now, one per upstream origin (for metrics). */
  get size(): number {
    return this.#pools.size;
  }
  // Validated specs by content, so the hot path does not re-parse the base URL on every call.
  readonly #validated = new Map<string, ResolvedTarget>();
  #closed = false;

  constructor(opts: UpstreamPoolOptions = {}) {
    this.#opts = opts;
  }

  /** Buffered request (api_request). */
  async request(
    spec: HttpTargetSpec,
    credential: string | undefined,
    opts: UpstreamRequestOptions,
  ): Promise<UpstreamResponse> {
    const target = this.#validate(spec);
    return bufferedRequest(this.#poolFor(target), target, credential, opts);
  }

  /** Streaming proxy (/gateway/:target/*). */
  async proxy(
    spec: HttpTargetSpec,
    credential: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    opts: UpstreamProxyOptions,
  ): Promise<UpstreamProxyResult> {
    const target = this.#validate(spec);
    return streamingProxy(this.#poolFor(target), target, credential, req, res, opts);
  }

  /** Drops the pool of a changed or removed target; in-flight requests on it finish. */
  async invalidate(name: string): Promise<void> {
    for (const [k, t] of this.#validated) if (t.spec.name === name) this.#validated.delete(k);
    const entry = this.#pools.get(name);
    if (!entry) return;
    this.#pools.delete(name);
    await entry.pool.close().catch(() => undefined);
  }

  /** Names of targets that currently hold a pool. */
  get targets(): string[] {
    return [...this.#pools.keys()];
  }

  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(entries.map((e) => e.pool.close().catch(() => e.pool.destroy())));
  }

  #validate(spec: HttpTargetSpec): ResolvedTarget {
    const key =
      spec && typeof spec === 'object' ? JSON.stringify([spec.name, spec.baseUrl, spec.auth, spec.allowPrivate]) : '';
    const hit = this.#validated.get(key);
    if (hit) return hit;
    const target = validateTargetSpec(spec);
    // Store a frozen copy: later mutation of the caller's object cannot change a cached target.
    const frozen: ResolvedTarget = Object.freeze({
      ...target,
      spec: Object.freeze({ ...target.spec, auth: Object.freeze({ ...target.spec.auth }) }),
    });
    if (this.#validated.size >= 1000) this.#validated.clear();
    this.#validated.set(key, frozen);
    return frozen;
  }

  #poolFor(target: ResolvedTarget): Pool {
    if (this.#closed)
      throw new GatehouseError('internal', 'the upstream pool is closed', { hint: 'the server is shutting down' });
    const fingerprint = `${target.origin}|${target.spec.allowPrivate}`;
    const name = target.spec.name;
    const existing = this.#pools.get(name);
    if (existing && existing.fingerprint === fingerprint) return existing.pool;
    if (existing) void existing.pool.close().catch(() => undefined);
    const connectTimeoutMs = this.#opts.connectTimeoutMs ?? UPSTREAM_LIMITS.connectTimeoutMs;
    const pool = new Pool(target.origin, {
      connections: this.#opts.connections ?? 128,
      pipelining: 1,
      keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 10_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: UPSTREAM_LIMITS.headersTimeoutMs,
      bodyTimeout: UPSTREAM_LIMITS.bodyTimeoutMs,
      connect: buildSafeConnector({
        targetName: name,
        allowPrivate: target.spec.allowPrivate,
        lookup: this.#opts.lookup,
        connectTimeoutMs,
      }),
    });
    this.#pools.set(name, { pool, fingerprint });
    return pool;
  }
}
