import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RequestStateCodec } from '../../src/approvals/index.js';

const key = randomBytes(32);
const T = 'tok_a';
const D = 'a'.repeat(64);

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect((e as { code: string }).code).toBe('approval_invalid');
    return (e as { details?: { reason?: string } }).details?.reason;
  }
  throw new Error('expected a refusal');
}

describe('sealed requestState', () => {
  let now = 1_800_000_000_000;
  const codec = new RequestStateCodec(key, () => now);

  it('opens what it sealed, bound to token and digest', () => {
    const s = codec.seal({ tokenId: T, digest: D, expiresAt: now + 60_000, approvalId: 'ap_x' });
    const p = codec.open(s, { tokenId: T, digest: D });
    expect(p).toMatchObject({ tokenId: T, digest: D, expiresAt: now + 60_000, approvalId: 'ap_x' });
    expect(p.approvalNonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses every flipped byte (mac or malformed), never opens it', () => {
    const s = codec.seal({ tokenId: T, digest: D, expiresAt: now + 60_000 });
    for (let i = 0; i < s.length; i++) {
      const chars = s.split('');
      chars[i] = chars[i] === 'A' ? 'B' : 'A';
      const t = chars.join('');
      if (t === s) continue;
      expect(['mac', 'malformed']).toContain(reasonOf(() => codec.open(t, { tokenId: T, digest: D })));
    }
  });

  it('refuses a forged payload with a valid-looking shape, another key, junk and oversize input', () => {
    const s = codec.seal({ tokenId: T, digest: D, expiresAt: now + 60_000 });
    const [v, , mac] = s.split('.');
    const forged = Buffer.from(
      JSON.stringify({ tokenId: T, digest: D, approvalNonce: 'x', expiresAt: now + 1e9 }),
    ).toString('base64url');
    expect(reasonOf(() => codec.open(`${v}.${forged}.${mac}`, { tokenId: T, digest: D }))).toBe('mac');
    const other = new RequestStateCodec(randomBytes(32), () => now);
    expect(reasonOf(() => other.open(s, { tokenId: T, digest: D }))).toBe('mac');
    for (const junk of ['', 'gs1..', 'gs1.abc', s + '.x', 'x'.repeat(5000), 42, null, { s }]) {
      expect(reasonOf(() => codec.open(junk, { tokenId: T, digest: D }))).toBe('malformed');
    }
  });

  it('refuses after expiry, for another token and for another action digest', () => {
    const s = codec.seal({ tokenId: T, digest: D, expiresAt: now + 60_000 });
    expect(reasonOf(() => codec.open(s, { tokenId: 'tok_b', digest: D }))).toBe('bind');
    expect(reasonOf(() => codec.open(s, { tokenId: T, digest: 'b'.repeat(64) }))).toBe('bind');
    now += 60_000;
    expect(reasonOf(() => codec.open(s, { tokenId: T, digest: D }))).toBe('expired');
  });

  it('refuses keys shorter than 32 bytes', () => {
    expect(() => new RequestStateCodec(randomBytes(16))).toThrow(/32 bytes/);
  });
});
