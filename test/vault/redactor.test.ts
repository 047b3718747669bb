import { describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Redactor, installLogScrubbing } from '../../src/vault/index.js';
import { createLogger, setLogScrubber, setLogSink } from '../../src/core/index.js';

const SECRET = 'CANARY-7f3a9c-pässword"/+&=';

/** Every form the secret could take in an upstream echo. */
function forms(s: string): string[] {
  const b = Buffer.from(s, 'utf8');
  return [
    s,
    JSON.stringify(s).slice(1, -1),
    encodeURIComponent(s),
    encodeURIComponent(s).toLowerCase(),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    b.toString('base64'),
    b.toString('base64url'),
    Buffer.from(`user:${s}`).toString('base64'),
    Buffer.from(`ab${s}xyz`).toString('base64'),
    Buffer.from(`a${s}`).toString('base64url'),
  ];
}

async function streamThrough(r: Redactor, chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    r.createScrubStream(),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out).toString('utf8');
}

/** Long middle part of a base64 form must not survive (a couple of edge chars may, by design). */
function leaks(out: string, s: string): string[] {
  const bad: string[] = [];
  for (const f of [
    s,
    JSON.stringify(s).slice(1, -1),
    encodeURIComponent(s),
    Buffer.from(s).toString('hex'),
    Buffer.from(s).toString('base64').slice(0, 30),
    Buffer.from(s).toString('base64url').slice(0, 30),
  ]) {
    if (out.includes(f)) bad.push(f);
  }
  // base64 at every alignment: any 12-char window of the middle run
  for (let k = 0; k < 3; k++) {
    const enc = Buffer.concat([Buffer.alloc(k, 0x41), Buffer.from(s)]).toString('base64');
    const mid = enc.slice(4, 16);
    if (out.includes(mid)) bad.push(`b64@${k}:${mid}`);
  }
  return bad;
}

describe('Redactor: filled secrets', () => {
  it('scrubs raw, JSON, URL, hex and base64 forms, including inside base64 of a larger text', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const text = forms(SECRET)
      .map((f, i) => `f${i}=${f};`)
      .join('\n');
    const out = r.scrub(text);
    expect(leaks(out, SECRET)).toEqual([]);
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('f0=[REDACTED];');
  });

  it('catches a secret split across stream chunks at every offset (raw, base64, url, hex forms)', async () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const body = Buffer.from(`HTTP echo: {"auth":"Bearer ${'x'}", "k":"${forms(SECRET).join('","')}"} done\n`, 'utf8');
    for (let i = 1; i < body.length; i++) {
      const out = await streamThrough(r, [body.subarray(0, i), body.subarray(i)]);
      expect(leaks(out, SECRET), `split at ${i}`).toEqual([]);
    }
    // also one byte at a time, and three-way splits
    const bytewise = await streamThrough(
      r,
      [...body].map((b) => Buffer.from([b])),
    );
    expect(leaks(bytewise, SECRET)).toEqual([]);
    expect(bytewise).toBe(r.scrub(body.toString('utf8')));
  });

  it('passes text without secrets through unchanged (stream and string), including binary bytes', async () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(SECRET);
    const bin = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 37) & 0xff));
    const out: Buffer[] = [];
    const s = r.createScrubber();
    for (let i = 0; i < bin.length; i += 97) out.push(s.push(bin.subarray(i, i + 97)));
    out.push(s.end());
    expect(Buffer.concat(out).equals(bin)).toBe(true);
    expect(r.scrub('plain text {{x}}')).toBe('plain text {{x}}');
  });

  it('ignores too-short secrets rather than scrubbing every letter', () => {
    const r = new Redactor({ audience: 'operator', builtins: false });
    r.add('ab');
    expect(r.scrub('abc')).toBe('abc');
  });
});

