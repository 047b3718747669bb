/**
 * HTTP upstream executor: the engine behind the `api_request` tool and the `/gateway/:target/*`
 * route. It knows nothing of the vault or the store: the caller passes the opened credential, a
 * `fill` function for vault handles and the redaction hooks.
 */
export { parseAuthSpec, validateTargetSpec, type HttpAuth, type HttpTargetSpec, type ResolvedTarget } from './target-spec.js';
export { resolveTargetUrl, checkPath, pathWithQuery, type QueryInput } from './path-safety.js';
export { checkAddress, type AddressVerdict } from './address-policy.js';
export { resolveAllowedAddress, type LookupAddress, type LookupFunction } from './safe-connector.js';
export { UpstreamPool, type UpstreamPoolOptions } from './pool.js';
export type { UpstreamRequestOptions, UpstreamResponse } from './request.js';
export { httpStatusFor, type ResponseScrubber, type UpstreamProxyOptions, type UpstreamProxyResult } from './proxy.js';
export { formatBody, type FormattedBody } from './format-body.js';
export { UPSTREAM_LIMITS } from './limits.js';
export { readTextualBody, readWhole, MULTIPART } from './request-body.js';
export { decodeRequestForGuard } from './decode.js';
export { REDACTED, type HeaderInput } from './headers.js';
