import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/vault/index.js';

const SECRET = 'tok-' + 'Q9'.repeat(20);

describe('streaming redaction releases complete lines at once', () => {
  it('an SSE event is passed on as soon as its line ends, not held for more bytes', () => {
    const r = new Redactor();
    r.add(SECRET);
    const s = r.createScrubber();
    expect(s.push('data: {"n":1}\n\n').toString()).toBe('data: {"n":1}\n\n');
    expect(s.push(`data: ${SECRET}\n\n`).toString()).toBe('data: [REDACTED]\n\n');
    expect(s.end().toString()).toBe('');
  });

  it('still catches a secret split across chunks within a line, at every offset', () => {
    const r = new Redactor();
    r.add(SECRET);
    const line = `event: x\ndata: before ${SECRET} after\n\n`;
    for (let i = 1; i < line.length; i++) {
      const s = r.createScrubber();
      const out = Buffer.concat([s.push(line.slice(0, i)), s.push(line.slice(i)), s.end()]).toString();
      expect(out, `split at ${i}`).toBe('event: x\ndata: before [REDACTED] after\n\n');
    }
  });

  it('holds a PEM block that has not ended yet, newlines or not', () => {
    const r = new Redactor();
    const s = r.createScrubber();
    const first = s.push('ok\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n').toString();
    expect(first).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    const rest = Buffer.concat([s.push('AAAA\n-----END OPENSSH PRIVATE KEY-----\n'), s.end()]).toString();
    expect(first + rest).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    expect(first + rest).toContain('[REDACTED PRIVATE KEY]');
  });

  it('with a secret that itself spans lines, nothing is released early', () => {
    const r = new Redactor();
    const multi = 'line-one-secret-part\nline-two-secret-part';
    r.add(multi);
    const s = r.createScrubber();
    const out = Buffer.concat([s.push('x line-one-secret-part\n'), s.push('line-two-secret-part y\n'), s.end()]).toString();
    expect(out).toBe('x [REDACTED] y\n');
  });
});