describe('Redactor: well-known shapes', () => {
  const r = new Redactor({ audience: 'agent' });
  const cases: Array<[string, string, string]> = [
    ['openai', 'key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789', 'key sk-***'],
    ['openai legacy', 'sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789', 'sk-***'],
    ['anthropic', 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_x', 'sk-ant-***'],
    ['aws access', 'id=AKIAIOSFODNN7EXAMPLE.', 'id=AKIA***.'],
    ['aws sts', 'ASIAIOSFODNN7EXAMPLE', 'ASIA***'],
    ['aws secret', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = ***'],
    ['aws secret json', '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', '"SecretAccessKey": "***"'],
    ['github', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'ghp_***'],
    ['github app', 'ghs_0123456789abcdefghijABCDEFGHIJ012345', 'ghs_***'],
    ['github pat', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'github_pat_***'],
    ['slack', 'xoxb-1234567890-abcdefghij', 'xoxb-***'],
    ['bearer', 'Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer ***'],
    ['bearer lowercase', 'authorization: bearer abcdefghijkl', 'authorization: bearer ***'],
    ['gatehouse token', 'token gh_AbCdEfGhIjKlMnOpQrSt_uv', 'token gh_***'],
    [
      'pem',
      'k=-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
      'k=[REDACTED PRIVATE KEY]\n',
    ],
    ['pem rsa', '-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----', '[REDACTED PRIVATE KEY]'],
    ['pem truncated', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIE', '[REDACTED PRIVATE KEY]'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(r.scrub(input)).toBe(expected));
  }
  it('leaves look-alikes alone', () => {
    for (const s of [
      'task-list',
      'ask-me-anything',
      'AKIA',
      'gh_short',
      'Bearer',
      'public key -----BEGIN PUBLIC KEY-----',
      'mask-abcdefghijklmnopqrstuvwxyz',
    ]) {
      expect(r.scrub(s), s).toBe(s);
    }
  });
  it('scrubs a PEM block split across many small chunks', async () => {
    const pem = `before\n-----BEGIN EC PRIVATE KEY-----\n${'QUJDREVGR0hJSktMTU5PUA=='.repeat(200)}\n-----END EC PRIVATE KEY-----\nafter`;
    const out = await streamThrough(
      r,
      Array.from({ length: Math.ceil(pem.length / 50) }, (_, i) => Buffer.from(pem.slice(i * 50, i * 50 + 50))),
    );
    expect(out).toBe('before\n[REDACTED PRIVATE KEY]\nafter');
  });
});

describe('Redactor: custom patterns', () => {
  it('applies show_prefix', () => {
    const r = new Redactor({
      audience: 'agent',
      patterns: [
        { name: 'acme', pattern: 'acme_[a-z0-9]{12}', show_prefix: 5 },
        { name: 'x', pattern: '(?<tok>XX-[0-9]{6})' },
      ],
    });
    expect(r.scrub('k=acme_abcdef123456 z=XX-123456')).toBe('k=acme_*** z=***');
  });
  it('rejects backreferences, empty matches and bad syntax', () => {
    for (const pattern of ['(a)\\1', '(?<n>a)\\k<n>', 'a*', '(']) {
      expect(() => new Redactor({ audience: 'agent', patterns: [{ name: 'bad', pattern }] }), pattern).toThrowError(
        expect.objectContaining({ code: 'config_invalid' }),
      );
    }
  });
});

describe('installLogScrubbing', () => {
  it('scrubs log lines, including JSON-escaped secrets', () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    try {
      const r = new Redactor({ audience: 'agent' });
      r.add(SECRET);
      installLogScrubbing(r);
      const logger = createLogger({}, 'debug');
      logger.info('upstream said', {
        body: `echo ${SECRET}`,
        header: `Bearer ${SECRET}`,
        b64: Buffer.from(SECRET).toString('base64'),
      });
      logger.error('failed', { err: new Error(`bad value ${SECRET}`) });
      expect(lines.length).toBe(2);
      for (const l of lines) expect(leaks(l, SECRET)).toEqual([]);
    } finally {
      setLogScrubber((l) => l);
      setLogSink((l) => process.stderr.write(l + '\n'));
    }
  });
});
