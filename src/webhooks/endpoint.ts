import { BlockList, isIP } from 'node:net';
import { GatehouseError } from '../core/index.js';
import { parseFieldRef } from '../vault/index.js';
import { PRESETS, type CustomScheme, type PresetName } from './verify.js';

/**
 * An inbound webhook endpoint's configuration (issue 16): how its events are proven genuine, how
 * long they are kept, and what agents are told about them. Only operators write it (the CLI, later
 * the console); agents can never change an endpoint.
 */

/** `unsigned` is an explicit choice with a source-address allowlist; `custom` is a declared scheme. */
export type ProviderName = PresetName | 'custom' | 'unsigned';

export const PROVIDERS: readonly ProviderName[] = [...(Object.keys(PRESETS) as PresetName[]), 'custom', 'unsigned'];

/** A verification secret: a vault reference (never a value), active until `retireAt`. */
export interface EndpointSecret {
  ref: string;
  addedAt: string;
  /** ISO time after which this secret no longer verifies (set by a rotation). */
  retireAt?: string;
}

/** Operators' handling instructions: versioned, returned to agents in their own field. */
export interface Instructions {
  version: number;
  text: string;
  updatedAt: string;
}

export interface EndpointConfig {
  provider: ProviderName;
  description: string;
  secrets: EndpointSecret[];
  /** Ed25519 public keys for Standard Webhooks `v1a` (and custom ed25519): not secret. */
  publicKeys: string[];
  custom?: CustomScheme;
  /** Source addresses or CIDR blocks allowed to post (required for `unsigned`, optional otherwise). */
  allowFrom: string[];
  /** Only these event types are queued (others are answered 2xx, counted and audited as ignored). */
  events: string[];
  retentionS: number;
  /** How long a delivered event's keys are remembered: outlives the tolerance and providers' retries. */
  dedupeS: number;
  toleranceS: number;
  maxAttempts: number;
  maxBodyBytes: number;
  /** Keep bodies sealed at rest (XChaCha20-Poly1305 under an internal key), like vault values. */
  sealBody: boolean;
  /** GitHub only: accept the SHA-1 `X-Hub-Signature` when the SHA-256 one is absent. */
  legacySha1: boolean;
  rate: { perSecond: number; burst: number };
  /** JSON paths (`a.b`, `items.0.id`) an agent is given instead of the whole body. */
  projection: string[];
  instructions?: Instructions;
}

export interface Endpoint {
  name: string;
  config: EndpointConfig;
  createdAt: string;
  updatedAt: string;
}

export const DEFAULTS = {
  retentionS: 7 * 86_400,
  /** Stripe retries for 3 days, Svix about 28 hours, Shopify 48 hours: a week covers them all. */
  dedupeS: 7 * 86_400,
  /** The shortest dedupe window accepted: longer than any provider's retry horizon. */
  minDedupeS: 3 * 86_400,
  toleranceS: 300,
  maxAttempts: 8,
  maxBodyBytes: 1024 * 1024,
  rate: { perSecond: 50, burst: 200 },
} as const;

/** Largest body cap an operator may set: bodies are read whole before they are verified. */
export const MAX_BODY_CAP = 16 * 1024 * 1024;

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const EVENT_TYPE = /^[\x21-\x7e]{1,200}$/;
const PATH = /^[A-Za-z0-9_$-]{1,100}(?:\.[A-Za-z0-9_$-]{1,100}){0,15}$/;

function invalid(message: string, hint: string): GatehouseError {
  return new GatehouseError('invalid_input', message, { hint });
}

export function checkEndpointName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw invalid(
      `invalid webhook endpoint name ${JSON.stringify(name)}`,
      'use 1-63 lowercase letters, digits, - and _, starting with a letter or digit (e.g. github-main)',
    );
  return name;
}

