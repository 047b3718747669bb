/**
 * Approvals: a person decides, an agent cannot forge it. Pending approvals in the store (any
 * Gatehouse process can resolve them), single-use consumption bound to token + action digest +
 * expiry, sealed MRTR requestState, TOTP approvers, the admin HTTP API and the text a person
 * reads. Nothing here knows about MCP: the server maps these onto input-required results,
 * legacy elicitation and `approval_id` retries.
 */
export {
  createApprovalService,
  ApprovalService,
  DEFAULT_APPROVAL_TTL_MS,
  DEFAULT_APPROVAL_RETENTION_MS,
  DEFAULT_MAX_PENDING_PER_TOKEN,
  MAX_APPROVAL_RECORD_BYTES,
  type ApprovalPage,
  type PageOptions,
  approvalOperation,
  APPROVAL_BODY_PREVIEW,
  MAX_BOUND_KEYS,
  MAX_BOUND_VALUE_BYTES,
  type JudgedOperation,
  type ApprovalServiceOptions,
  type DecideOptions,
  type ListOptions,
} from './service.js';
export type {
  Approval,
  ApprovalBody,
  ApprovalEvent,
  ApprovalMode,
  ApprovalOperation,
  ApprovalRequest,
  ApprovalStatus,
  DecisionChannel,
  InternalKeySource,
} from './types.js';
export { type ConsumeFailure } from './approval-errors.js';
export {
  RequestStateCodec,
  MAX_REQUEST_STATE_CHARS,
  requestStateError,
  type RequestStatePayload,
  type RequestStateFailure,
} from './request-state.js';
export { ApproverRegistry, type ApproverInfo, type EnrolmentBy } from './approvers.js';
export { TOTP_MAX_FAILURES, TOTP_LOCK_WINDOW_MS, TOTP_BRAKE_BURST, TOTP_BRAKE_INTERVAL_MS } from './code-attempts.js';
export {
  hotp,
  totpCode,
  totpStep,
  matchTotp,
  otpauthUri,
  base32Encode,
  base32Decode,
  TOTP_DIGITS,
  TOTP_PERIOD_S,
  TOTP_WINDOW,
} from './totp.js';
export { describeForHuman, decideInstructions, visible } from './describe.js';
export { adminRoutes, type AdminRoute, type AdminRouteContext } from './admin-routes.js';
export { isApprovalId } from './ids.js';
