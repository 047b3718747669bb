/**
 * Typed errors with stable codes. Every error Gatehouse raises on purpose is a GatehouseError:
 * `code` is stable (tests, scripts and agents match on it), `message` says what happened, and
 * `hint` says what to do about it. Messages never carry secret values: callers pass names of
 * things (a handle, a target), never their contents.
 *
 * The codes and their HTTP statuses live in one table (HTTP_STATUS below): the compiler refuses a
 * new code until it has a status, so no route answers an unmapped code with a bare 500.
 */
export type ErrorCode =
  /** A CLI command or its flags were used wrongly. */
  | 'usage'
  /** Gatehouse's own configuration (a target, the config file, a credential) is missing or wrong; an operator fixes it. */
  | 'config_invalid'
  /** The named thing (target, token, approval, vault item) does not exist. */
  | 'not_found'
  /** The change collides with the current state (a name already taken, a record changed meanwhile). */
  | 'conflict'
  /** No token, or an unknown, expired or revoked one (one answer for all of them). */
  | 'unauthenticated'
  /** The token is valid but holds no grant for this tool, target or vault. */
  | 'not_granted'
  /** The guard or a policy refused the action; no approval lifts it. */
  | 'denied'
  /** A person must approve the action first; the details say how (an approval id to retry with). */
  | 'approval_required'
  /** An approval id or code was given that does not fit this exact action (wrong, expired, used). */
  | 'approval_invalid'
  /** The audit log cannot be written, so nothing runs. */
  | 'audit_unavailable'
  /** The store (SQLite or PostgreSQL) cannot be reached or used. */
  | 'store_unavailable'
  /** A key (master key, SSH key, chain key) is missing, malformed or does not open what it should. */
  | 'key_invalid'
  /** A vault handle was used where its secret is not bound (another destination, an ungranted vault). */
  | 'vault_handle_refused'
  /** A request to Gatehouse itself (an MCP message, a JSON body) is over its size limit. */
  | 'input_too_large'
  /** The caller's input is malformed: bad encoding, bad shape, too deep, a value out of range. */
  | 'invalid_input'
  /** A time limit ran out (connect, headers, body silence, the whole exchange). */
  | 'timeout'
  /** A rate or concurrency limit was reached; retry later (details.retryAfterMs when known). */
  | 'limit_exceeded'
  /** An upstream HTTP server failed, or answered with something Gatehouse will not pass on. */
  | 'upstream_error'
  /** The target resolves to an address it may not reach (private, loopback, metadata). */
  | 'ssrf_blocked'
  /** An SSH server presented a host key other than the pinned one. */
  | 'host_key_mismatch'
  /** The local sandbox (bubblewrap and its helpers) cannot run here. */
  | 'sandbox_unavailable'
  /** A sandboxed command hit one of its limits (memory, processes, output). */
  | 'sandbox_limit'
  /** The guard could not parse what it was asked to judge. */
  | 'guard_parse_error'
  /** A policy file is malformed; an operator fixes it. */
  | 'policy_invalid'
  /** An HTTP path would leave the target (traversal, absolute URL, encoded separators). */
  | 'path_denied'
  /** An upstream redirect was not followed: another origin, outside the base path, too many, or not allowed as a new request. */
  | 'redirect_blocked'
  /** The body sent to an upstream is over its limit. */
  | 'request_too_large'
  /** An upstream answer is over the streaming limit; the stream was cut. */
  | 'response_too_large'
  /** An SSH connection or command failed on the remote side. */
  | 'ssh_error'
  /** The interactive SSH session does not exist for this token, or is closed. */
  | 'session_not_found'
  /** A person holds the interactive SSH session's terminal (the console's Take over); wait until they hand it back. */
  | 'human_control'
  /** The caller went away or aborted the request. */
  | 'cancelled'
  /** A stored record fails its integrity check (written or changed without the master key). */
  | 'integrity_failed'
  /** Text to be stored (memory, a skill, a wiki page) holds a secret; store it in the vault and write a `{{vault:…}}` handle instead. */
  | 'secret_detected'
  /** A fault inside Gatehouse; the server log has the details. */
  | 'internal';

/**
 * The HTTP status every plain route answers each code with (`sendError` in server/http.ts).
 * `satisfies` makes the compiler demand an entry for every ErrorCode.
 *
 * `approval_required` is 403, not 202 or 409: nothing was done and this request, as sent, is not
 * allowed yet. A 2xx would let an HTTP client treat it as success, and 409 means a conflict with
 * the resource's state, which the upstream resource is not in. The body carries the approval id to
 * retry with (the `X-Gatehouse-Approval-Id` header) once a person has decided.
 */
export const HTTP_STATUS = {
  usage: 400,
  config_invalid: 500,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  not_granted: 403,
  denied: 403,
  approval_required: 403,
  approval_invalid: 403,
  audit_unavailable: 503,
  store_unavailable: 503,
  key_invalid: 500,
  vault_handle_refused: 403,
  input_too_large: 413,
  invalid_input: 400,
  timeout: 504,
  limit_exceeded: 429,
  upstream_error: 502,
  ssrf_blocked: 403,
  host_key_mismatch: 502,
  sandbox_unavailable: 503,
  sandbox_limit: 500,
  guard_parse_error: 400,
  policy_invalid: 500,
  path_denied: 400,
  redirect_blocked: 403,
  request_too_large: 413,
  response_too_large: 502,
  ssh_error: 502,
  session_not_found: 404,
  // Locked: the session exists and is the caller's, but a person holds it for now.
  human_control: 423,
  // Nginx's "client closed request": the client is gone, so it is for logs more than for anyone.
  cancelled: 499,
  integrity_failed: 500,
  secret_detected: 422,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

/** Whether `code` is one of Gatehouse's error codes (for errors that crossed a process boundary). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(HTTP_STATUS, code);
}

/** The HTTP status for a code (500 for anything that is not a known code, which the types rule out). */
export function httpStatusOf(code: ErrorCode): number {
  return (HTTP_STATUS as Record<string, number>)[code] ?? 500;
}

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
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
  return new GatehouseError('internal', 'internal error', {
    hint: 'see the server log (stderr) for details',
    cause: e,
  });
}
