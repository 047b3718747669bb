import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../core/index.js';

/** What a sealed requestState carries. Nothing in it is secret; all of it is integrity-protected. */
export interface RequestStatePayload {
  tokenId: string;
  digest: string;
  /** Single-use id, redeemed in the store (`consumeStateNonce`). */
  approvalNonce: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The approval record this round belongs to, when there is one. */
  approvalId?: string;
}

/** The only reasons a requestState is refused; deliberately coarse (no oracle for an attacker). */
export type RequestStateFailure = 'malformed' | 'mac' | 'expired' | 'bind' | 'replayed';

const VERSION = 'gs1';
const DOMAIN = 'gatehouse:v1|request-state|';
/** Longest requestState accepted: anything longer is refused before any work is done. */
export const MAX_REQUEST_STATE_CHARS = 4096;
const FORMAT = /^gs1\.([A-Za-z0-9_-]{1,4000})\.([A-Za-z0-9_-]{43})$/;

const MESSAGES: Record<RequestStateFailure, string> = {
  malformed: 'the approval state sent back is not one this server issued',
  mac: 'the approval state sent back is not one this server issued',
  expired: 'the approval state has expired',
  bind: 'the approval state belongs to another action or token',
  replayed: 'the approval state was already used',
};

/** The refusal for a bad requestState: approval_invalid with a fixed message and `details.reason`. */
export function requestStateError(reason: RequestStateFailure): GatehouseError {
  return new GatehouseError('approval_invalid', MESSAGES[reason], {
    hint: 'call the tool again without requestState to ask for a new approval',
    details: { reason },
  });
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** Constant-time equality of two strings of any length (compares their SHA-256). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/**
 * HMAC-SHA-256 sealing of MRTR `requestState`. INVARIANT: requestState is attacker-controlled
 * input; it is accepted only if its MAC verifies under the server's `request-state` key, it is
 * bound to the same token and action digest, and it has not expired. Single use is enforced
 * separately in the store, because a MAC cannot tell a first use from a replay.
 */
export class RequestStateCodec {
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(key: Buffer, now: () => number = Date.now) {
    if (key.length < 32) throw new GatehouseError('key_invalid', 'the request-state key must be at least 32 bytes');
    this.#key = Buffer.from(key);
    this.#now = now;
  }

  seal(p: Omit<RequestStatePayload, 'approvalNonce'> & { approvalNonce?: string }): string {
    const payload: RequestStatePayload = {
      tokenId: p.tokenId,
      digest: p.digest,
      approvalNonce: p.approvalNonce ?? newNonce(),
      expiresAt: p.expiresAt,
      ...(p.approvalId ? { approvalId: p.approvalId } : {}),
    };
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return `${VERSION}.${body}.${this.#mac(body).toString('base64url')}`;
  }

  /** Verifies and returns the payload, or throws `approval_invalid` with one of the fixed reasons. */
  open(text: unknown, expect: { tokenId: string; digest: string }): RequestStatePayload {
    if (typeof text !== 'string' || text.length > MAX_REQUEST_STATE_CHARS) throw requestStateError('malformed');
    const [, body, mac] = FORMAT.exec(text) ?? [];
    if (body === undefined || mac === undefined) throw requestStateError('malformed');
    const given = Buffer.from(mac, 'base64url');
    // Only the canonical encoding is accepted: base64's spare low bits would otherwise let one
    // sealed state be spelled several ways (each a distinct string for the same MAC).
    if (given.toString('base64url') !== mac) throw requestStateError('malformed');
    const want = this.#mac(body);
    // Verify before parsing: untrusted JSON is never parsed.
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw requestStateError('mac');
    let p: RequestStatePayload;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as RequestStatePayload;
    } catch {
      throw requestStateError('malformed');
    }
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p.tokenId !== 'string' ||
      typeof p.digest !== 'string' ||
      typeof p.approvalNonce !== 'string' ||
      typeof p.expiresAt !== 'number' ||
      !Number.isFinite(p.expiresAt) ||
      (p.approvalId !== undefined && typeof p.approvalId !== 'string')
    ) {
      throw requestStateError('malformed');
    }
    if (p.expiresAt <= this.#now()) throw requestStateError('expired');
    // Both compared, without short-circuit, so timing does not say which one differed.
    const sameToken = safeEqual(p.tokenId, expect.tokenId);
    const sameDigest = safeEqual(p.digest, expect.digest);
    if (!(sameToken && sameDigest)) throw requestStateError('bind');
    return p;
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#key).update(DOMAIN).update(body).digest();
  }
}
