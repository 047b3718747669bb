/**
 * The server: the runtime one Gatehouse process holds, the MCP server over stdio and Streamable
 * HTTP, the plain HTTP routes, and the implementation of the tools' ports. This file is the
 * module's complete public surface; other modules (the CLI) import only from here.
 */
export { bootRuntime } from './boot.js';
export { Runtime, SECRET_CACHE_MS, SESSION_SWEEP_MS, type RuntimeOptions, type TargetSummary } from './runtime.js';
export { loadConfig, defaultConfig, type GatehouseConfig } from './config.js';
export { serveMcpStdio } from './stdio.js';
export { buildMcpServer, errorResult, SERVER_INFO, type McpDoor } from './mcp.js';
export { createApprover, ElicitationRequired, APPROVAL_INPUT_KEY, type McpApprovalContext } from './approver.js';
export {
  startHttpServer,
  sendJson,
  sendError,
  readJsonBody,
  scrubbedErrors,
  MAX_MCP_BODY_BYTES,
  MAX_JSON_BODY_BYTES,
  type HttpServerOptions,
  type ReadJsonOptions,
} from './http.js';
export {
  defineRoute,
  findRoute,
  matchPath,
  pathParam,
  type AnyRoute,
  type Route,
  type RouteAuth,
  type RouteContext,
} from './route.js';
export { plainRoutes } from './routes/load.js';
export { GatehouseMetrics, metricsRoute } from './metrics.js';
export { gatewayRoute, APPROVAL_ID_HEADER } from './routes/gateway.js';
export { sshExecRoute } from './routes/ssh.js';
export { webhookRoutes } from './routes/webhooks.js';
export { adminHttpRoutes } from './routes/admin.js';
export { toolPorts } from './tool-ports.js';
