/**
 * Header hygiene both ways, and credential injection.
 *
 * Invariants enforced here:
 * - whatever the agent sends in Authorization, Cookie, Proxy-Authorization or the target's own auth
 *   header is dropped; the gateway alone sets the credential;
 * - hop-by-hop headers (Connection and the names it lists, Keep-Alive, TE, Trailer,
 *   Transfer-Encoding, Upgrade, Proxy-*) never cross the gateway in either direction;
 * - Host comes from the target (undici derives it from the pool origin), never from the agent;
 * - the credential value is scrubbed from every response header value, and no response header
 *   whose name holds a secret is returned.
 */
import { GatehouseError, REDACTED } from '../core/index.js';
import type { HttpAuth } from './target-spec.js';

export type HeaderInput = Record<string, string | string[] | number | undefined>;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
]);
// Never forwarded from the agent: credentials, addressing, and headers the gateway computes.
const AGENT_DROPPED = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
  'host',
  'content-length',
  'expect',
  'forwarded',
  'x-real-ip',
  'accept-encoding',
  'x-http-method-override',
  'x-method-override',
  'x-http-method',
]);
// Never returned to the agent: cookies minted with the injected credential are credentials too.
const RESPONSE_DROPPED = new Set(['set-cookie', 'set-cookie2', 'proxy-authenticate', 'alt-svc']);
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const NONE: ReadonlySet<string> = new Set<string>();
// Headers that say how the body is read: sent twice (say "Content-Type" and "content-type"), the
// guard and the upstream could each pick another one. Refused instead.
const SINGLE = new Set(['content-type', 'content-encoding']);

function connectionListed(value: string | readonly string[] | number | undefined): ReadonlySet<string> {
  if (value === undefined) return NONE;
  if (typeof value !== 'string' && typeof value !== 'number' && value.length <= 1) {
    if (value.length === 0) return NONE;
    value = value[0]!;
  }
  // The usual values list no extra header names (keep-alive is hop-by-hop anyway).
  if (
    typeof value === 'string' &&
    (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close')
  )
    return NONE;
  const out = new Set<string>();
  for (const v of typeof value === 'string' || typeof value === 'number' ? [String(value)] : value) {
    for (const t of v.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  }
  return out;
}

function isHopByHop(lower: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(lower) || lower.startsWith('proxy-') || listed.has(lower);
}

/**
 * The names (lower case) of an agent's request headers that belong to its connection to the
 * gateway, not to the request it asks for: `host` (which gateway process it reached) and every
 * hop-by-hop header (those `Connection` lists included). None reaches the upstream.
 */
export function connectionHeaderNames(agent: HeaderInput): ReadonlySet<string> {
  let listed = NONE;
  for (const k in agent) if (k.toLowerCase() === 'connection') listed = connectionListed(agent[k]);
  const out = new Set<string>();
  for (const k in agent) {
    const lower = k.toLowerCase();
    if (lower === 'host' || isHopByHop(lower, listed)) out.add(lower);
  }
  return out;
}

const BAD_VALUE = /[\r\n\0]/;

function badValue(v: string): boolean {
  return BAD_VALUE.test(v);
}

function badHeaderValue(lower: string): GatehouseError {
  return new GatehouseError('invalid_input', `request header "${lower}" contains CR, LF or NUL`, {
    hint: 'header values must be a single line',
  });
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
      throw new GatehouseError('invalid_input', 'a request header name is not a valid HTTP token', {
        hint: 'use header names made of letters, digits and dashes',
      });
    }
    if (
      AGENT_DROPPED.has(lower) ||
      lower === authHeader ||
      isHopByHop(lower, listed) ||
      lower.startsWith('x-forwarded-')
    )
      continue;
    if (SINGLE.has(lower) && (out[lower] !== undefined || (Array.isArray(value) && value.length > 1))) {
      throw new GatehouseError('invalid_input', `request header "${lower}" is given more than once`, {
        hint: `send one ${lower} header`,
      });
    }
    let v: string | string[];
    if (Array.isArray(value)) {
      v = value.map((x) => fill(String(x)));
      if (v.some(badValue)) throw badHeaderValue(lower);
    } else {
      v = fill(String(value));
      if (badValue(v)) throw badHeaderValue(lower);
    }
    const prev = out[lower];
    if (prev === undefined) out[lower] = Array.isArray(v) && v.length === 1 ? v[0]! : v;
    else out[lower] = [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
  }
  // Uncompressed responses, so redaction and formatting see plain bytes.
  out['accept-encoding'] = 'identity';
  injectCredentialHeader(out, auth, credential);
  return out;
}

function injectCredentialHeader(
  out: Record<string, string | string[]>,
  auth: HttpAuth,
  credential: string | undefined,
): void {
  if (auth.kind === 'none' || auth.kind === 'query') return;
  const cred = requireCredential(credential);
  if (auth.kind === 'bearer') out['authorization'] = `Bearer ${cred}`;
  else if (auth.kind === 'basic') {
    if (!cred.includes(':')) {
      throw new GatehouseError('config_invalid', 'the basic-auth secret must be "user:password"', {
        hint: 'store the secret as user:password in the vault',
      });
    }
    out['authorization'] = `Basic ${Buffer.from(cred, 'utf8').toString('base64')}`;
  } else out[auth.name.toLowerCase()] = cred;
}

/** A missing credential is a loud typed error, never an empty header. The value is never echoed. */
export function requireCredential(credential: string | undefined): string {
  if (typeof credential !== 'string' || credential.length === 0) {
    throw new GatehouseError('config_invalid', 'the target needs a credential but none was supplied', {
      hint: 'set the target secret: gatehouse target update NAME --secret vault:VAULT/ITEM.FIELD',
    });
  }
  if (/[\r\n\0]/.test(credential)) {
    throw new GatehouseError('config_invalid', 'the target credential contains CR, LF or NUL', {
      hint: 'store the secret without line breaks',
    });
  }
  return credential;
}

/** The literal forms the credential takes on the wire; scrubbed from response headers. */
export function credentialForms(auth: HttpAuth, credential: string | undefined): string[] {
  if (auth.kind === 'none' || !credential) return [];
  const forms = [credential];
  if (auth.kind === 'basic') forms.push(Buffer.from(credential, 'utf8').toString('base64'));
  if (auth.kind === 'query')
    forms.push(encodeURIComponent(credential), new URLSearchParams({ x: credential }).toString().slice(2));
  return [...new Set(forms.filter((f) => f.length >= 4))];
}

export { REDACTED };

/** Response header lines as undici hands them over with `responseHeaders: 'raw'` or in `controller.rawHeaders`: name, value, name, value, … */
export type RawHeaderLines = readonly (string | Buffer)[];

/** One response header line: the name as the upstream spelled it, the value as latin1 text (undici's reading of header bytes). */
export type HeaderLine = readonly [name: string, value: string];

/**
 * The header lines of a response, names in their original case (a secret in a header name is
 * matched as it was sent, not lowercased). Accepts undici's raw list or, where only that exists,
 * its parsed object (lowercased names; repeated headers as arrays).
 */
export function headerLines(
  raw: RawHeaderLines | Readonly<Record<string, string | string[] | undefined>>,
): HeaderLine[] {
  const out: HeaderLine[] = [];
  if (Array.isArray(raw)) {
    const list = raw as RawHeaderLines;
    for (let i = 0; i + 1 < list.length; i += 2) {
      const n = list[i]!;
      const v = list[i + 1]!;
      out.push([typeof n === 'string' ? n : n.toString('latin1'), typeof v === 'string' ? v : v.toString('latin1')]);
    }
    return out;
  }
  for (const [name, value] of Object.entries(raw as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, String(v)]);
    else out.push([name, String(value)]);
  }
  return out;
}

