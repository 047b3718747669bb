/**
 * Issue 13 item 5 and issue 21 item 6: a bounded channel scrubs first and cuts the SCRUBBED
 * output; when its source was cut, the scrubber's held-back tail is dropped, never flushed; a
 * session buffer holds scrubbed text only, so any slice of it is safe.
 */
import { describe, expect, it } from 'vitest';
import { Redactor, ScrubCap, scrubThenCap, scrubThenCapText } from '../../src/vault/index.js';

const SECRET = 'tok_7Qm2ZpX9vK4rW8sN3bL6yT1hD5gF0cJ';
const b = (s: string) => Buffer.from(s, 'utf8');

/** The forms a body may carry the secret in, each with the 4-character prefix that must never show. */
function forms(s: string): Array<[string, string]> {
  const bytes = b(s);
  return [
    ['raw', s],
    ['\\u-escaped', [...s].map((c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')).join('')],
    ['percent', [...bytes].map((x) => '%' + x.toString(16).toUpperCase().padStart(2, '0')).join('')],
    ['hex', bytes.toString('hex')],
    ['base64', bytes.toString('base64')],
  ];
}

function redactor(): Redactor {
  const r = new Redactor({ audience: 'agent' });
  r.add(SECRET);
  return r;
}

/** No 4-character (or longer) prefix of the form in the output. */
function prefixLeak(out: string, form: string): string | undefined {
  for (let n = form.length; n >= 4; n--) if (out.includes(form.slice(0, n))) return form.slice(0, n);
  return undefined;
}

describe('finding 13.5: scrub, then cap, at every alignment', () => {
  const r = redactor();
  for (const [name, form] of forms(SECRET)) {
    const body = b(`${'.'.repeat(300)}${form}${'.'.repeat(200)}`);
    const at = 300;

    it(`${name}: a reader that reads limit + holdBack() and cuts there (every limit around the secret)`, () => {
      const whole = Buffer.byteLength(r.scrub(body.toString('utf8')));
      for (let limit = at - 8; limit <= at + form.length + 8; limit++) {
        const raw = body.subarray(0, limit + r.holdBack());
        const ended = raw.length === body.length;
        const { output, truncated } = scrubThenCap(r, raw, { limit, ended });
        expect(output.length, `limit ${limit}`).toBeLessThanOrEqual(limit);
        expect(prefixLeak(output.toString('utf8'), form), `limit ${limit}`).toBeUndefined();
        expect(truncated).toBe(!ended || whole > limit);
      }
    });

    it(`${name}: a source cut at the limit itself (no extra read): the held tail is dropped`, () => {
      for (let cut = at - 8; cut <= at + form.length + 8; cut++) {
        const { output, truncated } = scrubThenCap(r, body.subarray(0, cut), { limit: cut, ended: false });
        expect(prefixLeak(output.toString('utf8'), form), `cut ${cut}`).toBeUndefined();
        expect(truncated).toBe(true);
      }
    });

    it(`${name}: the same through ScrubCap fed in small chunks`, () => {
      for (let limit = at - 4; limit <= at + form.length + 4; limit += 3) {
        const cap = new ScrubCap(r, limit);
        let read = 0;
        while (read < Math.min(body.length, cap.readLimit)) {
          const chunk = body.subarray(read, Math.min(read + 13, cap.readLimit, body.length));
          read += chunk.length;
          if (!cap.push(chunk)) break;
        }
        const { output } = cap.finish(read === body.length);
        expect(output.length).toBeLessThanOrEqual(limit);
        expect(prefixLeak(output.toString('utf8'), form), `limit ${limit}`).toBeUndefined();
      }
    });
  }

  it('a source that ended is flushed: a secret at its very end is scrubbed, and text that fits is whole', () => {
    const body = b(`head ${SECRET}`);
    const { output, truncated } = scrubThenCap(r, body, { limit: 1000, ended: true });
    expect(output.toString()).toBe('head [REDACTED]');
    expect(truncated).toBe(false);
  });

  it('a cut never splits a UTF-8 character', () => {
    const body = b('ä'.repeat(100));
    for (let limit = 1; limit < 20; limit++) {
      const { output } = scrubThenCap(r, body, { limit, ended: true });
      expect(output.length).toBe(limit - (limit % 2));
      expect(output.toString('utf8')).not.toContain('\uFFFD');
    }
  });

  it('text: at most limit code units, cut on a code-point boundary, the held tail dropped when not ended', () => {
    const text = `${'😀'.repeat(10)} ${SECRET} tail`;
    for (let limit = 1; limit < text.length; limit++) {
      const { text: out } = scrubThenCapText(r, text, { limit, ended: true });
      expect(out.length).toBeLessThanOrEqual(limit);
      expect(out).not.toMatch(/[\ud800-\udbff]$/);
      expect(prefixLeak(out, SECRET)).toBeUndefined();
    }
    for (let cut = 22; cut < 22 + SECRET.length; cut++) {
      const { text: out, truncated } = scrubThenCapText(r, text.slice(0, cut), { limit: 1000, ended: false });
      expect(prefixLeak(out, SECRET), `cut ${cut}`).toBeUndefined();
      expect(truncated).toBe(true);
    }
  });
});

describe('finding 21.6: session output is scrubbed once as it arrives, then sliced', () => {
  it('a secret printed in pieces, read back with every since/limit slice, never appears', () => {
    const r = redactor();
    const printed = `$ cat token\r\n${SECRET}\r\n$ `;
    for (let split = 1; split < printed.length; split++) {
      // The session keeps only scrubbed text: each push returns what is final, the quiet-period
      // flush releases the rest (a prompt with no newline still shows).
      const s = r.createTextScrubber();
      const buffer = s.push(printed.slice(0, split)) + s.push(printed.slice(split)) + s.flush();
      expect(buffer).toBe('$ cat token\r\n[REDACTED]\r\n$ ');
      for (let since = 0; since < buffer.length; since += 3) {
        for (const limit of [1, 4, 9, 20])
          expect(prefixLeak(buffer.slice(since, since + limit), SECRET)).toBeUndefined();
      }
    }
  });

  it('flush() releases what is held and the scrubber keeps working for later output', () => {
    const r = redactor();
    const s = r.createScrubber();
    expect(s.push('prompt$ ').toString()).toBe('');
    expect(s.flush().toString()).toBe('prompt$ ');
    expect(
      Buffer.concat([s.push(`x ${SECRET.slice(0, 10)}`), s.push(`${SECRET.slice(10)} y`), s.flush()]).toString(),
    ).toBe('x [REDACTED] y');
    expect(s.end().toString()).toBe('');
  });
});
