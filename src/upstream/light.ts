/**
 * The upstream module's second public face: everything of it that loads no HTTP client. Tools
 * and the MCP server import from here, so `gatehouse mcp` starts without loading undici (its
 * connection pools are created on the first request: `UpstreamPool` lives behind ./index.ts).
 *
 * A declared face like the MCP SDK's `./stdio` subpath: other modules import either this file or
 * ./index.ts, never another file of src/upstream (test/structure/imports.test.ts checks both, and
 * that the built tools do not load undici).
 *
 * Nothing exported here may import undici, ./pool.ts, ./request.ts, ./proxy.ts or
 * ./safe-connector.ts, even indirectly.
 */
export { checkPath, checkQuery, pathWithQuery, type QueryInput } from './path-safety.js';
export { hopAsRequest, type HopVerdict, type JudgeHop, type RedirectHop } from './redirect.js';
export { jsonBodyText, jsonTextDepth, valueTooDeep, tooDeep, MAX_JSON_DEPTH } from './json-depth.js';
export { formatBody, type FormattedBody } from './format-body.js';
export { UPSTREAM_LIMITS } from './limits.js';
export { readTextualBody, readWhole } from './request-body.js';
export { parseContentCodings, type CodingList, type HeaderValue } from './content-coding.js';
export { decodeRequestForGuard } from './decode.js';
export type { HttpTargetSpec } from './target-spec.js';
export { connectionHeaderNames } from './headers.js';
