export { AuditLog, type AuditEntry, type AuditPhase, type AuditRecord } from './log.js';
export {
  verifyAuditChain,
  searchAudit,
  auditHead,
  parseAuditAnchor,
  readAuditRecord,
  readAuditPayloads,
  requireAuditRecord,
  MAX_REPORTED_BREAKS,
  type VerifyResult,
  type AuditBreak,
  type AuditQuery,
  type AuditHead,
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
