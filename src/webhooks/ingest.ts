import { log, TokenBuckets } from '../core/index.js';
import { activeSecrets, addressAllowed, type Endpoint } from './endpoint.js';
import type { EndpointRepository } from './endpoints.js';
import type { WebhookQueue } from './queue.js';
import { bodyHash, customScheme, KEPT_HEADERS, PRESETS, type PresetName, type Verification } from './verify.js';

/**
 * Ingest of one inbound webhook request (issue 16), apart from HTTP: the route looks the endpoint
 * up by its URL key, reads at most its body cap, and hands the raw bytes here.
 *
 * Order (each step only for what passed the one before):
 *   rate limit → source allowlist → verification of the raw bytes → event type filter → dedupe and
 *   queue → audit → answer.
 *
 * INVARIANTS (test/webhooks/ingest.test.ts):
 * - Nothing unverified is queued, and a refusal names its reason (a stable code) and is audited.
 * - Only the preset's allowlisted headers are kept; every other header (where a provider might
 *   put a secret) is dropped before anything is stored.
 * - Every accepted event is known by at least two keys (the provider's id and the signed
 *   content's hash); a duplicate is answered 2xx and counted, never queued again.
 * - The endpoint's secrets are opened only here (internal use, never returned), registered with the
 *   redactors, and kept for at most a second.
 */

export interface InboundWebhook {
  /** Header names lower-cased (Node's `req.headers`). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
  /** The full URL the sender posted to (custom schemes may sign it). */
  url: string;
  /** The sender's address. */
  remote: string;
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'ignored' | 'challenge' | 'rejected' | 'rate_limited';

export interface IngestAnswer {
  status: number;
  /** JSON text, or the challenge as plain text. */
  body: string;
  contentType: string;
  outcome: IngestOutcome;
  reason?: string;
  eventId?: string;
  retryAfterS?: number;
}

/** What ingest needs from its process. */
export interface IngestDeps {
  endpoints: Pick<EndpointRepository, 'byUrlKey'>;
  queue: Pick<WebhookQueue, 'enqueue' | 'discard'>;
  /** Opens a secret reference (`vault:V/I.F`) for verification; the value is registered for scrubbing. */
  openSecret(ref: string): Promise<string>;
  /** Appends one audit record (durable before it resolves). */
  audit(entry: {
    tool: string;
    target: string;
    outcome: string;
    status: number;
    client: string;
    detail: Record<string, unknown>;
  }): Promise<unknown>;
  now?: () => number;
}

/** Rate-limited requests are audited at most once per endpoint per window, with how many there were. */
const RATE_AUDIT_WINDOW_MS = 10_000;

const json = (
  status: number,
  outcome: IngestOutcome,
  body: Record<string, unknown>,
  extra: Partial<IngestAnswer> = {},
): IngestAnswer => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
  outcome,
  ...extra,
});

/** The headers kept with an event from this endpoint: its preset's allowlist, never anything else. */
export function keptHeaderNames(ep: Endpoint): readonly string[] {
  const c = ep.config;
  if (c.provider === 'custom') {
    const named = [c.custom?.id, c.custom?.timestamp, c.custom?.type]
      .filter((f) => f?.from === 'header')
      .map((f) => f!.name.toLowerCase());
    return [...new Set([...named, 'content-type'])];
  }
  if (c.provider === 'unsigned') return ['content-type'];
  return KEPT_HEADERS[c.provider];
}

