export { AuditLog, type AuditEntry, type AuditObserver, type AuditPhase, type AuditRecord } from './log.js';
export { builtWriterThread } from './thread-writer.js';
export {
  verifyAuditChain,
  searchAudit,
  scanAudit,
  MAX_AUDIT_SEARCH_TEXT,
  auditHead,
  parseAuditAnchor,
  formatAuditAnchor,
  readAuditRecord,
  readAuditPayloads,
  requireAuditRecord,
  MAX_REPORTED_BREAKS,
  type VerifyResult,
  type AuditBreak,
  type AuditQuery,
  type AuditHead,
  type AuditAnchor,
  type AnchorProblem,
  type ChainHead,
  type ChainSummary,
  type AuditPayloadValue,
} from './read.js';
export {
  INLINE_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  actionPayload,
  payloadParts,
  type AuditPayloadRef,
} from './payload.js';
export { canonicalText, REPLACEMENT } from './canonical.js';
export { CHAIN_LEASE_MS } from './chains.js';
export {
  auditPosition,
  auditSince,
  formatAuditCursor,
  parseAuditCursor,
  type AuditCursor,
  type AuditSince,
} from './follow.js';
export { AUDIT_FILTER_FIELDS, auditFiltersOf, auditQueryOf, type AuditFilters } from './filters.js';
export { buildReport, reportMarkdown, type Report, type ReportOptions } from './report.js';
export {
  readGuardedActions,
  type AuditedAction,
  type AuditedContext,
  type AuditedOperation,
  type GuardedActions,
} from './guarded-actions.js';
