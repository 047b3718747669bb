/**
 * The console (issue 17): server-rendered pages for the people who run Gatehouse, served by
 * `gatehouse serve` under /console/: login (one-time code or admin token), cookie sessions, the
 * live approvals inbox and the audit log (search, live tail, chain state, export), every form
 * working without JavaScript. The server
 * mounts `consoleRoutes` (src/server/routes/all.ts); the CLI makes login codes
 * (`gatehouse console`).
 */
export { consoleRoutes } from './routes.js';
export {
  checkPublicOrigin,
  type ConsoleOptions,
  type ConsolePorts,
  type ConsoleRoute,
  type ConsoleRouteContext,
} from './kit.js';
export {
  ConsoleSessions,
  LOGIN_CODE_TTL_MS,
  PASSKEY_SETUP_TTL_MS,
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  type ConsoleSession,
  type LoginResult,
  type SessionPorts,
} from './sessions.js';
export { COOKIE_NAME, ownOrigin, sameOrigin, securityHeaders } from './http-checks.js';
export { html, raw, escapeHtml, Html, type HtmlValue } from './html.js';
export {
  Passkeys,
  CHALLENGE_TTL_MS,
  MAX_PASSKEYS,
  relyingParty,
  type PasskeyInfo,
  type PasskeyPurpose,
  type RelyingParty,
} from './passkeys.js';
export type { SessionControl, SessionControlPorts, SessionView } from './session-routes.js';
