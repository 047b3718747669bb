/**
 * The one reading of a Content-Type value (issue 22: content types were classified by substring or
 * prefix regexes in five places, so `application/jsonx` read as JSON in one and not in another).
 *
 * The essence (`type/subtype`, lower-cased) is compared whole, never by substring. Parsing is exact
 * on the essence and lenient after it: servers differ on malformed parameters, and the callers that
 * decide whether the guard reads a body as text must read more rather than less, so a value like
 * `application/json garbage` still has the essence `application/json`. A value with no
 * `type/subtype` at its start has no media type at all.
 */

import { BoundedLru } from './lru.js';

export interface MediaType {
  /** `type/subtype`, lower-cased: the part compared whole. */
  readonly essence: string;
  readonly type: string;
  readonly subtype: string;
  /** Every `name=value` parameter in order (names lower-cased, quotes removed), duplicates kept. */
  readonly params: readonly (readonly [string, string])[];
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const ESSENCE = new RegExp(`^[ \\t]*(${TOKEN})/(${TOKEN})`);
const PARAM = new RegExp(`;[ \\t]*(${TOKEN})[ \\t]*=[ \\t]*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, 'g');

/**
 * The media type a Content-Type value names, or undefined when it names none. A service sees the
 * same few values on every request, so parses are remembered (bounded; the result is frozen).
 */
export function mediaTypeOf(contentType: string | undefined): MediaType | undefined {
  if (contentType === undefined) return undefined;
  if (contentType.length > 200) return parse(contentType); // long values are not kept
  const known = parsed.get(contentType);
  if (known !== undefined) return known ?? undefined;
  const m = parse(contentType);
  parsed.set(contentType, m ?? null);
  return m;
}

const parsed = new BoundedLru<string, MediaType | null>(256);

function parse(contentType: string): MediaType | undefined {
  const m = ESSENCE.exec(contentType);
  if (!m?.[1] || !m[2]) return undefined;
  const type = m[1].toLowerCase();
  const subtype = m[2].toLowerCase();
  const params: (readonly [string, string])[] = [];
  for (const p of contentType.slice(m[0].length).matchAll(PARAM)) {
    const name = (p[1] ?? '').toLowerCase();
    const quoted = p[2];
    params.push([name, quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (p[3] ?? '').trim()]);
  }
  return Object.freeze({ essence: `${type}/${subtype}`, type, subtype, params: Object.freeze(params) });
}

/** Every value of parameter `name` (lower-case), in order: a type may (wrongly) carry two charsets. */
export function mediaParams(m: MediaType | undefined, name: string): string[] {
  return m ? m.params.filter(([n]) => n === name).map(([, v]) => v) : [];
}

const hasSuffix = (m: MediaType, suffix: string) => m.subtype.endsWith(`+${suffix}`);

/** JSON bodies: `application/json`, any `+json` type, and newline-delimited JSON. */
export function isJsonMedia(m: MediaType | undefined): boolean {
  if (!m) return false;
  return m.essence === 'application/json' || m.essence === 'application/x-ndjson' || hasSuffix(m, 'json');
}

/** Newline-delimited JSON: JSON lines, not one document. */
export function isNdjsonMedia(m: MediaType | undefined): boolean {
  return m?.essence === 'application/x-ndjson';
}

/** A subtype some server may parse as text: JSON, XML, forms or GraphQL anywhere in its name. */
const TEXTUAL_SUBTYPE = /json|xml|form|graphql/;

/**
 * Request bodies some server may parse as text (`text/*`, JSON, XML, forms, GraphQL): the ones
 * `/gateway` reads whole so the guard judges them, and fills vault handles in.
 *
 * INVARIANT: wide on purpose, where every other predicate here is exact. Servers differ: some
 * take `application/json5` or `application/jsonx` as JSON because the name starts or contains
 * "json". Reading a body the server treats as bytes costs memory (bounded); not reading one it
 * parses lets a mutation past the guard unread. So the subtype is matched by what it contains.
 */
export function isTextualRequestMedia(m: MediaType | undefined): boolean {
  if (!m) return false;
  return m.type === 'text' || (m.type === 'application' && TEXTUAL_SUBTYPE.test(m.subtype));
}

/**
 * A GraphQL document or GraphQL-over-JSON request (`application/graphql`,
 * `application/graphql+json`, `application/graphql-response+json`). Deliberately wide: it only
 * turns on the guard's GraphQL reading, which adds scrutiny.
 */
export function isGraphqlMedia(m: MediaType | undefined): boolean {
  return m?.type === 'application' && /^graphql([+-]|$)/.test(m.subtype);
}

/**
 * Every `charset` a Content-Type value declares, lower-cased, found even when the essence is
 * malformed: the guard reads a body in every charset any server might take from the header, so
 * here the reading is as wide as the most lenient server's.
 */
export function declaredCharsets(contentType: string): string[] {
  const out: string[] = [];
  for (const m of contentType.matchAll(/;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/gi)) {
    out.push((m[1] ?? m[2] ?? '').trim().toLowerCase());
  }
  return out;
}

/** `multipart/form-data`: form uploads, whose text parts servers read as fields. */
export function isMultipartForm(m: MediaType | undefined): boolean {
  return m?.essence === 'multipart/form-data';
}

const TEXT_APPLICATION = new Set([
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/sql',
  'application/csv',
]);

/** Responses shown to an agent as text (JSON aside): `text/*`, XML, scripts, forms, config formats. */
export function isTextResponseMedia(m: MediaType | undefined): boolean {
  if (!m) return false;
  return m.type === 'text' || TEXT_APPLICATION.has(m.essence) || hasSuffix(m, 'xml');
}

const BINARY_APPLICATION = new Set([
  'application/octet-stream',
  'application/pdf',
  'application/zip',
  'application/gzip',
  'application/x-tar',
  'application/wasm',
  'application/protobuf',
  'application/x-protobuf',
  'application/msgpack',
]);

/** Responses that are binary whatever their bytes look like: media, fonts, archives. */
export function isBinaryMedia(m: MediaType | undefined): boolean {
  if (!m) return false;
  return ['image', 'audio', 'video', 'font'].includes(m.type) || BINARY_APPLICATION.has(m.essence);
}
