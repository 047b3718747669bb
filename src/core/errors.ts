/**
 * Typed errors with stable codes. Every error Gatehouse raises on purpose is a GatehouseError:
 * `code` is stable (tests, scripts and agents match on it), `message` says what happened, and
 * `hint` says what to do about it. Messages never carry secret values: callers pass names of
 * things (a handle, a target), never their contents.
 */
export type ErrorCode =
  | 'usage'
  | 'config_invalid'
  | 'not_found'
  | 'conflict'
  | 'unauthenticated'
  | 'not_granted'
  | 'denied'
  | 'approval_required'
  | 'approval_invalid'
  | 'audit_unavailable'
  | 'store_unavailable'
  | 'key_invalid'
  | 'vault_handle_refused'
  | 'input_too_large'
  | 'invalid_input'
  | 'timeout'
  | 'limit_exceeded'
  | 'upstream_error'
  | 'ssrf_blocked'
  | 'host_key_mismatch'
  | 'sandbox_unavailable'
  | 'sandbox_limit'
  | 'guard_parse_error'
  | 'policy_invalid'
  | 'path_denied'
  | 'redirect_blocked'
  | 'request_too_large'
  | 'response_too_large'
  | 'ssh_error'
  | 'session_not_found'
  | 'cancelled'
  | 'integrity_failed'
  | 'internal';

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The shape agents and HTTP clients see. Never includes the cause (it may hold internals). */
  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: { ...this.details } } : {}),
    };
  }
}

export function isGatehouseError(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError;
}

/** Wraps anything thrown into a GatehouseError; unknown failures become `internal` without their text. */
export function toGatehouseError(e: unknown): GatehouseError {
  if (e instanceof GatehouseError) return e;
  return new GatehouseError('internal', 'internal error', { hint: 'see the server log (stderr) for details', cause: e });
}
