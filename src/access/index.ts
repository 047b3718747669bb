/**
 * Access requests (issue 17 item 9): an agent asks for an SSH host or HTTP API it cannot reach
 * yet (`request_access`); a person approves in the console or with `gatehouse requests`, typing
 * the credential (sealed in the vault, never shown to the agent), pinning the host key, and
 * granting the new target to the token, for a time if asked.
 */
export {
  AccessRequests,
  ACCESS_REQUEST_TTL_MS,
  MAX_PENDING_PER_TOKEN,
  checkAsk,
  checkTargetName,
  type AccessAsk,
  type AccessKind,
  type AccessRequest,
  type AccessStatus,
} from './requests.js';
export { ACCESS_VAULT, approveAccess, type AccessApproval, type ApproveAccessPorts } from './approve.js';
