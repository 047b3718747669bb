/**
 * Following a same-origin redirect is a new request: its method (after the redirect's method
 * rewriting), path, query and re-sent body are judged by the caller's guard like any request, and
 * it may not leave the target's base path (issue 13.11: a 307 to /admin/users re-sent a POST that
 * needs approval when made directly).
 *
 * The executor holds only the filled forms of headers and body (vault handles replaced), which
 * must never reach the guard or the audit log; so a hop says what changes (method, path, whether
 * the body is sent again) and `hopAsRequest` combines it with what the caller judged the first time.
 */
import { GatehouseError } from '../core/index.js';
import { checkPath } from './path-safety.js';
import type { ResolvedTarget } from './target-spec.js';

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** One followed redirect, in the terms a direct call would use. */
export interface RedirectHop {
  /** The status that asked for it (301, 302, 303, 307 or 308). */
  status: number;
  /** The method the hop is sent with: 303 (and 301/302 after POST) turn into GET, HEAD stays HEAD. */
  method: string;
  /** Path and query under the target's base path, as an agent would pass them (any query credential removed). */
  path: string;
  /** The original body is sent again (307, 308, and 301/302 of anything but POST); otherwise it and its Content-Type are dropped. */
  resendsBody: boolean;
}

/** The caller's judgment of a hop: `allow`, or the error a direct request would have met (approval needed, denied). */
export type HopVerdict = 'allow' | { refuse: GatehouseError };

/** Judges a hop like a new request; anything but `allow` stops the exchange with `redirect_blocked`. */
export type JudgeHop = (hop: RedirectHop) => HopVerdict | Promise<HopVerdict>;

/**
 * The request a hop amounts to, from what the caller judged first (never the filled forms): the
 * hop's method and path, the same headers, and the body only when it is sent again (without it
 * the Content-Type goes too).
 */
export function hopAsRequest<H extends Record<string, string>>(
  hop: RedirectHop,
  original: { headers?: H; body?: string },
): { method: string; path: string; headers?: Record<string, string>; body?: string } {
  if (hop.resendsBody) return { method: hop.method, path: hop.path, headers: original.headers, body: original.body };
  const headers =
    original.headers &&
    Object.fromEntries(Object.entries(original.headers).filter(([k]) => k.toLowerCase() !== 'content-type'));
  return { method: hop.method, path: hop.path, headers };
}

/** The method and body rule of a redirect (as browsers and undici apply it). */
export function methodAfter(status: number, method: string): { method: string; resendsBody: boolean } {
  if (status === 303 || ((status === 301 || status === 302) && method === 'POST'))
    return { method: method === 'HEAD' ? 'HEAD' : 'GET', resendsBody: false };
  return { method, resendsBody: true };
}

export type Followable = { follow: false } | { follow: true; url: URL; hop: RedirectHop };

function blocked(
  name: string,
  status: number,
  shown: string,
  why: string,
  hint: string,
  details: Record<string, unknown> = {},
): GatehouseError {
  return new GatehouseError(
    'redirect_blocked',
    `target "${name}" redirected (${status}) to ${shown}, which was not followed: ${why}`,
    {
      hint,
      details: { status, location: shown, ...details },
    },
  );
}

/**
 * Where a redirect leads. Another origin (or scheme) is not followed: the 3xx goes back to the
 * caller as is, and the credential never travels there. The same origin outside the base path,
 * or a path a direct call could not use, is refused.
 *
 * `show` scrubs text that came from the upstream before it goes into an error.
 */
export function redirectTarget(
  target: ResolvedTarget,
  current: URL,
  status: number,
  method: string,
  locations: readonly string[],
  show: (text: string) => string,
): Followable {
  // More than one Location is ambiguous: which one a client would follow is not defined.
  const location = locations[0];
  if (locations.length !== 1 || location === undefined) return { follow: false };
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return { follow: false };
  }
  if (next.origin !== target.origin || (next.protocol !== 'http:' && next.protocol !== 'https:'))
    return { follow: false };
  next.hash = '';
  const name = target.spec.name;
  const base = target.basePath;
  // INVARIANT: a followed hop stays under the target's base path, like every direct call.
  if (base !== '' && next.pathname !== base && !next.pathname.startsWith(base + '/')) {
    throw blocked(
      name,
      status,
      show(next.pathname),
      `it leaves the target's base path ${base}`,
      'the target reaches only paths under its base URL; ask an operator if this one is needed',
    );
  }
  const rel = next.pathname.slice(base.length) || '/';
  try {
    checkPath(rel);
  } catch (e) {
    throw blocked(
      name,
      status,
      show(rel),
      'a direct call could not use that path',
      'call a plain path under the target directly',
      { reason: (e as GatehouseError).code },
    );
  }
  const params = new URLSearchParams(next.search);
  if (target.spec.auth.kind === 'query') params.delete(target.spec.auth.name);
  const query = params.toString();
  const m = methodAfter(status, method);
  return {
    follow: true,
    url: next,
    hop: { status, method: m.method, path: query === '' ? rel : `${rel}?${query}`, resendsBody: m.resendsBody },
  };
}

/** Judges a hop; anything but `allow` (or no judge at all) is `redirect_blocked`, naming the location to call directly. */
export async function judgeOrThrow(
  judge: JudgeHop | undefined,
  hop: RedirectHop,
  name: string,
  show: (text: string) => string,
): Promise<void> {
  const shown = show(hop.path);
  const hint = `call ${hop.method} ${shown} on target "${name}" directly: it is judged (and, where needed, approved) like any request`;
  // INVARIANT: no hop is followed unjudged. A caller that asks to follow without a judge gets none followed.
  if (judge === undefined)
    throw blocked(name, hop.status, shown, 'redirects are followed only when each hop can be judged', hint);
  let verdict: HopVerdict;
  try {
    verdict = await judge(hop);
  } catch (e) {
    // A judge that fails decides nothing: refuse.
    throw blocked(name, hop.status, shown, 'it could not be judged', hint, {
      reason: e instanceof GatehouseError ? e.code : 'internal',
    });
  }
  if (verdict === 'allow') return;
  const code = verdict.refuse.code;
  const why =
    code === 'approval_required'
      ? `as a request of its own (${hop.method} ${shown}) it needs a person's approval`
      : `as a request of its own (${hop.method} ${shown}) it is refused (${code})`;
  throw blocked(name, hop.status, shown, why, hint, { reason: code, method: hop.method });
}
