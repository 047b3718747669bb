import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature } from 'node:crypto';

/**
 * Webhook verification (issue 16): proves an inbound event genuine before anything else looks at
 * it, for the providers' own schemes and a declarative custom one.
 *
 * INVARIANTS (each tested per preset in test/webhooks/verify.test.ts):
 * - The raw bytes are verified, never a re-serialisation of parsed JSON.
 * - Every candidate signature is compared in constant time (equal-length buffers through
 *   `timingSafeEqual`; a candidate of another length is refused without comparing), against every
 *   active secret (several during a rotation).
 * - Where the scheme has a timestamp it is checked after the signature, both ways (stale and from
 *   the future), against the tolerance.
 * - Every accepted event has a dedupe key: the provider's event id, else the SHA-256 of the
 *   signed content. There is no "no key, so no dedupe".
 * - A refusal names its reason (a stable code) and never echoes a secret or a signature.
 */

/** An inbound request as verification sees it: header names lower-cased, the body as received. */
export interface InboundRequest {
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  /** The full URL the sender posted to (some custom schemes sign it). */
  url: string;
}

/** The secrets an endpoint verifies with: HMAC keys or shared tokens, and Ed25519 public keys. */
export interface VerifyKeys {
  /** Active secrets as configured (a rotation keeps the old one until it retires). */
  secrets: readonly string[];
  /** Ed25519 public keys (`whpk_…` base64, or raw 32 bytes base64) for Standard Webhooks `v1a`. */
  publicKeys?: readonly string[];
}

export interface VerifyOptions {
  now: number;
  /** Seconds a timestamp may be off either way (default 300). */
  toleranceS?: number;
  /** GitHub only: accept the SHA-1 `X-Hub-Signature` when the SHA-256 one is absent. */
  allowLegacySha1?: boolean;
}

export type RejectReason =
  'missing_header' | 'malformed' | 'bad_signature' | 'stale_timestamp' | 'future_timestamp' | 'legacy_signature';

export type Verified = {
  ok: true;
  /** The provider's event or delivery id, when it sends one. */
  id?: string;
  type?: string;
  /** Unix seconds, when the scheme has a timestamp. */
  timestamp?: number;
  /** What duplicates are recognised by: `id:<provider id>` or `sha256:<signed content hash>`. */
  dedupeKey: string;
  /**
   * `sha256:` of the signed content: a second key every event is also known by, so a replay whose
   * unsigned id header was stripped or changed (GitHub, Shopify, Hookdeck, a GitLab token) is still
   * a duplicate. Where the id or timestamp is signed, it is part of this content.
   */
  contentKey: string;
  /** Slack's URL verification: the challenge to answer with (the event is not queued). */
  challenge?: string;
};
export type Refused = { ok: false; reason: RejectReason; detail: string };
export type Verification = Verified | Refused;

const refuse = (reason: RejectReason, detail: string): Refused => ({ ok: false, reason, detail });

/** Constant-time equality of two byte strings; different lengths are unequal without comparing. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

const hmac = (alg: 'sha256' | 'sha512' | 'sha1', key: Buffer | string, data: Buffer) =>
  createHmac(alg, key).update(data).digest();

/** Decodes a signature as hex or base64; undefined when it is not valid in that encoding. */
function decodeSig(text: string, encoding: 'hex' | 'base64'): Buffer | undefined {
  const t = text.trim();
  if (encoding === 'hex') return /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : undefined;
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : undefined;
}

/**
 * Whether any candidate is the HMAC of `data` under any active secret (`key` turns a secret into
 * key bytes). Every pair is compared in constant time.
 */
function macMatches(
  candidates: readonly Buffer[],
  secrets: readonly string[],
  alg: 'sha256' | 'sha512' | 'sha1',
  data: Buffer,
  key: (secret: string) => Buffer | string = (x) => x,
): boolean {
  let ok = false;
  for (const x of secrets) {
    const want = hmac(alg, key(x), data);
    for (const c of candidates) ok = sameBytes(c, want) || ok;
  }
  return ok;
}

function checkTime(ts: number, opts: VerifyOptions): Refused | undefined {
  const tol = opts.toleranceS ?? 300;
  const now = Math.floor(opts.now / 1000);
  if (!Number.isFinite(ts)) return refuse('malformed', 'the timestamp is not a number');
  if (ts < now - tol) return refuse('stale_timestamp', `the timestamp is ${now - ts} s old (tolerance ${tol} s)`);
  if (ts > now + tol) return refuse('future_timestamp', `the timestamp is ${ts - now} s ahead (tolerance ${tol} s)`);
  return undefined;
}