/** A `vault:V/I.F` reference, normalised; a value is refused (secrets live in the vault only). */
export function checkSecretRef(ref: string): string {
  if (typeof ref !== 'string' || !ref.startsWith('vault:'))
    throw invalid(
      '--secret must be a vault reference, not a value',
      'store it with `gatehouse vault set VAULT/ITEM.FIELD`, then pass --secret vault:VAULT/ITEM.FIELD (or use --generate-secret)',
    );
  const r = parseFieldRef(ref.slice(6));
  return `vault:${r.vault}/${r.item}.${r.field}`;
}

/** Whether an address is in an allowlist of addresses and CIDR blocks (IPv4-mapped IPv6 counts as IPv4). */
export function addressAllowed(allow: readonly string[], address: string): boolean {
  const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const kind = isIP(a);
  if (kind === 0) return false;
  const list = new BlockList();
  for (const entry of allow) {
    const [net, bits] = entry.split('/');
    const type = isIP(net!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, Number(bits), type);
  }
  return list.check(a, kind === 6 ? 'ipv6' : 'ipv4');
}

function checkCidr(entry: string): string {
  const [net, bits, extra] = entry.trim().split('/');
  const kind = isIP(net ?? '');
  const max = kind === 6 ? 128 : 32;
  if (kind === 0 || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max)))
    throw invalid(
      `${JSON.stringify(entry)} is not an address or CIDR block`,
      'e.g. --allow-from 192.0.2.10,198.51.100.0/24',
    );
  return entry.trim();
}

function intIn(v: number, lo: number, hi: number, what: string, hint: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw invalid(`${what} must be a whole number from ${lo} to ${hi}`, hint);
  return v;
}

function checkCustom(c: CustomScheme): CustomScheme {
  const hint = 'see the README: a custom scheme names a header, an algorithm, an encoding and a template';
  if (!c || typeof c !== 'object') throw invalid('the custom scheme is missing', hint);
  if (typeof c.header !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(c.header))
    throw invalid('custom.header is not a header name', hint);
  if (!['sha256', 'sha512', 'ed25519'].includes(c.algorithm))
    throw invalid('custom.algorithm must be sha256, sha512 or ed25519', hint);
  if (!['hex', 'base64'].includes(c.encoding)) throw invalid('custom.encoding must be hex or base64', hint);
  if (typeof c.template !== 'string' || !c.template.includes('{body}') || c.template.length > 200)
    throw invalid('custom.template must include {body} (the raw bytes) and be at most 200 characters', hint);
  if (c.parse !== undefined && c.parse !== 'raw' && c.parse !== 'kv')
    throw invalid('custom.parse must be raw or kv', hint);
  if (c.template.includes('{timestamp}') && !c.timestamp)
    throw invalid('custom.template signs {timestamp} but custom.timestamp says not where it comes from', hint);
  // INVARIANT: a timestamp the sender does not sign protects nothing (a replay carries a fresh
  // one). From a header or a key=value entry it must be in the template; from the body it is
  // signed with the body.
  if (c.timestamp && c.timestamp.from !== 'json' && !c.template.includes('{timestamp}'))
    throw invalid(
      'custom.timestamp comes from a header or an entry the template does not sign: put {timestamp} in custom.template',
      hint,
    );
  if (c.template.includes('{id}') && !c.id)
    throw invalid('custom.template signs {id} but custom.id says not where it comes from', hint);
  for (const f of [c.timestamp, c.id, c.type])
    if (f && (!['header', 'kv', 'json'].includes(f.from) || typeof f.name !== 'string' || !f.name))
      throw invalid('custom.timestamp, .id and .type take {from: header | kv | json, name}', hint);
  if (c.toleranceS !== undefined) intIn(c.toleranceS, 1, 86_400, 'custom.toleranceS', hint);
  return c;
}

/**
 * Validates a whole configuration (after defaults and patches are applied): every field is
 * checked, so a stored configuration is always one the ingest path can act on.
 */
