/**
 * Turns an agent-supplied path and query into a URL under the target's base.
 *
 * Invariant: the resulting URL has the target's origin and its path lies under the target's base
 * path. The agent can never name another host or climb above the base, whatever encoding it uses.
 * Every refusal is GatehouseError('path_denied'); the message names the rule, never echoes the path.
 */
import { GatehouseError } from '../core/index.js';
import { validateTargetSpec, type HttpTargetSpec, type ResolvedTarget } from './target-spec.js';

export type QueryInput =
  string | URLSearchParams | Record<string, string | number | boolean | Array<string | number | boolean>>;

const MAX_PATH_LENGTH = 8192;
const MAX_DECODE_ROUNDS = 4;

function denied(rule: string): GatehouseError {
  return new GatehouseError('path_denied', `path refused: ${rule}`, {
    hint: 'pass a plain path under the target, e.g. /v1/models; absolute URLs, "..", backslashes and encoded separators are not allowed',
  });
}

/** Checks one (possibly partially decoded) form of the path. */
function checkForm(form: string): void {
  if (/[\x00-\x1f\x7f]/.test(form)) throw denied('control characters');
  if (form.includes('\\')) throw denied('backslash');
  if (form.startsWith('//')) throw denied('network-path reference (//host)');
  // Full-width and other compatibility forms of "." and "/" that servers may normalise (NFKC).
  const nf = /^[\x20-\x7e]*$/.test(form) ? form : form.normalize('NFKC');
  if (nf !== form) {
    if (nf.includes('\\') || nf.startsWith('//')) throw denied('unicode separator');
    checkSegments(nf);
  }
  checkSegments(form);
}

function checkSegments(form: string): void {
  for (const raw of form.split('/')) {
    // Dot-only segments, including "..;" (Tomcat path parameters) and "... " (Windows trimming).
    const semi = raw.indexOf(';');
    const seg = (semi === -1 ? raw : raw.slice(0, semi)).trim();
    if (seg.length > 0 && /^\.+$/.test(seg)) throw denied('dot segment');
    if (raw.length > 0 && /^\.+;/.test(raw)) throw denied('dot segment');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes every run of %XX escapes. A stray "%" not followed by two hex digits stays as it is (a
 * literal "%25" decodes to one); escapes that are not valid UTF-8 (overlong "%c0%ae" and the like)
 * are refused, since some servers decode them to "." or "/".
 */
function decodeOnce(s: string): string {
  return s.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    try {
      return utf8.decode(bytes);
    } catch {
      throw denied('malformed percent-encoding');
    }
  });
}

/**
 * Validates the path part (no query). Decodes repeatedly (so %252e%252e and %2e%2e are seen as
 * "..") and checks every intermediate form.
 */
export function checkPath(path: string): void {
  if (path.length > MAX_PATH_LENGTH) throw denied('too long');
  let form = path;
  for (let round = 0; round <= MAX_DECODE_ROUNDS; round++) {
    checkForm(form);
    if (!form.includes('%')) return;
    const next = decodeOnce(form);
    if (next === form) return;
    form = next;
  }
  throw denied('too many levels of percent-encoding');
}

/**
 * Refuses a raw query string whose percent-encoding is malformed (a `%` without two hex digits,
 * escapes that are not UTF-8). URLSearchParams would quietly rewrite such a query (`%A` is sent as
 * `%25A`, bad UTF-8 as U+FFFD), so the request sent would differ from the one judged and approved.
 */
export function checkQuery(raw: string): void {
  if (!raw.includes('%')) return;
  for (const part of raw.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw new GatehouseError('path_denied', 'query refused: malformed percent-encoding', {
        hint: 'percent-encode query names and values as UTF-8 bytes (e.g. %C3%A9); a literal "%" is %25',
      });
    }
  }
}

function appendQuery(params: URLSearchParams, query: QueryInput | undefined, fill: (s: string) => string): void {
  if (query === undefined) return;
  const src = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query;
  if (src instanceof URLSearchParams) {
    for (const [k, v] of src) params.append(k, fill(v));
    return;
  }
  for (const [k, v] of Object.entries(src)) {
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, fill(String(item)));
  }
}

/**
 * `path` with `query` appended exactly as resolveTargetUrl appends it (the same serialisation), so
 * a caller that shows the request to the guard shows the query that will be sent.
 */
export function pathWithQuery(path: string, query: QueryInput | undefined): string {
  const params = new URLSearchParams();
  appendQuery(params, query, (s) => s);
  const text = params.toString();
  return text === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${text}`;
}

/**
 * Builds the upstream URL. `path` may carry a "?query" part; `query` is merged after it. Query
 * values pass through `fill` (vault handles); a parameter named like the target's query credential
 * is dropped, since the gateway alone sets it.
 */
export function resolveTargetUrl(
  spec: HttpTargetSpec | ResolvedTarget,
  path: string,
  query?: QueryInput,
  fill: (s: string) => string = (s) => s,
): URL {
  const target: ResolvedTarget = 'origin' in spec && 'basePath' in spec ? spec : validateTargetSpec(spec);
  if (typeof path !== 'string') throw denied('path must be a string');
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  const pathQuery = q === -1 ? undefined : path.slice(q + 1);
  if (p.includes('#')) throw denied('fragment');
  if (p === '') p = '/';
  if (!p.startsWith('/')) {
    // A relative path is read as under the base, but only if it cannot be mistaken for a URL or
    // an authority (scheme:, user@host, host:port).
    const slash = p.indexOf('/');
    const first = slash === -1 ? p : p.slice(0, slash);
    if (/^[a-z][a-z0-9+.-]*:/i.test(p) || first.includes('@') || first.includes(':'))
      throw denied('absolute URL or authority');
    p = '/' + p;
  }
  if (/^\/[a-z][a-z0-9+.-]*:\/\//i.test(p)) throw denied('absolute URL');
  checkPath(p);

  const url = new URL(target.origin);
  url.pathname = target.basePath + p;
  const params = new URLSearchParams();
  if (pathQuery !== undefined) {
    if (/[\x00-\x1f\x7f#]/.test(pathQuery)) throw denied('control characters or fragment in query');
    checkQuery(pathQuery);
    appendQuery(params, pathQuery, fill);
  }
  if (typeof query === 'string') checkQuery(query.startsWith('?') ? query.slice(1) : query);
  appendQuery(params, query, fill);
  if (target.spec.auth.kind === 'query') params.delete(target.spec.auth.name);
  url.search = params.toString();

  // Belt and braces: the serialised URL must still be ours.
  if (url.origin !== target.origin) throw denied('leaves the target origin');
  const under = target.basePath === '' ? '/' : target.basePath + '/';
  if (!(url.pathname + (url.pathname.endsWith('/') ? '' : '/')).startsWith(under)) throw denied('leaves the base path');
  return url;
}
