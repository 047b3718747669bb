/**
 * Sealing moved from libsodium to Node's ChaCha20-Poly1305 with HChaCha20 written here, and the
 * key id from libsodium's generichash to blake2b.ts (a start no longer loads libsodium's
 * WebAssembly). Every store sealed before must still open and every key id must stay the same,
 * so both are held to libsodium itself (still a dependency, for argon2id) on random inputs, in
 * both directions, and to the published vectors.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { beforeAll, describe, expect, it } from 'vitest';
import { blake2b } from '../../src/vault/blake2b.js';
import { hchacha20, xchachaDecrypt, xchachaEncrypt } from '../../src/vault/xchacha.js';
import { open, seal } from '../../src/vault/seal.js';

beforeAll(async () => {
  await sodium.ready;
});

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HChaCha20 and XChaCha20-Poly1305', () => {
  it('matches the test vectors of draft-irtf-cfrg-xchacha-03', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(hchacha20(key, hex('000000090000004a0000000031415927')).toString('hex')).toBe(
      '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc',
    );
    // Section A.3.1: AEAD_XChaCha20_Poly1305.
    const plaintext = Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const k = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const iv = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const sealed = xchachaEncrypt(plaintext, aad, iv, k);
    expect(sealed.subarray(sealed.length - 16).toString('hex')).toBe('c0875924c1c7987947deafd8780acf49');
    expect(sealed.subarray(0, 16).toString('hex')).toBe('bd6d179d3e83d43b9576579493c0e939');
    expect(xchachaDecrypt(sealed, aad, iv, k).equals(plaintext)).toBe(true);
  });

  it('produces and opens exactly what libsodium does, on random keys, nonces, AD and lengths', () => {
    for (let i = 0; i < 500; i++) {
      const m = randomBytes(randomInt(0, 700));
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const ad = randomBytes(randomInt(0, 80)).toString('base64');
      const theirs = Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(m, ad, null, nonce, key));
      const ours = xchachaEncrypt(m, ad, nonce, key);
      expect(ours.equals(theirs)).toBe(true);
      expect(xchachaDecrypt(theirs, ad, nonce, key).equals(m)).toBe(true);
      expect(Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ours, ad, nonce, key)).equals(m)).toBe(
        true,
      );
    }
  });

  it('refuses a flipped bit anywhere, a wrong key, a wrong AD or a wrong nonce, with no output', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const m = Buffer.from('a sealed credential value');
    const sealed = xchachaEncrypt(m, 'ad', nonce, key);
    for (let byte = 0; byte < sealed.length; byte++) {
      const bad = Buffer.from(sealed);
      bad[byte]! ^= 1 << randomInt(0, 8);
      expect(() => xchachaDecrypt(bad, 'ad', nonce, key)).toThrow();
    }
    expect(() => xchachaDecrypt(sealed, 'ad', nonce, randomBytes(32))).toThrow();
    expect(() => xchachaDecrypt(sealed, 'other', nonce, key)).toThrow();
    expect(() => xchachaDecrypt(sealed, 'ad', randomBytes(24), key)).toThrow();
    expect(() => xchachaDecrypt(sealed.subarray(0, 15), 'ad', nonce, key)).toThrow();
    expect(() => xchachaEncrypt(m, 'ad', nonce.subarray(0, 23), key)).toThrow(RangeError);
    expect(() => xchachaEncrypt(m, 'ad', nonce, key.subarray(0, 31))).toThrow(RangeError);
  });

  it('seal/open keep their format: a value sealed by libsodium opens, and a moved row does not', async () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const byLibsodium = {
      ciphertext: Buffer.from(
        sodium.crypto_aead_xchacha20poly1305_ietf_encrypt('old secret', 'gatehouse:v1|x', null, nonce, key),
      ).toString('base64'),
      nonce: nonce.toString('base64'),
    };
    expect(Buffer.from(await open(byLibsodium, 'gatehouse:v1|x', key, 'x')).toString()).toBe('old secret');
    const s = await seal(Buffer.from('new secret'), 'gatehouse:v1|y', key);
    const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      Buffer.from(s.ciphertext, 'base64'),
      'gatehouse:v1|y',
      Buffer.from(s.nonce, 'base64'),
      key,
    );
    expect(Buffer.from(plain).toString()).toBe('new secret');
    await expect(open(s, 'gatehouse:v1|z', key, 'the moved row')).rejects.toMatchObject({ code: 'key_invalid' });
  });
});

describe('BLAKE2b', () => {
  it('matches RFC 7693 Appendix A and libsodium keyed, at every output length', () => {
    expect(blake2b(64, 'abc').toString('hex')).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
        '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
    for (let i = 0; i < 400; i++) {
      const m = randomBytes(randomInt(0, 400));
      const key = randomBytes(randomInt(0, 65));
      const n = randomInt(1, 65);
      const theirs = Buffer.from(sodium.crypto_generichash(n, m, key.length ? key : null));
      expect(blake2b(n, m, key).equals(theirs)).toBe(true);
    }
  });

  it('unkeyed 64-byte output equals Node’s blake2b512 across block boundaries', () => {
    for (const len of [0, 1, 127, 128, 129, 255, 256, 257, 1000]) {
      const m = randomBytes(len);
      expect(blake2b(64, m).equals(createHash('blake2b512').update(m).digest())).toBe(true);
    }
  });

  it('refuses lengths outside the algorithm', () => {
    expect(() => blake2b(0, 'x')).toThrow(RangeError);
    expect(() => blake2b(65, 'x')).toThrow(RangeError);
    expect(() => blake2b(8, 'x', randomBytes(65))).toThrow(RangeError);
  });
});
