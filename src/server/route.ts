import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../core/index.js';
import type { Principal } from '../gate/index.js';

/**
 * Who may call a route, checked by the server before its handler runs:
 * - `token`: a valid Gatehouse bearer token (the handler authorizes tool and target grants through the gate);
 * - `admin`: a valid bearer token of an admin;
 * - `sender`: no Gatehouse token; the request is signed by its sender (an inbound webhook), and the
 *   handler verifies that signature before it acts. The context carries no principal.
 */
export type RouteAuth = 'token' | 'admin' | 'sender';

export interface RouteContext<A extends RouteAuth = RouteAuth> {
  /** The bearer token's principal; `null` on a `sender` route (there is no Gatehouse token). */
  principal: A extends 'sender' ? null : Principal;
  /**
   * Path parameters by name. `:name` parameters are percent-decoded (a malformed escape is a 400
   * `invalid_input`); the `*` rest is the raw remainder of the path, starting with `/`, exactly as
   * sent (the URL parser would resolve `..` and `%2e%2e` in it before a handler could refuse them).
   */
  params: Readonly<Record<string, string>>;
  /** The raw query string as sent, without `?` (empty when there is none). */
  rawQuery: string;
  url: URL;
  client: string;
  /** Aborted when the client goes away before the response is finished. */
  signal: AbortSignal;
}

/** A plain HTTP route (`/gateway/...`, `/ssh/...`, `/admin/...`, and webhooks later). */
export interface Route<A extends RouteAuth = RouteAuth> {
  /** An HTTP method, or `*` for any. */
  method: string;
  /**
   * The path pattern, matched segment by segment against the raw path: literal segments,
   * `:name` for one non-empty segment, and a final `*` for the rest (possibly empty). A single
   * trailing slash is ignored unless the pattern ends in `*`. E.g. `/gateway/:target/*`.
   */
  path: string;
  auth: A;
  /**
   * True when the route checks the request's Origin itself, more strictly than the server's
   * configured list (the console: exactly its own origin, after a Host allowlist, plus a CSRF
   * token). The server's global Origin check then leaves requests this route serves to it.
   */
  ownOrigin?: boolean;
  handler(req: IncomingMessage, res: ServerResponse, ctx: RouteContext<A>): Promise<void>;
  /**
   * Takes a WebSocket upgrade of a GET to this path (the console's live terminal). Only `sender`
   * routes may declare one: the route authenticates the upgrade itself (Host, Origin, session,
   * ticket), because the server's bearer-token kinds do not apply to a browser's WebSocket. Without
   * it, an upgrade request to the path is refused. `handler` still answers plain GETs.
   */
  upgrade?: A extends 'sender'
    ? (req: IncomingMessage, socket: Duplex, head: Buffer, ctx: RouteContext<A>) => Promise<void>
    : never;
}

/** Any route, whatever its auth kind (what the server's route list holds). */
export type AnyRoute = { [A in RouteAuth]: Route<A> }[RouteAuth];

/** Declares a route, keeping its auth kind in its type (so its handler sees the right principal). */
export function defineRoute<A extends RouteAuth>(route: Route<A>): Route<A> {
  return route;
}

/**
 * A path parameter the route's own pattern declares. The router fills every one it matched, so a
 * missing one is a bug in Gatehouse: refused as `internal`, never read as empty.
 */
export function routeParam(ctx: Pick<RouteContext, 'params'>, name: string): string {
  const v = ctx.params[name];
  if (v === undefined) {
    throw new GatehouseError('internal', `route parameter ${name} is missing`, {
      hint: 'this is a bug in Gatehouse; report it',
    });
  }
  return v;
}

/** A route matched against a request: its raw (still encoded) parameters. */
export interface RouteMatch {
  route: AnyRoute;
  raw: Record<string, string>;
}

type Segment = { literal: string } | { param: string } | { rest: true };

const COMPILED = new WeakMap<AnyRoute, Segment[]>();

function compile(route: AnyRoute): Segment[] {
  let segs = COMPILED.get(route);
  if (segs) return segs;
  if (!route.path.startsWith('/')) throw new GatehouseError('internal', `route path ${route.path} must start with /`);
  const parts = route.path.split('/').slice(1);
  segs = parts.map((p, i): Segment => {
    if (p === '*') {
      if (i !== parts.length - 1)
        throw new GatehouseError('internal', `route path ${route.path}: * must be the last segment`);
      return { rest: true };
    }
    if (p.startsWith(':')) return { param: p.slice(1) };
    return { literal: p };
  });
  COMPILED.set(route, segs);
  return segs;
}

/** Matches one route's pattern against a raw path (before `?`); the parameters stay encoded. */
export function matchPath(route: AnyRoute, rawPath: string): Record<string, string> | null {
  const segs = compile(route);
  const hasRest = segs.at(-1) !== undefined && 'rest' in segs.at(-1)!;
  let parts = rawPath.split('/').slice(1);
  if (!hasRest && parts.length > 1 && parts.at(-1) === '') parts = parts.slice(0, -1);
  const raw: Record<string, string> = {};
  for (const [i, s] of segs.entries()) {
    if ('rest' in s) {
      const rest = parts.slice(i).join('/');
      raw['*'] = `/${rest}`;
      return raw;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if ('literal' in s) {
      if (part !== s.literal) return null;
    } else {
      if (part === '') return null;
      raw[s.param] = part;
    }
  }
  return parts.length === segs.length ? raw : null;
}

/** The first route whose method and path match, or null. */
export function findRoute(routes: readonly AnyRoute[], method: string, rawPath: string): RouteMatch | null {
  for (const route of routes) {
    if (route.method !== '*' && route.method !== method) continue;
    const raw = matchPath(route, rawPath);
    if (raw) return { route, raw };
  }
  return null;
}

/**
 * Decodes the `:name` parameters of a match (the `*` rest stays raw). The one place route
 * parameters are decoded: a malformed escape (`%E0%A4%A`) is a 400 `invalid_input`, never an
 * untyped 500.
 */
export function decodeParams(raw: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw))
    out[name] = name === '*' ? value : pathParam(value, name === 'target' ? 'target name' : name);
  return out;
}

/** Decodes one percent-encoded path parameter; a malformed escape is 400 `invalid_input`. */
export function pathParam(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatehouseError('invalid_input', `the ${what} in the URL is not valid percent-encoding`, {
      hint: 'percent-encode it as UTF-8 bytes (e.g. %C3%A9), or use plain letters, digits, ".", "_" and "-"',
    });
  }
}
