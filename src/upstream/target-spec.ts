/**
 * HTTP target specifications: what a target is, and validation of one.
 *
 * A target is an origin plus an optional base path. The agent supplies only a path relative to
 * that base; it can never name a host. Validation fails closed on anything ambiguous in the base
 * URL (userinfo, query, fragment, non-http schemes), because the base URL decides where injected
 * credentials go.
 */
import { GatehouseError } from '../core/index.js';

export type HttpAuth =
  | { kind: 'bearer' }
  | { kind: 'header'; name: string }
  | { kind: 'basic' }
  | { kind: 'query'; name: string }
  | { kind: 'none' };

export interface HttpTargetSpec {
  name: string;
  baseUrl: string;
  auth: HttpAuth;
  allowPrivate: boolean;
}

/** A validated spec with its parsed base: `origin` (scheme://host:port) and `basePath` (no trailing '/'). */
export interface ResolvedTarget {
  readonly spec: HttpTargetSpec;
  readonly origin: string;
  readonly basePath: string;
}

const TARGET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers the gateway owns or that would break framing; a credential may never be placed in them.
const RESERVED_AUTH_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'cookie',
  'expect',
]);

function invalid(message: string, hint: string): GatehouseError {
  return new GatehouseError('invalid_input', message, { hint });
}

/** Parses an auth flag as the CLI spells it: `bearer`, `basic`, `none`, `header:NAME`, `query:NAME`. */
export function parseAuthSpec(text: string): HttpAuth {
  const t = text.trim();
  if (t === 'bearer' || t === 'basic' || t === 'none') return { kind: t };
  const m = /^(header|query):(.+)$/.exec(t);
  const name = m?.[2];
  if (m && name !== undefined) {
    const auth: HttpAuth = m[1] === 'header' ? { kind: 'header', name } : { kind: 'query', name };
    validateAuth(auth);
    return auth;
  }
  throw invalid(`unknown auth kind "${t}"`, 'use one of: bearer, basic, none, header:NAME, query:NAME');
}

function validateAuth(auth: HttpAuth): void {
  switch (auth.kind) {
    case 'bearer':
    case 'basic':
    case 'none':
      return;
    case 'header': {
      if (typeof auth.name !== 'string' || !HEADER_TOKEN.test(auth.name)) {
        throw invalid(
          'auth header name is not a valid HTTP header name',
          'use letters, digits and dashes, e.g. header:X-Api-Key',
        );
      }
      const lower = auth.name.toLowerCase();
      if (RESERVED_AUTH_HEADERS.has(lower) || lower.startsWith('proxy-')) {
        throw invalid(
          `auth header "${auth.name}" is reserved`,
          'pick the header the API documents for its key, e.g. X-Api-Key',
        );
      }
      return;
    }
    case 'query': {
      if (
        typeof auth.name !== 'string' ||
        auth.name.length === 0 ||
        auth.name.length > 128 ||
        /[\x00-\x20\x7f&=#?%+]/.test(auth.name)
      ) {
        throw invalid(
          'auth query parameter name is empty or has characters that need encoding',
          'use a plain name, e.g. query:api_key',
        );
      }
      return;
    }
    default:
      throw invalid('unknown auth kind', 'use one of: bearer, basic, none, header:NAME, query:NAME');
  }
}

/**
 * Validates a target spec and returns its parsed base. Throws GatehouseError('invalid_input').
 * Invariant: the origin returned here is the only place credentials for this target are sent.
 */
export function validateTargetSpec(spec: HttpTargetSpec): ResolvedTarget {
  if (spec === null || typeof spec !== 'object')
    throw invalid('target spec is missing', 'pass { name, baseUrl, auth, allowPrivate }');
  if (typeof spec.name !== 'string' || !TARGET_NAME.test(spec.name)) {
    throw invalid(
      'target name must be 1-63 characters: letters, digits, ".", "_" or "-", starting with a letter or digit',
      'e.g. openai, stripe-live',
    );
  }
  if (typeof spec.allowPrivate !== 'boolean')
    throw invalid(
      'allowPrivate must be true or false',
      'pass allowPrivate: false unless the target is on a private network',
    );
  if (spec.auth === null || typeof spec.auth !== 'object')
    throw invalid('auth is missing', 'use one of: bearer, basic, none, header:NAME, query:NAME');
  validateAuth(spec.auth);
  if (typeof spec.baseUrl !== 'string' || spec.baseUrl.length === 0 || spec.baseUrl.length > 2048) {
    throw invalid('base URL is missing or too long', 'e.g. --base-url https://api.openai.com/v1');
  }
  if (/[\x00-\x20\x7f\\]/.test(spec.baseUrl)) {
    throw invalid(
      'base URL contains whitespace, control characters or backslashes',
      'write the URL plainly, e.g. https://api.example.com/v1',
    );
  }
  let url: URL;
  try {
    url = new URL(spec.baseUrl);
  } catch {
    throw invalid('base URL is not an absolute URL', 'e.g. --base-url https://api.openai.com/v1');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`base URL scheme "${url.protocol}" is not supported`, 'use an http:// or https:// URL');
  if (url.username || url.password)
    throw invalid(
      'base URL must not carry a username or password',
      'store the credential in the vault and pick an --auth kind',
    );
  if (url.search || spec.baseUrl.includes('?'))
    throw invalid(
      'base URL must not have a query string',
      'use --auth query:NAME for a key in the query; agents pass other parameters per request',
    );
  if (url.hash || spec.baseUrl.includes('#')) throw invalid('base URL must not have a fragment', 'remove the #… part');
  if (!url.hostname) throw invalid('base URL has no host', 'e.g. https://api.example.com');
  // Dot segments or encoded slashes in the base path would make "under the base path" ambiguous.
  // (checked on the raw text too: the URL parser already removed "%2e%2e" segments from pathname)
  const rawPath = spec.baseUrl.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  if (/%2e|%2f|%5c/i.test(rawPath) || rawPath.split('/').some((s) => s === '.' || s === '..')) {
    throw invalid('base URL path has dot segments or encoded slashes', 'write the base path plainly, e.g. /v1');
  }
  const basePath = url.pathname.replace(/\/+$/, '');
  return { spec, origin: url.origin, basePath };
}
