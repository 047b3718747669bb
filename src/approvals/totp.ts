import { createHmac, timingSafeEqual } from 'node:crypto';

/** RFC 6238 parameters Gatehouse uses (what every authenticator app defaults to). */
export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of now (clock drift between the server and the phone). */
export const TOTP_WINDOW = 1;

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (the otpauth `secret` format). */
export function base32Encode(buf: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 (case-insensitive, `=` padding and spaces ignored); throws on other characters. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new Error('invalid base32');
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP with HMAC-SHA-1 and dynamic truncation. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  // readUInt8/readUInt32BE throw on an offset outside the MAC (a SHA-1 MAC has 20 bytes, off + 3 <= 18).
  const off = mac.readUInt8(mac.length - 1) & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/** The RFC 6238 time step for a moment (ms since the epoch). */
export function totpStep(timeMs: number, periodS = TOTP_PERIOD_S): number {
  return Math.floor(timeMs / 1000 / periodS);
}

/** RFC 6238 TOTP (SHA-1) for a moment. */
export function totpCode(secret: Uint8Array, timeMs: number, digits = TOTP_DIGITS): string {
  return hotp(secret, totpStep(timeMs), digits);
}

/**
 * The time step `code` is valid for within ±TOTP_WINDOW of now, or null. Every candidate is
 * compared (constant-time, no early exit) so timing does not tell which step was close.
 */
export function matchTotp(secret: Uint8Array, code: string, timeMs: number): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const given = Buffer.from(code);
  const now = totpStep(timeMs);
  let found: number | null = null;
  for (let d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
    const step = now + d;
    if (step < 0) continue;
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), given) && found === null) found = step;
  }
  return found;
}

/** The enrolment URI authenticator apps scan (Key URI Format). Contains the seed: show it once. */
export function otpauthUri(name: string, secret: Uint8Array, issuer = 'Gatehouse'): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(name)}`;
  const q = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_S),
  });
  return `otpauth://totp/${label}?${q.toString()}`;
}
