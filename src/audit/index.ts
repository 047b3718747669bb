export { AuditLog, type AuditEntry, type AuditPhase, type AuditRecord } from './log.js';
export { verifyAuditChain, searchAudit, auditHead, parseAuditAnchor, type VerifyResult, type AuditQuery, type AuditHead } from './read.js';