/** Every value of one header (any case), in the order received. */
export function headerValues(lines: readonly HeaderLine[], lowerName: string): string[] {
  const out: string[] = [];
  for (const [n, v] of lines) if (n.length === lowerName.length && n.toLowerCase() === lowerName) out.push(v);
  return out;
}

/** The header that tells the agent how many response headers were dropped because their names held a secret. */
export const REDACTED_NAMES_HEADER = 'x-gatehouse-redacted-headers';

/** How response headers are scrubbed: the caller's text scrubber and, when given, its byte scrubber. */
export interface HeaderScrubbers {
  /** Scrubs a header value or name as text. */
  text?: (value: string) => string;
  /**
   * A fresh chunk scrubber, applied to the header's bytes as received (header text is latin1, so
   * a secret with non-ASCII characters is in it as UTF-8 bytes, which only a byte scrubber matches).
   */
  bytes?: () => { push(chunk: Buffer): Buffer; end(): Buffer };
}

function scrubOne(v: string, forms: readonly string[], s: HeaderScrubbers): string {
  for (const f of forms) if (v.includes(f)) v = v.split(f).join(REDACTED);
  if (s.text) v = s.text(v);
  // ASCII text is already covered by the text scrubber (same secrets); bytes matter beyond it.
  if (s.bytes && (s.text === undefined || /[^\x20-\x7e]/.test(v))) {
    const b = s.bytes();
    const raw = Buffer.from(v, 'latin1');
    v = Buffer.concat([b.push(raw), b.end()]).toString('latin1');
  }
  return v;
}

/** Whether a header name carries a secret: a credential form (any case: names arrive lowercased from some paths) or whatever the scrubbers find. */
function nameHoldsSecret(name: string, formsLower: readonly string[], s: HeaderScrubbers): boolean {
  const lower = name.toLowerCase();
  for (const f of formsLower) if (lower.includes(f)) return true;
  return scrubOne(name, [], s) !== name;
}

/**
 * Filters upstream response headers for the agent: hop-by-hop and cookie headers dropped, the
 * credential's wire forms replaced, then the caller's scrubbers, on names and values alike.
 *
 * INVARIANT: no header name that holds a secret reaches the agent. Such a header is dropped, not
 * renamed (a renamed header could collide with another and merge silently; a dropped one cannot),
 * and `x-gatehouse-redacted-headers` says how many were dropped. The upstream cannot set that
 * header itself: every `x-gatehouse-*` name belongs to the gateway.
 *
 * Repeated headers are joined with ", " under their lowercase name, as HTTP allows for every
 * header but Set-Cookie (which is dropped).
 */
export function filterResponseHeaders(
  lines: readonly HeaderLine[],
  forms: readonly string[],
  scrub: HeaderScrubbers = {},
): Record<string, string> {
  const listed = connectionListed(headerValues(lines, 'connection'));
  const formsLower = forms.map((f) => f.toLowerCase());
  const out: Record<string, string> = {};
  let dropped = 0;
  for (const [name, value] of lines) {
    const lower = name.toLowerCase();
    if (isHopByHop(lower, listed) || RESPONSE_DROPPED.has(lower) || lower.startsWith('x-gatehouse-')) continue;
    if (nameHoldsSecret(name, formsLower, scrub)) {
      dropped++;
      continue;
    }
    const v = scrubOne(value, forms, scrub);
    const prev = out[lower];
    out[lower] = prev === undefined ? v : `${prev}, ${v}`;
  }
  if (dropped > 0) out[REDACTED_NAMES_HEADER] = String(dropped);
  return out;
}