export const bodyHash = (signed: Buffer) => `sha256:${createHash('sha256').update(signed).digest('hex')}`;

/** A JSON body's top-level string field, when the body is JSON and has it. */
function jsonField(body: Buffer, ...path: string[]): string | undefined {
  try {
    let v: unknown = JSON.parse(body.toString('utf8'));
    for (const p of path) v = (v as Record<string, unknown> | null)?.[p];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  } catch {
    return undefined;
  }
}

/** A Standard Webhooks secret as HMAC key bytes: `whsec_` + base64 (the prefix is optional). */
function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** A Standard Webhooks Ed25519 public key (`whpk_` + base64 of the 32 raw bytes). */
function ed25519Key(pub: string) {
  const raw = Buffer.from(pub.startsWith('whpk_') ? pub.slice(5) : pub, 'base64');
  // The SPKI prefix of an Ed25519 public key, then its 32 bytes.
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/**
 * Standard Webhooks (and Svix, which is the same scheme under `svix-` headers): the signed content
 * is `{id}.{timestamp}.{body}`; the signature header holds space-separated `v1,<base64 HMAC-SHA256>`
 * and `v1a,<base64 Ed25519>` entries, any of which may match.
 */
function standardWebhooks(prefix: 'webhook' | 'svix') {
  return (req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification => {
    const id = req.headers[`${prefix}-id`];
    const ts = req.headers[`${prefix}-timestamp`];
    const sig = req.headers[`${prefix}-signature`];
    if (!id || !ts || !sig)
      return refuse('missing_header', `needs ${prefix}-id, ${prefix}-timestamp and ${prefix}-signature`);
    if (!/^\d{1,12}$/.test(ts)) return refuse('malformed', `${prefix}-timestamp is not whole seconds`);
    const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`), req.body]);
    const v1: Buffer[] = [];
    const v1a: Buffer[] = [];
    for (const part of sig.split(' ')) {
      const [version, value] = [part.slice(0, part.indexOf(',')), part.slice(part.indexOf(',') + 1)];
      const bytes = part.includes(',') ? decodeSig(value, 'base64') : undefined;
      if (bytes && version === 'v1') v1.push(bytes);
      if (bytes && version === 'v1a') v1a.push(bytes);
    }
    let ok = macMatches(v1, keys.secrets, 'sha256', signed, standardKey);
    for (const pub of keys.publicKeys ?? []) {
      for (const s of v1a) {
        try {
          ok = verifySignature(null, signed, ed25519Key(pub), s) || ok;
        } catch {
          // A malformed key or signature verifies nothing.
        }
      }
    }
    if (!ok) return refuse('bad_signature', 'no signature matches an active secret');
    const late = checkTime(Number(ts), opts);
    if (late) return late;
    return {
      ok: true,
      id,
      timestamp: Number(ts),
      dedupeKey: `id:${id}`,
      contentKey: bodyHash(signed),
      ...(jsonField(req.body, 'type') ? { type: jsonField(req.body, 'type')! } : {}),
    };
  };
}

/**
 * Stripe: `Stripe-Signature: t=<s>,v1=<hex>[,v1=…]`, HMAC-SHA256 over `{t}.{body}` keyed with the
 * whole secret as written (`whsec_…` is not decoded, unlike Standard Webhooks). `v0` entries are
 * test-mode decoys and never count. Stripe's own library only refuses old timestamps; this one
 * refuses future ones too.
 */
function stripe(req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification {
  const header = req.headers['stripe-signature'];
  if (!header) return refuse('missing_header', 'needs Stripe-Signature');
  let t: string | undefined;
  const v1: Buffer[] = [];
  for (const pair of header.split(',')) {
    const i = pair.indexOf('=');
    const [k, v] = [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
    if (k === 't') t = v;
    if (k === 'v1') {
      const b = decodeSig(v, 'hex');
      if (b) v1.push(b);
    }
  }
  if (!t || !/^\d{1,12}$/.test(t)) return refuse('malformed', 'Stripe-Signature has no t=');
  if (v1.length === 0) return refuse('malformed', 'Stripe-Signature has no v1 signature');
  const signed = Buffer.concat([Buffer.from(`${t}.`), req.body]);
  if (!macMatches(v1, keys.secrets, 'sha256', signed))
    return refuse('bad_signature', 'no v1 signature matches an active secret');
  const late = checkTime(Number(t), opts);
  if (late) return late;
  const id = jsonField(req.body, 'id');
  const type = jsonField(req.body, 'type');
  return {
    ok: true,
    timestamp: Number(t),
    dedupeKey: id ? `id:${id}` : bodyHash(signed),
    contentKey: bodyHash(signed),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
  };
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body; SHA-1 only when allowed (legacy). */
function github(req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification {
  const s256 = req.headers['x-hub-signature-256'];
  const s1 = req.headers['x-hub-signature'];
  let ok: boolean;
  if (s256) {
    if (!s256.startsWith('sha256=')) return refuse('malformed', 'X-Hub-Signature-256 does not start with sha256=');
    const sig = decodeSig(s256.slice(7), 'hex');
    ok = !!sig && macMatches([sig], keys.secrets, 'sha256', req.body);
  } else if (s1) {
    if (!opts.allowLegacySha1)
      return refuse('legacy_signature', 'only the SHA-1 X-Hub-Signature was sent and this endpoint requires SHA-256');
    if (!s1.startsWith('sha1=')) return refuse('malformed', 'X-Hub-Signature does not start with sha1=');
    const sig = decodeSig(s1.slice(5), 'hex');
    ok = !!sig && macMatches([sig], keys.secrets, 'sha1', req.body);
  } else return refuse('missing_header', 'needs X-Hub-Signature-256');
  if (!ok) return refuse('bad_signature', 'the signature does not match an active secret');
  const id = req.headers['x-github-delivery'];
  const type = req.headers['x-github-event'];
  return {
    ok: true,
    dedupeKey: id ? `id:${id}` : bodyHash(req.body),
    contentKey: bodyHash(req.body),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
  };
}

/** Slack: `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`, with `X-Slack-Request-Timestamp`; answers its URL verification. */
function slack(req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification {
  const sig = req.headers['x-slack-signature'];
  const ts = req.headers['x-slack-request-timestamp'];
  if (!sig || !ts) return refuse('missing_header', 'needs X-Slack-Signature and X-Slack-Request-Timestamp');
  if (!sig.startsWith('v0=')) return refuse('malformed', 'X-Slack-Signature does not start with v0=');
  if (!/^\d{1,12}$/.test(ts)) return refuse('malformed', 'X-Slack-Request-Timestamp is not whole seconds');
  const signed = Buffer.concat([Buffer.from(`v0:${ts}:`), req.body]);
  const got = decodeSig(sig.slice(3), 'hex');
  if (!got || !macMatches([got], keys.secrets, 'sha256', signed))
    return refuse('bad_signature', 'the signature does not match an active secret');
  const late = checkTime(Number(ts), opts);
  if (late) return late;
  const challenge = jsonField(req.body, 'type') === 'url_verification' ? jsonField(req.body, 'challenge') : undefined;
  const id = jsonField(req.body, 'event_id');
  const type = jsonField(req.body, 'event', 'type') ?? jsonField(req.body, 'type');
  return {
    ok: true,
    timestamp: Number(ts),
    dedupeKey: id ? `id:${id}` : bodyHash(signed),
    contentKey: bodyHash(signed),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
    ...(challenge !== undefined ? { challenge } : {}),
  };
}

/**
 * GitLab: a webhook signed with a signing token carries Standard Webhooks headers (verified as
 * such); otherwise the secret token in `X-Gitlab-Token`, compared in constant time. The event id
 * is the delivery's `Idempotency-Key` (or `X-Gitlab-Event-UUID`).
 */
function gitlab(req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification {
  const id = req.headers['idempotency-key'] ?? req.headers['x-gitlab-event-uuid'];
  const type = req.headers['x-gitlab-event'];
  if (req.headers['webhook-signature']) {
    const r = standardWebhooks('webhook')(req, keys, opts);
    if (!r.ok) return r;
    return { ...r, ...(type ? { type } : {}) };
  }
  const token = req.headers['x-gitlab-token'];
  if (!token) return refuse('missing_header', 'needs X-Gitlab-Token (or a webhook-signature from a signing token)');
  if (
    !keys.secrets.some((s) =>
      sameBytes(
        Buffer.from(createHash('sha256').update(token).digest()),
        Buffer.from(createHash('sha256').update(s).digest()),
      ),
    )
  )
    return refuse('bad_signature', 'the token does not match an active secret');
  return {
    ok: true,
    dedupeKey: id ? `id:${id}` : bodyHash(req.body),
    contentKey: bodyHash(req.body),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
  };
}

/** Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`, then `webhookTimestamp` (ms) in the body, checked after the signature. */
function linear(req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification {
  const sig = req.headers['linear-signature'];
  if (!sig) return refuse('missing_header', 'needs Linear-Signature');
  const got = decodeSig(sig, 'hex');
  if (!got || !macMatches([got], keys.secrets, 'sha256', req.body))
    return refuse('bad_signature', 'the signature does not match an active secret');
  const ms = jsonField(req.body, 'webhookTimestamp');
  if (ms === undefined || !/^\d{1,15}$/.test(ms)) return refuse('malformed', 'the body has no webhookTimestamp');
  const ts = Math.floor(Number(ms) / 1000);
  const late = checkTime(ts, { ...opts, toleranceS: opts.toleranceS ?? 60 });
  if (late) return late;
  const id = req.headers['linear-delivery'] ?? jsonField(req.body, 'webhookId');
  const type = req.headers['linear-event'] ?? jsonField(req.body, 'type');
  return {
    ok: true,
    timestamp: ts,
    dedupeKey: id ? `id:${id}` : bodyHash(req.body),
    contentKey: bodyHash(req.body),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
  };
}

/**
 * A body HMAC-SHA256 in base64 in one header (Shopify, Hookdeck; Hookdeck's `-2` header carries the
 * signature with the previous secret during a rotation). Neither signs a timestamp: replays are
 * caught by the dedupe key alone (Shopify's event id, Hookdeck's event id, else the body's hash).
 */
function bodyHmacBase64(header: string, idHeaders: string[], typeHeader?: string) {
  return (req: InboundRequest, keys: VerifyKeys, _opts?: VerifyOptions): Verification => {
    const sigs = [req.headers[header], req.headers[`${header}-2`]].filter((s): s is string => !!s);
    if (sigs.length === 0) return refuse('missing_header', `needs ${header}`);
    const got = sigs.map((s) => decodeSig(s, 'base64')).filter((b): b is Buffer => !!b);
    if (!macMatches(got, keys.secrets, 'sha256', req.body))
      return refuse('bad_signature', 'the signature does not match an active secret');
    const id = idHeaders.map((h) => req.headers[h]).find((v) => !!v);
    const type = typeHeader ? req.headers[typeHeader] : undefined;
    return {
      ok: true,
      dedupeKey: id ? `id:${id}` : bodyHash(req.body),
      contentKey: bodyHash(req.body),
      ...(id ? { id } : {}),
      ...(type ? { type } : {}),
    };
  };
}

/**
 * A declarative scheme for providers without a preset. The signature is read from `header`
 * (after `prefix`; with `parse: 'kv'`, from the `signatureKey` entry of `k=v` pairs separated by
 * `,`), the signed content is `template` over `{id}`, `{timestamp}`, `{body}` and `{url}`, and the
 * timestamp and id come from a header, a `k=v` entry, a top-level JSON field, or nowhere.
 */
export interface CustomScheme {
  header: string;
  prefix?: string;
  parse?: 'raw' | 'kv';
  signatureKey?: string;
  algorithm: 'sha256' | 'sha512' | 'ed25519';
  encoding: 'hex' | 'base64';
  template: string;
  timestamp?: { from: 'header' | 'kv' | 'json'; name: string; unit?: 's' | 'ms' };
  id?: { from: 'header' | 'json'; name: string };
  type?: { from: 'header' | 'json'; name: string };
  toleranceS?: number;
}

export function customScheme(c: CustomScheme) {
  return (req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions): Verification => {
    const raw = req.headers[c.header.toLowerCase()];
    if (!raw) return refuse('missing_header', `needs ${c.header}`);
    const kv = new Map(
      c.parse === 'kv'
        ? raw
            .split(',')
            .map((p) => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()] as [string, string])
        : [],
    );
    const sigText = c.parse === 'kv' ? kv.get(c.signatureKey ?? 'v1') : raw;
    if (!sigText || (c.prefix && !sigText.startsWith(c.prefix)))
      return refuse('malformed', `${c.header} is not in the configured form`);
    const sig = decodeSig(c.prefix ? sigText.slice(c.prefix.length) : sigText, c.encoding);
    if (!sig) return refuse('malformed', `${c.header} is not ${c.encoding}`);
    const pick = (f: { from: string; name: string } | undefined) =>
      !f
        ? undefined
        : f.from === 'header'
          ? req.headers[f.name.toLowerCase()]
          : f.from === 'kv'
            ? kv.get(f.name)
            : jsonField(req.body, f.name);
    const tsText = pick(c.timestamp);
    const id = pick(c.id);
    if (c.timestamp && !tsText) return refuse('missing_header', `no timestamp (${c.timestamp.name})`);
    if (c.template.includes('{id}') && !id)
      return refuse('missing_header', `no id (${c.id?.name ?? 'not configured'})`);
    // The template is filled by its parts in order; the body is spliced in as bytes.
    const parts = c.template.split(/(\{id\}|\{timestamp\}|\{body\}|\{url\})/);
    const signed = Buffer.concat(
      parts.map((p) =>
        p === '{body}'
          ? req.body
          : Buffer.from(p === '{id}' ? (id ?? '') : p === '{timestamp}' ? (tsText ?? '') : p === '{url}' ? req.url : p),
      ),
    );
    let ok = false;
    if (c.algorithm === 'ed25519') {
      for (const pub of keys.publicKeys ?? []) {
        try {
          ok = verifySignature(null, signed, ed25519Key(pub), sig) || ok;
        } catch {
          // A malformed key verifies nothing.
        }
      }
    } else ok = macMatches([sig], keys.secrets, c.algorithm as 'sha256' | 'sha512', signed);
    if (!ok) return refuse('bad_signature', 'the signature does not match an active secret');
    let timestamp: number | undefined;
    if (tsText !== undefined) {
      if (!/^\d{1,15}$/.test(tsText)) return refuse('malformed', 'the timestamp is not a whole number');
      timestamp = c.timestamp?.unit === 'ms' ? Math.floor(Number(tsText) / 1000) : Number(tsText);
      const late = checkTime(timestamp, { ...opts, toleranceS: c.toleranceS ?? opts.toleranceS });
      if (late) return late;
    }
    const type = pick(c.type);
    return {
      ok: true,
      dedupeKey: id ? `id:${id}` : bodyHash(signed),
      contentKey: bodyHash(signed),
      ...(id ? { id } : {}),
      ...(type ? { type } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
    };
  };
}

export type Verifier = (req: InboundRequest, keys: VerifyKeys, opts: VerifyOptions) => Verification;

/** The presets, by the name `webhook add --provider` takes. */
export const PRESETS = {
  'standard-webhooks': standardWebhooks('webhook'),
  svix: standardWebhooks('svix'),
  stripe,
  github,
  slack,
  gitlab,
  linear,
  shopify: bodyHmacBase64('x-shopify-hmac-sha256', ['x-shopify-event-id', 'x-shopify-webhook-id'], 'x-shopify-topic'),
  hookdeck: bodyHmacBase64('x-hookdeck-signature', ['x-hookdeck-eventid'], 'x-hookdeck-topic'),
} satisfies Record<string, Verifier>;
export type PresetName = keyof typeof PRESETS;

/**
 * The headers kept with an event, per preset: what identifies and describes a delivery, never
 * arbitrary `x-*` headers (a provider once sent each hook's secret in one).
 */
export const KEPT_HEADERS: Record<PresetName, readonly string[]> = {
  'standard-webhooks': ['webhook-id', 'webhook-timestamp', 'content-type'],
  svix: ['svix-id', 'svix-timestamp', 'content-type'],
  stripe: ['content-type'],
  github: ['x-github-delivery', 'x-github-event', 'x-github-hook-id', 'content-type'],
  slack: ['x-slack-request-timestamp', 'x-slack-retry-num', 'x-slack-retry-reason', 'content-type'],
  gitlab: ['x-gitlab-event', 'x-gitlab-event-uuid', 'idempotency-key', 'webhook-id', 'content-type'],
  linear: ['linear-delivery', 'linear-event', 'content-type'],
  shopify: [
    'x-shopify-topic',
    'x-shopify-webhook-id',
    'x-shopify-event-id',
    'x-shopify-triggered-at',
    'x-shopify-shop-domain',
    'content-type',
  ],
  hookdeck: ['x-hookdeck-eventid', 'x-hookdeck-topic', 'content-type'],
};
