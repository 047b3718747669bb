import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  hotp,
  matchTotp,
  otpauthUri,
  totpCode,
  totpStep,
} from '../../src/approvals/index.js';

// RFC 6238 appendix B, SHA-1 rows (seed = ASCII "12345678901234567890", 8 digits).
const RFC_SEED = Buffer.from('12345678901234567890', 'ascii');
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP (RFC 6238 / RFC 4226)', () => {
  it('matches the RFC 6238 SHA-1 test vectors (8 and 6 digits)', () => {
    for (const [t, code] of RFC_VECTORS) {
      expect(totpCode(RFC_SEED, t * 1000, 8)).toBe(code);
      expect(totpCode(RFC_SEED, t * 1000)).toBe(code.slice(2));
    }
  });

  it('matches the RFC 4226 HOTP vectors', () => {
    const want = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    want.forEach((c, i) => expect(hotp(RFC_SEED, i)).toBe(c));
  });

  it('accepts ±1 step, nothing further, and only 6 digits', () => {
    const t = 1_700_000_000_000;
    const step = totpStep(t);
    expect(matchTotp(RFC_SEED, hotp(RFC_SEED, step), t)).toBe(step);
    expect(matchTotp(RFC_SEED, hotp(RFC_SEED, step - 1), t)).toBe(step - 1);
    expect(matchTotp(RFC_SEED, hotp(RFC_SEED, step + 1), t)).toBe(step + 1);
    expect(matchTotp(RFC_SEED, hotp(RFC_SEED, step + 2), t)).toBeNull();
    expect(matchTotp(RFC_SEED, hotp(RFC_SEED, step - 2), t)).toBeNull();
    expect(matchTotp(RFC_SEED, '12345', t)).toBeNull();
    expect(matchTotp(RFC_SEED, ' 123456', t)).toBeNull();
    expect(matchTotp(RFC_SEED, '１２３４５６', t)).toBeNull();
  });

  it('base32 round-trips (RFC 4648 vectors) and the otpauth URI carries the seed', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Encode(Buffer.from('f'))).toBe('MY');
    expect(base32Decode('MZXW6YTBOI======').toString()).toBe('foobar');
    expect(base32Encode(RFC_SEED)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(() => base32Decode('MZ1W')).toThrow();
    const uri = new URL(otpauthUri('alice@ops', RFC_SEED));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Gatehouse:alice@ops');
    expect(uri.searchParams.get('secret')).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
  });
});
