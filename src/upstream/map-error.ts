/**
 * Maps whatever undici, zlib or the socket layer throws into a GatehouseError. Messages name the
 * target, never the URL (a query credential could be in it) nor any header value.
 */
import { GatehouseError, isGatehouseError } from '../core/index.js';

export function mapUpstreamError(e: unknown, targetName: string): GatehouseError {
  if (isGatehouseError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const name = (e as { name?: unknown } | null)?.name;
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new GatehouseError('timeout', `target "${targetName}" did not send response headers in time`, {
        hint: 'raise timeout_ms or check the upstream',
        details: { phase: 'headers' },
      });
    case 'UND_ERR_BODY_TIMEOUT':
      return new GatehouseError('timeout', `target "${targetName}" stalled while sending the body`, {
        hint: 'raise timeout_ms or check the upstream',
        details: { phase: 'body' },
      });
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new GatehouseError('timeout', `could not connect to target "${targetName}" in time`, {
        hint: 'check that the upstream is reachable',
        details: { phase: 'connect' },
      });
    case 'UND_ERR_ABORTED':
      return new GatehouseError('cancelled', 'the request was cancelled', { hint: 'the caller aborted the request' });
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return new GatehouseError('invalid_input', 'the request body length does not match Content-Length', {
        hint: 'send a body of the declared length',
      });
    case 'UND_ERR_INVALID_ARG':
      return new GatehouseError('invalid_input', 'the request has an invalid method, header or body', {
        hint: 'check header names and values',
      });
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_RESPONSE_STATUS_CODE':
    case 'HPE_INVALID_CONSTANT':
      return new GatehouseError('upstream_error', `target "${targetName}" failed: ${code}`, {
        hint: 'check that the upstream is up and speaks HTTP',
      });
    default:
      break;
  }
  if (name === 'AbortError')
    return new GatehouseError('cancelled', 'the request was cancelled', { hint: 'the caller aborted the request' });
  if (
    typeof code === 'string' &&
    (code.startsWith('Z_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__'))
  ) {
    return new GatehouseError('upstream_error', `target "${targetName}" sent a body that does not decompress`, {
      hint: 'check the upstream content-encoding',
    });
  }
  if (
    typeof code === 'string' &&
    (code.startsWith('HPE_') || code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('CERT'))
  ) {
    return new GatehouseError('upstream_error', `target "${targetName}" failed: ${code}`, {
      hint: 'check the upstream protocol and its TLS certificate',
    });
  }
  return new GatehouseError('upstream_error', `target "${targetName}" failed`, {
    hint: 'see the server log (stderr) for details',
    cause: e,
  });
}
