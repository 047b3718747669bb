import { randomBytes } from 'node:crypto';
import { base32Encode } from './totp.js';

/** Approval ids: `ap_` + 128 random bits in lowercase base32 (26 characters, easy to type). */
const APPROVAL_ID = /^ap_[a-z2-7]{26}$/;

export function newApprovalId(): string {
  return 'ap_' + base32Encode(randomBytes(16)).toLowerCase();
}

/** Shape check only; an id that fails it is answered exactly like an unknown one. */
export function isApprovalId(s: unknown): s is string {
  return typeof s === 'string' && APPROVAL_ID.test(s);
}

/** Approver names (also the otpauth label). */
export const APPROVER_NAME = /^[A-Za-z0-9_.@-]{1,100}$/;
