import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Row signatures for what the gate trusts from the store without a person in the loop: token
 * grants, approval decisions, target configurations, vault bindings. A process that can write to
 * the database but does not hold the master key cannot produce them, so a row it inserts or edits
 * is refused instead of trusted.
 *
 * mac = HMAC-SHA256(key, JSON([kind, ...fields])) as hex. `kind` names the table and version
 * (`token/v1`), so a signature made for one kind of row never verifies as another. Strings are
 * made well-formed first (a lone surrogate would otherwise hash differently from what the store
 * returns), and numbers and null are hashed as JSON writes them.
 */
export type MacField = string | number | boolean | null;

export function rowMac(key: Buffer, kind: string, fields: readonly MacField[]): string {
  const canonical = JSON.stringify([kind, ...fields.map((f) => (typeof f === 'string' ? f.toWellFormed() : f))]);
  return createHmac('sha256', key).update(canonical, 'utf8').digest('hex');
}

/** Constant-time check of a stored signature; a missing or malformed one never verifies. */
export function rowMacValid(key: Buffer, kind: string, fields: readonly MacField[], mac: unknown): boolean {
  if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
  const want = Buffer.from(rowMac(key, kind, fields), 'hex');
  return timingSafeEqual(want, Buffer.from(mac, 'hex'));
}
