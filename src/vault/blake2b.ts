/**
 * BLAKE2b (RFC 7693) with a key and any output length from 1 to 64 bytes: what libsodium's
 * `crypto_generichash(outlen, message, key)` computes. Node's `blake2b512` is unkeyed and fixed at
 * 64 bytes, and both parameters are part of BLAKE2b's parameter block, so it cannot stand in.
 *
 * Used only for the master key's public fingerprint (key id), which every start computes; it
 * replaced libsodium there so a start need not load its WebAssembly (see xchacha.ts). Not a
 * hot path: written for clarity with 64-bit words as (low, high) pairs of 32-bit numbers.
 * test/vault/xchacha.test.ts checks it against libsodium (keyed, every length) and against
 * Node's blake2b512 (unkeyed).
 */

const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a, 0xade682d1,
  0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

const BLOCK = 128;

/** v[i] += v[j] + m (64-bit, as pairs). */
function add3(v: Uint32Array, i: number, j: number, mLo: number, mHi: number): void {
  let lo = v[2 * i]! + v[2 * j]!;
  let hi = v[2 * i + 1]! + v[2 * j + 1]! + (lo >= 0x100000000 ? 1 : 0);
  lo >>>= 0;
  const lo2 = lo + mLo;
  hi = (hi + mHi + (lo2 >= 0x100000000 ? 1 : 0)) >>> 0;
  v[2 * i] = lo2 >>> 0;
  v[2 * i + 1] = hi;
}

/** v[i] += v[j] (64-bit). */
function add2(v: Uint32Array, i: number, j: number): void {
  const lo = v[2 * i]! + v[2 * j]!;
  v[2 * i + 1] = (v[2 * i + 1]! + v[2 * j + 1]! + (lo >= 0x100000000 ? 1 : 0)) >>> 0;
  v[2 * i] = lo >>> 0;
}

/** v[d] = rotr64(v[d] ^ v[a], n) for n in 32, 24, 16, 63. */
function xorRotr(v: Uint32Array, d: number, a: number, n: 32 | 24 | 16 | 63): void {
  const lo = v[2 * d]! ^ v[2 * a]!;
  const hi = v[2 * d + 1]! ^ v[2 * a + 1]!;
  let nlo: number;
  let nhi: number;
  if (n === 32) {
    nlo = hi;
    nhi = lo;
  } else if (n === 63) {
    // rotr 63 = rotl 1
    nlo = (lo << 1) | (hi >>> 31);
    nhi = (hi << 1) | (lo >>> 31);
  } else {
    nlo = (lo >>> n) | (hi << (32 - n));
    nhi = (hi >>> n) | (lo << (32 - n));
  }
  v[2 * d] = nlo >>> 0;
  v[2 * d + 1] = nhi >>> 0;
}

function compress(h: Uint32Array, block: Uint8Array, t: number, last: boolean): void {
  const m = new Uint32Array(32);
  for (let i = 0; i < 32; i++)
    m[i] = (block[4 * i]! | (block[4 * i + 1]! << 8) | (block[4 * i + 2]! << 16) | (block[4 * i + 3]! << 24)) >>> 0;
  const v = new Uint32Array(32);
  v.set(h, 0);
  v.set(IV, 16);
  // The byte counter's low 64 bits (inputs here are far below 2^53 bytes).
  v[24] = (v[24]! ^ t) >>> 0;
  v[25] = (v[25]! ^ Math.floor(t / 0x100000000)) >>> 0;
  if (last) {
    v[28] = ~v[28]! >>> 0;
    v[29] = ~v[29]! >>> 0;
  }
  const g = (a: number, b: number, c: number, d: number, x: number, y: number): void => {
    add3(v, a, b, m[2 * x]!, m[2 * x + 1]!);
    xorRotr(v, d, a, 32);
    add2(v, c, d);
    xorRotr(v, b, c, 24);
    add3(v, a, b, m[2 * y]!, m[2 * y + 1]!);
    xorRotr(v, d, a, 16);
    add2(v, c, d);
    xorRotr(v, b, c, 63);
  };
  for (const s of SIGMA) {
    g(0, 4, 8, 12, s[0]!, s[1]!);
    g(1, 5, 9, 13, s[2]!, s[3]!);
    g(2, 6, 10, 14, s[4]!, s[5]!);
    g(3, 7, 11, 15, s[6]!, s[7]!);
    g(0, 5, 10, 15, s[8]!, s[9]!);
    g(1, 6, 11, 12, s[10]!, s[11]!);
    g(2, 7, 8, 13, s[12]!, s[13]!);
    g(3, 4, 9, 14, s[14]!, s[15]!);
  }
  for (let i = 0; i < 16; i++) h[i] = (h[i]! ^ v[i]! ^ v[i + 16]!) >>> 0;
  v.fill(0);
  m.fill(0);
}

/** BLAKE2b-`outlen` of `message` under `key` (0–64 bytes). */
export function blake2b(outlen: number, message: Uint8Array | string, key: Uint8Array = new Uint8Array(0)): Buffer {
  if (!Number.isInteger(outlen) || outlen < 1 || outlen > 64) throw new RangeError('blake2b: outlen must be 1..64');
  if (key.length > 64) throw new RangeError('blake2b: key must be at most 64 bytes');
  const msg = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const h = new Uint32Array(IV);
  h[0] = (h[0]! ^ 0x01010000 ^ (key.length << 8) ^ outlen) >>> 0;
  // A key is hashed as a first block of its own, zero-padded.
  const input = new Uint8Array((key.length ? BLOCK : 0) + msg.length);
  input.set(key, 0);
  input.set(msg, key.length ? BLOCK : 0);
  let t = 0;
  let off = 0;
  const block = new Uint8Array(BLOCK);
  while (input.length - off > BLOCK) {
    t += BLOCK;
    compress(h, input.subarray(off, off + BLOCK), t, false);
    off += BLOCK;
  }
  block.set(input.subarray(off));
  t += input.length - off;
  compress(h, block, t, true);
  input.fill(0);
  block.fill(0);
  const out = Buffer.alloc(64);
  for (let i = 0; i < 16; i++) out.writeUInt32LE(h[i]!, 4 * i);
  h.fill(0);
  return Buffer.from(out.subarray(0, outlen));
}
