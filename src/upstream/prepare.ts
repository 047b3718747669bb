/**
 * Shared request preparation for both entry points: method check, URL, headers, credential.
 */
import { GatehouseError } from '../core/index.js';
import { buildRequestHeaders, requireCredential, type HeaderInput } from './headers.js';
import { resolveTargetUrl, type QueryInput } from './path-safety.js';
import type { ResolvedTarget } from './target-spec.js';

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// CONNECT would tunnel anywhere; TRACE/TRACK reflect the request, credential included.
const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

export function checkMethod(method: string | undefined): string {
  const m = (method ?? '').toUpperCase();
  if (!METHOD_TOKEN.test(m) || m.length > 32) {
    throw new GatehouseError('invalid_input', 'the HTTP method is not a valid token', {
      hint: 'use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS',
    });
  }
  if (REFUSED_METHODS.has(m)) {
    throw new GatehouseError('invalid_input', `HTTP method ${m} is not allowed through the gateway`, {
      hint: 'use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS',
    });
  }
  return m;
}

/** Adds the query credential (if that is the auth kind) to a copy of `url`; same origin only. */
export function withQueryCredential(target: ResolvedTarget, url: URL, credential: string | undefined): URL {
  if (target.spec.auth.kind !== 'query') return url;
  const out = new URL(url);
  out.searchParams.set(target.spec.auth.name, requireCredential(credential));
  return out;
}

export interface Prepared {
  method: string;
  url: URL;
  headers: Record<string, string | string[]>;
}

export function prepare(
  target: ResolvedTarget,
  credential: string | undefined,
  input: {
    method: string | undefined;
    path: string;
    query?: QueryInput;
    headers?: HeaderInput;
    fill?: (s: string) => string;
    dropHeaders?: string[];
  },
): Prepared {
  const fill = input.fill ?? ((s: string) => s);
  const method = checkMethod(input.method);
  const url = resolveTargetUrl(target, input.path, input.query, fill);
  const drop = input.dropHeaders?.length ? input.dropHeaders.map((h) => h.toLowerCase()) : undefined;
  const headers = buildRequestHeaders(target.spec.auth, credential, input.headers, fill, drop);
  return { method, url, headers };
}

/** The request target undici sends: path and query, never an absolute URL. */
export function requestPath(url: URL): string {
  return url.pathname + url.search;
}