export function validateConfig(c: EndpointConfig): EndpointConfig {
  if (!PROVIDERS.includes(c.provider))
    throw invalid(`unknown provider ${JSON.stringify(c.provider)}`, `use one of: ${PROVIDERS.join(', ')}`);
  if (
    typeof c.description !== 'string' ||
    c.description.length > 2000 ||
    /[\x00-\x08\x0b-\x1f\x7f]/.test(c.description)
  )
    throw invalid('the description must be text of at most 2000 characters', 'shorten --description');
  const secrets = c.secrets.map((s) => ({ ...s, ref: checkSecretRef(s.ref) }));
  const allowFrom = c.allowFrom.map(checkCidr);
  if (c.provider === 'unsigned') {
    // INVARIANT: an unsigned endpoint takes events only from the addresses an operator named.
    if (allowFrom.length === 0)
      throw invalid(
        'an unsigned endpoint needs --allow-from: anyone who learns its URL could post to it otherwise',
        'name the sender’s addresses, e.g. --allow-from 192.0.2.10,198.51.100.0/24; better, use a signed preset',
      );
  } else if (c.provider === 'custom' ? c.custom?.algorithm !== 'ed25519' : true) {
    if (secrets.length === 0 && c.publicKeys.length === 0)
      throw invalid('a signed endpoint needs a secret', 'pass --secret vault:VAULT/ITEM.FIELD or --generate-secret');
  }
  if (c.provider === 'custom') checkCustom(c.custom as CustomScheme);
  for (const k of c.publicKeys)
    if (!/^(whpk_)?[A-Za-z0-9+/]{43}=$/.test(k))
      throw invalid('a public key is not an Ed25519 key in base64', 'e.g. whpk_…');
  if (c.legacySha1 && c.provider !== 'github')
    throw invalid('--legacy-sha1 is for the github preset only', 'leave it off');
  for (const t of c.events)
    if (!EVENT_TYPE.test(t))
      throw invalid(`event type ${JSON.stringify(t)} is not printable text`, 'e.g. --events push,pull_request');
  for (const p of c.projection)
    if (!PATH.test(p))
      throw invalid(
        `projection path ${JSON.stringify(p)} is not a dotted path`,
        'e.g. --projection action,pull_request.number',
      );
  const hint = 'see `gatehouse webhook add --help`';
  intIn(c.retentionS, 60, 365 * 86_400, 'retention (seconds)', hint);
  intIn(
    c.dedupeS,
    DEFAULTS.minDedupeS,
    365 * 86_400,
    'the dedupe window (seconds)',
    'at least 3 days: providers retry for days',
  );
  intIn(c.toleranceS, 1, 86_400, 'the timestamp tolerance (seconds)', hint);
  intIn(c.maxAttempts, 1, 100, 'max attempts', hint);
  intIn(c.maxBodyBytes, 1024, MAX_BODY_CAP, 'the body size cap (bytes)', hint);
  if (!(c.rate.perSecond > 0 && c.rate.perSecond <= 10_000) || !(c.rate.burst >= 1 && c.rate.burst <= 100_000))
    throw invalid('the rate limit needs 0 < per second ≤ 10000 and 1 ≤ burst ≤ 100000', hint);
  if (c.instructions && (typeof c.instructions.text !== 'string' || c.instructions.text.length > 20_000))
    throw invalid('instructions are text of at most 20000 characters', 'shorten the instructions file');
  if (typeof c.sealBody !== 'boolean') throw invalid('sealBody must be true or false', hint);
  return { ...c, secrets, allowFrom, dedupeS: Math.max(c.dedupeS, c.retentionS) };
}

/** The secrets that verify at `now`: added, and not yet retired. */
export function activeSecrets(c: EndpointConfig, now: number): EndpointSecret[] {
  return c.secrets.filter((s) => s.retireAt === undefined || Date.parse(s.retireAt) > now);
}