function flatHeaders(h: InboundWebhook['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class WebhookIngest {
  readonly #deps: IngestDeps;
  readonly #buckets = new TokenBuckets();
  readonly #secrets = new Map<string, { value: string; at: number }>();
  readonly #rateAudit = new Map<string, { at: number; suppressed: number }>();
  readonly #warnedUnsigned = new Set<string>();

  constructor(deps: IngestDeps) {
    this.#deps = deps;
  }

  /** The endpoint a URL key names (verified row), or null. */
  endpoint(key: string): Promise<Endpoint | null> {
    return this.#deps.endpoints.byUrlKey(key);
  }

  /** Verifies, dedupes and queues one request to `ep`; always answers, never throws for the sender's input. */
  async receive(ep: Endpoint, req: InboundWebhook): Promise<IngestAnswer> {
    const now = this.#deps.now?.() ?? Date.now();
    const c = ep.config;
    const record = (a: IngestAnswer, detail: Record<string, unknown>) =>
      this.#deps.audit({
        tool: 'webhook_ingest',
        target: ep.name,
        outcome: a.reason ? `${a.outcome}:${a.reason}` : a.outcome,
        status: a.status,
        client: req.remote,
        detail: { bytes: req.body.length, ...detail, ...this.#unrecorded(ep.name, a.outcome) },
      });
    const refuse = async (status: number, reason: string, detail: string): Promise<IngestAnswer> => {
      const a = json(status, 'rejected', { error: reason, message: detail }, { reason });
      await record(a, { reason, detail });
      return a;
    };
    try {
      // The rate limit comes first: every refusal after it is an audit record, so a flood from
      // anywhere costs at most the endpoint's rate in records.
      const wait = this.#buckets.take(ep.name, c.rate, now);
      if (wait > 0) return await this.#rateLimited(ep, req, wait, now, record);
      if (c.allowFrom.length > 0 && !addressAllowed(c.allowFrom, req.remote))
        return await refuse(
          403,
          'source_not_allowed',
          'this endpoint takes events only from the addresses its operator named',
        );
      const headers = flatHeaders(req.headers);
      const v = await this.#verify(ep, { headers, body: req.body, url: req.url }, now, req.remote);
      if (!v.ok)
        return await refuse(v.reason === 'malformed' || v.reason === 'missing_header' ? 400 : 401, v.reason, v.detail);
      if (v.challenge !== undefined) {
        const a: IngestAnswer = {
          status: 200,
          body: v.challenge,
          contentType: 'text/plain; charset=utf-8',
          outcome: 'challenge',
        };
        await record(a, { type: v.type ?? null });
        return a;
      }
      const kept: Record<string, string> = {};
      for (const name of keptHeaderNames(ep)) {
        const value = headers[name];
        if (value !== undefined) kept[name] = value;
      }
      const ignored = c.events.length > 0 && !(v.type !== undefined && c.events.includes(v.type));
      const q = await this.#deps.queue.enqueue(
        {
          endpoint: ep.name,
          provider: c.provider,
          ...(v.id !== undefined ? { eventId: v.id } : {}),
          ...(v.type !== undefined ? { type: v.type } : {}),
          verified: v.scheme ?? c.provider,
          headers: kept,
          body: req.body,
          keys: [...new Set([v.dedupeKey, v.contentKey])],
          maxAttempts: c.maxAttempts,
          retentionS: c.retentionS,
          dedupeS: c.dedupeS,
          sealBody: c.sealBody,
          ignored,
        },
        now,
      );
      const detail = {
        event: q.id,
        providerEventId: v.id ?? null,
        type: v.type ?? null,
        verified: v.scheme ?? c.provider,
      };
      const a = q.duplicate
        ? json(200, 'duplicate', { ok: true, duplicate: true })
        : ignored
          ? json(200, 'ignored', { ok: true, ignored: true })
          : json(202, 'accepted', { ok: true, id: q.id });
      try {
        await record(a, q.duplicate ? { ...detail, firstEvent: q.id } : { ...detail, seq: q.seq });
      } catch (e) {
        // INVARIANT: no audit record, no event. The queued event (and its dedupe keys) is taken back,
        // so nobody leases it and the sender's retry is a new delivery, recorded then.
        if (!q.duplicate) await this.#deps.queue.discard(q.id);
        throw e;
      }
      return { ...a, eventId: q.id };
    } catch (e) {
      // The store or the audit log failed: the sender retries later.
      log.error('a webhook could not be taken in', { err: e, endpoint: ep.name });
      // Recorded when the audit log takes it (a secret that cannot be opened, a store hiccup).
      await this.#deps
        .audit({
          tool: 'webhook_ingest',
          target: ep.name,
          outcome: 'rejected:unavailable',
          status: 503,
          client: req.remote,
          detail: { bytes: req.body.length, error: (e as { code?: string }).code ?? 'internal' },
        })
        .catch(() => undefined);
      return json(
        503,
        'rejected',
        { error: 'unavailable', message: 'try again later' },
        { reason: 'unavailable', retryAfterS: 30 },
      );
    }
  }

  /**
   * Refuses a body over the endpoint's cap (found from its Content-Length, or while reading):
   * nothing of it is verified or kept. Rate-limited and audited like any refusal.
   */
  async refuseTooLarge(ep: Endpoint, remote: string, bytes: number): Promise<IngestAnswer> {
    const now = this.#deps.now?.() ?? Date.now();
    const a = json(
      413,
      'rejected',
      { error: 'too_large', message: `the body is over this endpoint's ${ep.config.maxBodyBytes}-byte limit` },
      { reason: 'too_large' },
    );
    const record = (x: IngestAnswer, detail: Record<string, unknown>) =>
      this.#deps.audit({
        tool: 'webhook_ingest',
        target: ep.name,
        outcome: `${x.outcome}:${x.reason}`,
        status: x.status,
        client: remote,
        detail,
      });
    const wait = this.#buckets.take(ep.name, ep.config.rate, now);
    if (wait > 0) return this.#rateLimited(ep, { remote } as InboundWebhook, wait, now, record);
    try {
      await record(a, { reason: 'too_large', bytes, limit: ep.config.maxBodyBytes });
    } catch (e) {
      log.error('a refused webhook could not be audited', { err: e, endpoint: ep.name });
    }
    return a;
  }

  /**
   * The rate-limited requests not yet in any record, carried by the endpoint's next record of
   * another kind, so the end of a flood is accounted for too.
   */
  #unrecorded(endpoint: string, outcome: IngestOutcome): { rateLimitedUnrecorded?: number } {
    const r = this.#rateAudit.get(endpoint);
    if (outcome === 'rate_limited' || !r || r.suppressed === 0) return {};
    const n = r.suppressed;
    r.suppressed = 0;
    return { rateLimitedUnrecorded: n };
  }

  async #rateLimited(
    ep: Endpoint,
    req: InboundWebhook,
    waitMs: number,
    now: number,
    record: (a: IngestAnswer, d: Record<string, unknown>) => Promise<unknown>,
  ): Promise<IngestAnswer> {
    // Retry-After is whole seconds.
    const wait = Math.max(1, Math.ceil(waitMs / 1000));
    const a = json(
      429,
      'rate_limited',
      { error: 'rate_limited', message: `retry in ${wait} s` },
      { reason: 'rate_limited', retryAfterS: wait },
    );
    // A flood is one record per window (with its count), not one per request: the audit log is not
    // an amplifier for whoever has the URL.
    const r = this.#rateAudit.get(ep.name);
    if (r && now - r.at < RATE_AUDIT_WINDOW_MS) {
      r.suppressed++;
      return a;
    }
    this.#rateAudit.set(ep.name, { at: now, suppressed: 0 });
    await record(a, { suppressedSinceLast: r?.suppressed ?? 0, remote: req.remote });
    return a;
  }

  async #verify(
    ep: Endpoint,
    req: { headers: Record<string, string | undefined>; body: Buffer; url: string },
    now: number,
    remote: string,
  ): Promise<Verification & { scheme?: string }> {
    const c = ep.config;
    if (c.provider === 'unsigned') {
      if (!this.#warnedUnsigned.has(ep.name)) {
        this.#warnedUnsigned.add(ep.name);
        log.warn('webhook endpoint is UNSIGNED: its events are not verified, only their source address is checked', {
          endpoint: ep.name,
          allowFrom: c.allowFrom,
        });
      }
      // The allowlist was checked above; the body's hash is its dedupe key (there is always one).
      const key = bodyHash(req.body);
      return Object.assign(
        { ok: true as const, dedupeKey: key, contentKey: key },
        { scheme: `unsigned from ${remote}` },
      );
    }
    const secrets = await Promise.all(activeSecrets(c, now).map((s) => this.#secret(s.ref, now)));
    const keys = { secrets, publicKeys: c.publicKeys };
    const opts = { now, toleranceS: c.toleranceS, allowLegacySha1: c.legacySha1 };
    const v =
      c.provider === 'custom'
        ? customScheme(c.custom!)(req, keys, opts)
        : PRESETS[c.provider as PresetName](req, keys, opts);
    if (!v.ok) return v;
    const legacy = c.provider === 'github' && !req.headers['x-hub-signature-256'];
    return Object.assign(v, {
      scheme:
        c.provider === 'custom' ? `custom ${c.custom!.algorithm}` : `${c.provider}${legacy ? ' (legacy sha1)' : ''}`,
    });
  }

  async #secret(ref: string, now: number): Promise<string> {
    const hit = this.#secrets.get(ref);
    if (hit && now - hit.at < 1000) return hit.value;
    const value = await this.#deps.openSecret(ref);
    if (this.#secrets.size > 1000) this.#secrets.clear();
    this.#secrets.set(ref, { value, at: now });
    return value;
  }
}
