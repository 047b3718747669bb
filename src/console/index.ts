/**
 * The console (issue 17): server-rendered pages for the people who run Gatehouse, served by
 * `gatehouse serve` under /console/. This first step: login (one-time code or admin token),
 * cookie sessions, and the approvals inbox, every form working without JavaScript. The server
 * mounts `consoleRoutes` (src/server/routes/all.ts); the CLI makes login codes
 * (`gatehouse console`).
 */
export {
  consoleRoutes,
  type ConsoleOptions,
  type ConsolePorts,
  type ConsoleRoute,
  type ConsoleRouteContext,
} from './routes.js';
export {
  ConsoleSessions,
  LOGIN_CODE_TTL_MS,
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  type ConsoleSession,
  type LoginResult,
  type SessionPorts,
} from './sessions.js';
export { COOKIE_NAME, ownOrigin, sameOrigin, securityHeaders } from './http-checks.js';
export { html, raw, escapeHtml, Html, type HtmlValue } from './html.js';
