export {
  Gate,
  actionDigest,
  type ActionGuard,
  type ApprovalAsk,
  type ApprovalContext,
  type Approver,
  type AuditFields,
  type GateDeps,
  type ExecutionContext,
  type GateOptions,
} from './gate.js';
export type { Action, CommandOperation, FixedVerdict, HttpOperation } from './action.js';
export {
  TokenService,
  unauthenticated,
  TOKEN_PREFIX,
  TOKEN_CACHE_MS,
  type TokenInfo,
  type AddedGrant,
  type TokenServiceOptions,
  type Principal,
  type CreateTokenOptions,
} from './tokens.js';
export {
  parseGrant,
  formatGrant,
  isGranted,
  grantedNames,
  wikiAllows,
  wikiNamespaces,
  type Grant,
  type GrantKind,
  type WikiRight,
} from './grants.js';
export { parseDuration } from '../core/index.js';
export { RateLimiter, type RateLimitOptions } from './rate-limit.js';
export { ClientRegistry, describeClient, type ClientIdentity, type SeenClient } from './clients.js';
export {
  EnrollmentCodes,
  ENROLLMENT_TTL_MS,
  parseTokenSpec,
  type EnrollmentSpec,
  type EnrollmentTokens,
} from './enrollment.js';
