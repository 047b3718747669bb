export { AuditLog, type AuditEntry, type AuditPhase, type AuditRecord } from './log.js';
export { verifyAuditChain, searchAudit, type VerifyResult, type AuditQuery } from './read.js';
