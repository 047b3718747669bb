import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { XCHACHA_KEY_BYTES, XCHACHA_NONCE_BYTES, xchachaDecrypt, xchachaEncrypt } from './xchacha.js';

/**
 * XChaCha20-Poly1305 (IETF) sealing with associated data (xchacha.ts: the same bytes libsodium
 * produces, on Node's own ChaCha20-Poly1305). A 24-byte random nonce per seal, so
 * random nonces never collide in practice. The AD is not stored: the caller rebuilds it from the
 * row's identity (vault id, item id, field name), so a ciphertext copied to another row fails its
 * tag check instead of decrypting there.
 */
export interface Sealed {
  /** base64 (standard, padded) ciphertext including the 16-byte tag */
  ciphertext: string;
  /** base64 24-byte nonce */
  nonce: string;
}

export const KEY_BYTES = XCHACHA_KEY_BYTES;

export async function seal(plaintext: Uint8Array, ad: string, key: Uint8Array): Promise<Sealed> {
  if (key.length !== KEY_BYTES) throw new GatehouseError('internal', 'seal: bad key length');
  const nonce = randomBytes(XCHACHA_NONCE_BYTES);
  const ct = xchachaEncrypt(plaintext, ad, nonce, key);
  return { ciphertext: ct.toString('base64'), nonce: nonce.toString('base64') };
}

/**
 * Opens a sealed value. INVARIANT: any mismatch (wrong key, tampered bytes, wrong AD = a moved
 * row) throws; there is no partial output. The thrown error names `what`, never any content.
 */
export async function open(sealed: Sealed, ad: string, key: Uint8Array, what: string): Promise<Uint8Array> {
  try {
    const nonce = Buffer.from(sealed.nonce, 'base64');
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    if (nonce.length !== XCHACHA_NONCE_BYTES) throw new Error('bad nonce');
    return xchachaDecrypt(ct, ad, nonce, key);
  } catch {
    throw new GatehouseError('key_invalid', `cannot open ${what}: wrong key, or the sealed row was altered or moved`, {
      hint: 'check that the master key matches this store; a row copied between items never opens (by design)',
    });
  }
}

/** Associated data strings. Versioned so a future format cannot be confused with this one. */
export const AD = {
  check: (): string => 'gatehouse:v1|master-check',
  dataKey: (vaultId: string): string => `gatehouse:v1|vault-key|${vaultId}`,
  internalKey: (purpose: string): string => `gatehouse:v1|internal-key|${purpose}`,
  field: (vaultId: string, itemId: string, field: string): string => `gatehouse:v1|field|${vaultId}|${itemId}|${field}`,
} as const;
