/**
 * Header hygiene both ways, and credential injection.
 *
 * Invariants enforced here:
 * - whatever the agent sends in Authorization, Cookie, Proxy-Authorization or the target's own auth
 *   header is dropped; the gateway alone sets the credential;
 * - hop-by-hop headers (Connection and the names it lists, Keep-Alive, TE, Trailer,
 *   Transfer-Encoding, Upgrade, Proxy-*) never cross the gateway in either direction;
 * - Host comes from the target (undici derives it from the pool origin), never from the agent;
 * - the credential value is scrubbed from every response header value.
 */
import { GatehouseError } from '../core/index.js';
import type { HttpAuth } from './target-spec.js';

export type HeaderInput = Record<string, string | string[] | number | undefined>;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);
// Never forwarded from the agent: credentials, addressing, and headers the gateway computes.
const AGENT_DROPPED = new Set([
  'authorization', 'cookie', 'proxy-authorization', 'host', 'content-length', 'expect',
  'forwarded', 'x-real-ip', 'accept-encoding', 'x-http-method-override', 'x-method-override', 'x-http-method',
]);
// Never returned to the agent: cookies minted with the injected credential are credentials too.
const RESPONSE_DROPPED = new Set(['set-cookie', 'set-cookie2', 'proxy-authenticate', 'alt-svc']);
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const NONE: ReadonlySet<string> = new Set<string>();

function connectionListed(value: string | string[] | number | undefined): ReadonlySet<string> {
  if (value === undefined) return NONE;
  // The usual values list no extra header names (keep-alive is hop-by-hop anyway).
  if (typeof value === 'string' && (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close')) return NONE;
  const out = new Set<string>();
  for (const v of Array.isArray(value) ? value : [String(value)]) {
    for (const t of v.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  }
  return out;
}

function isHopByHop(lower: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(lower) || lower.startsWith('proxy-') || listed.has(lower);
}

const BAD_VALUE = /[\r\n\0]/;

function badValue(v: string): boolean {
  return BAD_VALUE.test(v);
}

function badHeaderValue(lower: string): GatehouseError {
  return new GatehouseError('invalid_input', `request header "${lower}" contains CR, LF or NUL`, { hint: 'header values must be a single line' });
}

/**
 * Builds the outgoing header set: agent headers (filtered, with `fill` applied to values), then the
 * credential. Returns a flat record for undici. `drop` names (lower case) are never forwarded.
 */
export function buildRequestHeaders(
  auth: HttpAuth,
  credential: string | undefined,
  agent: HeaderInput | undefined,
  fill: (s: string) => string,
  drop?: readonly string[],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const input = agent ?? {};
  let listed = NONE;
  for (const k in input) if (k.toLowerCase() === 'connection') listed = connectionListed(input[k]);
  const authHeader = auth.kind === 'header' ? auth.name.toLowerCase() : undefined;
  for (const name in input) {
    const value = input[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (drop !== undefined && drop.includes(lower)) continue;
    if (!HEADER_TOKEN.test(name)) {
      throw new GatehouseError('invalid_input', 'a request header name is not a valid HTTP token', { hint: 'use header names made of letters, digits and dashes' });
    }
    if (AGENT_DROPPED.has(lower) || lower === authHeader || isHopByHop(lower, listed) || lower.startsWith('x-forwarded-')) continue;
    let v: string | string[];
    if (Array.isArray(value)) {
      v = value.map((x) => fill(String(x)));
      if (v.some(badValue)) throw badHeaderValue(lower);
    } else {
      v = fill(String(value));
      if (badValue(v)) throw badHeaderValue(lower);
    }
    const prev = out[lower];
    if (prev === undefined) out[lower] = Array.isArray(v) && v.length === 1 ? v[0] : v;
    else out[lower] = [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
  }
  // Uncompressed responses, so redaction and formatting see plain bytes.
  out['accept-encoding'] = 'identity';
  injectCredentialHeader(out, auth, credential);
  return out;
}

function injectCredentialHeader(out: Record<string, string | string[]>, auth: HttpAuth, credential: string | undefined): void {
  if (auth.kind === 'none' || auth.kind === 'query') return;
  const cred = requireCredential(credential);
  if (auth.kind === 'bearer') out['authorization'] = `Bearer ${cred}`;
  else if (auth.kind === 'basic') {
    if (!cred.includes(':')) {
      throw new GatehouseError('config_invalid', 'the basic-auth secret must be "user:password"', { hint: 'store the secret as user:password in the vault' });
    }
    out['authorization'] = `Basic ${Buffer.from(cred, 'utf8').toString('base64')}`;
  } else out[auth.name.toLowerCase()] = cred;
}

/** A missing credential is a loud typed error, never an empty header. The value is never echoed. */
export function requireCredential(credential: string | undefined): string {
  if (typeof credential !== 'string' || credential.length === 0) {
    throw new GatehouseError('config_invalid', 'the target needs a credential but none was supplied', { hint: 'set the target secret: gatehouse target update NAME --secret vault:VAULT/ITEM.FIELD' });
  }
  if (/[\r\n\0]/.test(credential)) {
    throw new GatehouseError('config_invalid', 'the target credential contains CR, LF or NUL', { hint: 'store the secret without line breaks' });
  }
  return credential;
}

/** The literal forms the credential takes on the wire; scrubbed from response headers. */
export function credentialForms(auth: HttpAuth, credential: string | undefined): string[] {
  if (auth.kind === 'none' || !credential) return [];
  const forms = [credential];
  if (auth.kind === 'basic') forms.push(Buffer.from(credential, 'utf8').toString('base64'));
  if (auth.kind === 'query') forms.push(encodeURIComponent(credential), new URLSearchParams({ x: credential }).toString().slice(2));
  return [...new Set(forms.filter((f) => f.length >= 4))];
}

export const REDACTED = '[REDACTED]';

/**
 * Filters upstream response headers for the agent: hop-by-hop and cookie headers dropped, the
 * credential's wire forms replaced, then the caller's scrubber. Multi-valued headers are joined.
 */
export function filterResponseHeaders(
  raw: Record<string, string | string[] | undefined>,
  forms: string[],
  scrubHeader: ((v: string) => string) | undefined,
): Record<string, string> {
  const listed = connectionListed(raw['connection']);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, listed) || RESPONSE_DROPPED.has(lower)) continue;
    let v = Array.isArray(value) ? value.join(', ') : String(value);
    for (const f of forms) if (v.includes(f)) v = v.split(f).join(REDACTED);
    if (scrubHeader) v = scrubHeader(v);
    out[lower] = v;
  }
  return out;
}
