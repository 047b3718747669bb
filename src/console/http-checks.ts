import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** The session cookie's name. */
export const COOKIE_NAME = 'gh_console';

/** A fresh nonce for one response's CSP (128 random bits). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The headers every console response carries. INVARIANT: the CSP allows no inline script or style
 * but the ones this response carries the nonce of (no 'unsafe-inline', no 'unsafe-eval'), no
 * framing, no <base>, forms posting only to this origin; nothing is cached; no Referer leaves the console's origin.
 */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self'",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Not `no-referrer`: under it a browser sends `Origin: null` on the console's own form posts,
    // which the exact-Origin check must refuse. `same-origin` keeps the Referer inside the console
    // (no console URL, approval id or filter ever leaves in one) and the Origin header honest.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()',
  };
}

/** Whether the request came over TLS (then the cookie is `Secure`). Never read from a forwarded header. */
export function isHttps(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/** `NAME[:PORT]` or `[IPV6][:PORT]`. */
const HOST = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The console's own origin, when the request's Host is one the console answers to: `localhost`,
 * `127.0.0.1`, `[::1]` or a `*.localhost` name (always loopback) on the port the request arrived
 * at, or exactly the host of `publicOrigin` (console.public_origin). Anything else is null.
 *
 * INVARIANT (DNS rebinding): a page on another name that resolves to this machine sends its own
 * name as Host and is refused before the console reads a cookie or does anything else.
 */
export function ownOrigin(req: IncomingMessage, publicOrigin?: URL): string | null {
  const header = req.headers.host;
  if (typeof header !== 'string') return null;
  // Behind a proxy that terminates TLS (console.public_origin): the proxy passes the browser's
  // Host on, and the console's origin is the public one, whatever port the socket is on here.
  if (publicOrigin && header.toLowerCase() === publicOrigin.host) return publicOrigin.origin;
  const m = HOST.exec(header);
  if (!m) return null;
  const https = isHttps(req);
  const defaultPort = https ? 443 : 80;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port !== req.socket.localPort) return null;
  let name: string;
  if (m[1] !== undefined) {
    if (m[1] !== '::1') return null;
    name = '[::1]';
  } else {
    name = (m[2] ?? '').toLowerCase();
    const loopback =
      name === 'localhost' ||
      name === '127.0.0.1' ||
      (name.endsWith('.localhost') && name.split('.').every((l) => LABEL.test(l)));
    if (!loopback) return null;
  }
  return `${https ? 'https' : 'http'}://${name}${port === defaultPort ? '' : `:${port}`}`;
}

/**
 * Whether a state-changing request comes from a console page: its `Origin` is exactly this
 * origin (a missing Origin is refused: browsers send one on every POST), and `Sec-Fetch-Site`,
 * when the browser sends it, says same-origin. Another port on localhost is another origin.
 */
export function sameOrigin(req: IncomingMessage, own: string): boolean {
  if (req.headers.origin !== own) return false;
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin';
}

/** Every value of the console cookie the browser sent (there may be several: see ConsoleSessions.current). */
export function cookieValues(req: IncomingMessage): string[] {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === COOKIE_NAME) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** The Set-Cookie value for a new session: HttpOnly, SameSite=Strict, the console's path only. */
export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${COOKIE_NAME}=${value}; HttpOnly; SameSite=Strict; Path=/console; Max-Age=${Math.floor(maxAgeS)}${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that clears the session cookie (logout). */
export function clearedCookie(secure: boolean): string {
  return `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0${secure ? '; Secure' : ''}`;
}
