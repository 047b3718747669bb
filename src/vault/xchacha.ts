import { createCipheriv, createDecipheriv } from 'node:crypto';

/**
 * XChaCha20-Poly1305 (IETF), byte for byte what libsodium's `crypto_aead_xchacha20poly1305_ietf_*`
 * produce, on Node's own (OpenSSL) ChaCha20-Poly1305.
 *
 * Why not libsodium here: loading and instantiating its WebAssembly was ~35 ms of every
 * `gatehouse` start (the store's internal keys are sealed, so nothing answers before one opens),
 * and `gatehouse mcp` is started by Claude Code at every session. libsodium stays for argon2id.
 *
 * The construction (draft-irtf-cfrg-xchacha-03): a subkey is HChaCha20(key, nonce[0..16]), then
 * RFC 8439 ChaCha20-Poly1305 runs under it with the nonce 0x00000000 || nonce[16..24]. Only the
 * subkey derivation is written here; the AEAD itself (keystream, Poly1305, tag check) is
 * OpenSSL's. test/vault/xchacha.test.ts holds the draft's vectors and a differential test against
 * libsodium in both directions.
 */

export const XCHACHA_KEY_BYTES = 32;
export const XCHACHA_NONCE_BYTES = 24;
export const XCHACHA_TAG_BYTES = 16;

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** HChaCha20: 20 ChaCha rounds over (constants, key, 16-byte input), words 0–3 and 12–15 out. */
export function hchacha20(key: Uint8Array, input16: Uint8Array): Buffer {
  if (key.length !== 32 || input16.length !== 16) throw new RangeError('hchacha20: key 32 bytes, input 16 bytes');
  const k = Buffer.from(key.buffer, key.byteOffset, key.length);
  const n = Buffer.from(input16.buffer, input16.byteOffset, input16.length);
  const x = new Uint32Array(16);
  x[0] = SIGMA[0];
  x[1] = SIGMA[1];
  x[2] = SIGMA[2];
  x[3] = SIGMA[3];
  for (let i = 0; i < 8; i++) x[4 + i] = k.readUInt32LE(i * 4);
  for (let i = 0; i < 4; i++) x[12 + i] = n.readUInt32LE(i * 4);
  const qr = (a: number, b: number, c: number, d: number): void => {
    x[a] = (x[a]! + x[b]!) | 0;
    x[d] = rotl(x[d]! ^ x[a]!, 16);
    x[c] = (x[c]! + x[d]!) | 0;
    x[b] = rotl(x[b]! ^ x[c]!, 12);
    x[a] = (x[a]! + x[b]!) | 0;
    x[d] = rotl(x[d]! ^ x[a]!, 8);
    x[c] = (x[c]! + x[d]!) | 0;
    x[b] = rotl(x[b]! ^ x[c]!, 7);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12);
    qr(1, 5, 9, 13);
    qr(2, 6, 10, 14);
    qr(3, 7, 11, 15);
    qr(0, 5, 10, 15);
    qr(1, 6, 11, 12);
    qr(2, 7, 8, 13);
    qr(3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(x[i]!, i * 4);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(x[12 + i]!, 16 + i * 4);
  x.fill(0);
  return out;
}

function subkeyAndNonce(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; iv: Buffer } {
  if (key.length !== XCHACHA_KEY_BYTES) throw new RangeError('xchacha20poly1305: key must be 32 bytes');
  if (nonce.length !== XCHACHA_NONCE_BYTES) throw new RangeError('xchacha20poly1305: nonce must be 24 bytes');
  const iv = Buffer.alloc(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey: hchacha20(key, nonce.subarray(0, 16)), iv };
}

/** Ciphertext followed by the 16-byte tag, as libsodium's `_encrypt` returns it. */
export function xchachaEncrypt(
  plaintext: Uint8Array,
  ad: string | Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): Buffer {
  const { subkey, iv } = subkeyAndNonce(key, nonce);
  try {
    const c = createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_BYTES });
    c.setAAD(typeof ad === 'string' ? Buffer.from(ad, 'utf8') : ad, { plaintextLength: plaintext.length });
    return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  } finally {
    subkey.fill(0);
  }
}

/**
 * Opens ciphertext||tag. INVARIANT: a wrong key, AD, nonce or any altered byte throws, and no
 * plaintext is returned: `final()` checks the tag before the decrypted bytes leave this function.
 */
export function xchachaDecrypt(
  sealed: Uint8Array,
  ad: string | Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): Buffer {
  if (sealed.length < XCHACHA_TAG_BYTES) throw new RangeError('xchacha20poly1305: ciphertext shorter than its tag');
  const { subkey, iv } = subkeyAndNonce(key, nonce);
  try {
    const d = createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_BYTES });
    const body = sealed.subarray(0, sealed.length - XCHACHA_TAG_BYTES);
    d.setAAD(typeof ad === 'string' ? Buffer.from(ad, 'utf8') : ad, { plaintextLength: body.length });
    d.setAuthTag(sealed.subarray(sealed.length - XCHACHA_TAG_BYTES));
    const out = d.update(body);
    try {
      d.final();
    } catch (e) {
      out.fill(0);
      throw e;
    }
    return out;
  } finally {
    subkey.fill(0);
  }
}
