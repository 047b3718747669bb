/**
 * HTTP upstream executor: the engine behind the `api_request` tool and the `/gateway/:target/*`
 * route. It knows nothing of the vault or the store: the caller passes the opened credential, a
 * `fill` function for vault handles and the redaction hooks.
 */
export {
  parseAuthSpec,
  validateTargetSpec,
  type HttpAuth,
  type HttpTargetSpec,
  type ResolvedTarget,
} from './target-spec.js';
export { resolveTargetUrl, checkPath, checkQuery, pathWithQuery, type QueryInput } from './path-safety.js';
export { checkAddress, type AddressVerdict } from './address-policy.js';
export { resolveAllowedAddress, type LookupAddress, type LookupFunction } from './safe-connector.js';
export { UpstreamPool, type UpstreamPoolOptions } from './pool.js';
export type { UpstreamRequestOptions, UpstreamResponse } from './request.js';
export type { UpstreamProxyOptions, UpstreamProxyResult } from './proxy.js';
export { hopAsRequest, type HopVerdict, type JudgeHop, type RedirectHop } from './redirect.js';
export {
  parseContentCodings,
  responseCodings,
  MAX_CODINGS,
  type CodingList,
  type ContentCoding,
  type HeaderValue,
} from './content-coding.js';
export { jsonBodyText, jsonTextDepth, valueTooDeep, MAX_JSON_DEPTH } from './json-depth.js';
export { formatBody, type FormattedBody } from './format-body.js';
export { UPSTREAM_LIMITS } from './limits.js';
export { readTextualBody, readWhole } from './request-body.js';
export { decodeRequestForGuard } from './decode.js';
export { REDACTED, REDACTED_NAMES_HEADER, type HeaderInput } from './headers.js';
