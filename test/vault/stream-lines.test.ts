import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/vault/index.js';

// A strong value (random-looking): an agent-facing redactor scrubs it.
const SECRET = 'tok-Q9vX2mK7pL4rT8wZ3nB6yH1cF5dJ0sG';

describe('streaming redaction releases complete lines at once', () => {
  it('an SSE event is passed on as soon as its line ends, not held for more bytes', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const s = r.createScrubber();
    expect(s.push('data: {"n":1}\n\n').toString()).toBe('data: {"n":1}\n\n');
    expect(s.push(`data: ${SECRET}\n\n`).toString()).toBe('data: [REDACTED]\n\n');
    expect(s.end().toString()).toBe('');
  });

  it('still catches a secret split across chunks within a line, at every offset', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const line = `event: x\ndata: before ${SECRET} after\n\n`;
    for (let i = 1; i < line.length; i++) {
      const s = r.createScrubber();
      const out = Buffer.concat([s.push(line.slice(0, i)), s.push(line.slice(i)), s.end()]).toString();
      expect(out, `split at ${i}`).toBe('event: x\ndata: before [REDACTED] after\n\n');
    }
  });

  it('holds a PEM block that has not ended yet, newlines or not', () => {
    const r = new Redactor({ audience: 'agent' });
    const s = r.createScrubber();
    const first = s.push('ok\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n').toString();
    expect(first).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    const rest = Buffer.concat([s.push('AAAA\n-----END OPENSSH PRIVATE KEY-----\n'), s.end()]).toString();
    expect(first + rest).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    expect(first + rest).toContain('[REDACTED PRIVATE KEY]');
  });

  it('with a secret that itself spans lines, nothing is released early', () => {
    const r = new Redactor({ audience: 'operator' });
    const multi = 'line-one-secret-part\nline-two-secret-part';
    r.add(multi);
    const s = r.createScrubber();
    const out = Buffer.concat([
      s.push('x line-one-secret-part\n'),
      s.push('line-two-secret-part y\n'),
      s.end(),
    ]).toString();
    expect(out).toBe('x [REDACTED] y\n');
  });
});

describe('streaming redaction across line breaks (wrapped forms)', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const wrap = (s: string, width: number) => s.replace(new RegExp(`(.{${width}})(?=.)`, 'g'), '$1\n');

  it('a line that ends in a character no secret form uses is released at once', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const s = r.createScrubber();
    expect(s.push('done (42)\n').toString()).toBe('done (42)\n');
    expect(s.push('{"ok":true}\n').toString()).toBe('{"ok":true}\n');
  });

  it('a line held because it may continue on the next is released once the next line shows it does not', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const s = r.createScrubber();
    const first = s.push('value 42\n').toString();
    const second = s.push('(next)\n').toString();
    expect(first + second).toBe('value 42\n(next)\n');
  });

  it('a base64 secret wrapped over lines, pushed line by line, never shows a prefix of a line of it', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    for (const width of [4, 8, 13, 64, 76]) {
      const encoded = b64(`${'-'.repeat(width)}${SECRET}--`);
      const lines = ('key:\n' + wrap(encoded, width) + '\nend\n').split(/(?<=\n)/);
      const s = r.createScrubber();
      let out = '';
      for (const line of lines) {
        out += s.push(line).toString();
        // Released text never holds more of the encoded secret than its edge characters.
        const mid = b64(SECRET).slice(4, 12);
        expect(out.replace(/\n/g, ''), `width ${width}`).not.toContain(mid.slice(0, 6));
      }
      out += s.end().toString();
      expect(out, `width ${width}`).toContain('[REDACTED]');
      expect(out.replace(/\n/g, '')).not.toContain(b64(SECRET).slice(4, 10));
    }
  });

  it('a raw secret broken over two lines is caught whichever chunk ends where', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const text = `x: ${SECRET.slice(0, 13)}\n   ${SECRET.slice(13)} y\n`;
    for (let i = 1; i < text.length; i++) {
      const s = r.createScrubber();
      const out = Buffer.concat([s.push(text.slice(0, i)), s.push(text.slice(i)), s.end()]).toString();
      expect(out, `split at ${i}`).toBe('x: [REDACTED] y\n');
    }
  });
});
