/**
 * Issue 13 item 10: a strong canary comes back in every encoding an upstream could echo it in,
 * and mixtures of them; it never survives in any decodable form, through `scrub()` and through
 * the byte-stream scrubber split at every position (and into many small chunks).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/vault/index.js';
import { leaks } from './redact-leaks.js';

const CANARY = 'CANARY-7f3a9c-pässword"/+&=';
const SEED = 1310;

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const u4 = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
const pct = (c: string, upper = true) =>
  [...Buffer.from(c, 'utf8')].map((b) => '%' + (upper ? hex2(b).toUpperCase() : hex2(b))).join('');
const dec = (c: string, zeros = 0) => `&#${'0'.repeat(zeros)}${c.codePointAt(0)};`;
const hexEnt = (c: string, x = 'x', zeros = 0) => `&#${x}${'0'.repeat(zeros)}${c.codePointAt(0)!.toString(16)};`;
const chars = (s: string) => [...s];
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const wrap = (s: string, width: number, br: string, indent = '') =>
  s.replace(new RegExp(`(.{${width}})(?=.)`, 'g'), `$1${br}${indent}`);

/** Every text encoding named in issue 13 item 10 (and the fixed forms that worked before). */
function textForms(s: string): Array<[string, string]> {
  return [
    ['raw', s],
    ['JSON', JSON.stringify(s)],
    ['JSON with \\/', JSON.stringify(s).replace(/\//g, '\\/')],
    ['\\u for every character', chars(s).map(u4).join('')],
    [
      '\\u for every other character',
      chars(s)
        .map((c, i) => (i % 2 ? u4(c) : c))
        .join(''),
    ],
    [
      '\\u{…} for some characters',
      chars(s)
        .map((c, i) => (i % 3 ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`))
        .join(''),
    ],
    [
      'HTML decimal entities',
      chars(s)
        .map((c) => dec(c))
        .join(''),
    ],
    [
      'HTML decimal entities with leading zeros',
      chars(s)
        .map((c) => dec(c, 3))
        .join(''),
    ],
    [
      'HTML hex entities, lower x',
      chars(s)
        .map((c) => hexEnt(c))
        .join(''),
    ],
    [
      'HTML hex entities, upper X with leading zeros',
      chars(s)
        .map((c) => hexEnt(c, 'X', 2).toUpperCase())
        .join(''),
    ],
    [
      'HTML entities mixed with literal characters',
      chars(s)
        .map((c, i) => (i % 2 ? hexEnt(c) : c))
        .join(''),
    ],
    ['HTML named entities', s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/\//g, '&sol;')],
    [
      'percent-encoding of every byte, upper case',
      chars(s)
        .map((c) => pct(c))
        .join(''),
    ],
    [
      'percent-encoding of every byte, lower case',
      chars(s)
        .map((c) => pct(c, false))
        .join(''),
    ],
    [
      'percent-encoding, mixed case and literal characters',
      chars(s)
        .map((c, i) => (i % 3 === 0 ? c : pct(c, i % 2 === 0)))
        .join(''),
    ],
    ['encodeURIComponent', encodeURIComponent(s)],
    ['encodeURI (leaves / + & = alone)', encodeURI(s)],
    ['form encoding', new URLSearchParams({ q: s }).toString().slice(2)],
    ['\\x bytes', [...Buffer.from(s)].map((b) => '\\x' + hex2(b)).join('')],
    ['octal bytes', [...Buffer.from(s)].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('')],
    [
      'mixture of \\u, entities and percent',
      chars(s)
        .map((c, i) => [u4(c), dec(c), pct(c), c, hexEnt(c)][i % 5])
        .join(''),
    ],
    [
      'percent-encoded twice',
      chars(s)
        .map((c) => pct(c).replace(/%/g, '%25'))
        .join(''),
    ],
    [
      'JSON-escaped HTML entities',
      chars(s)
        .map((c) => dec(c).replace('&', '\\u0026'))
        .join(''),
    ],
    ['hex', Buffer.from(s).toString('hex')],
    ['HEX', Buffer.from(s).toString('hex').toUpperCase()],
    ['base64', b64(s)],
    ['base64url', Buffer.from(s).toString('base64url')],
    ['base64 of user:secret', b64(`user:${s}`)],
    // The prefixes put the canary across a line break (its base64 starts near column 54 / 48).
    ['base64 wrapped at 76, CRLF', wrap(b64(`${'x'.repeat(40)}${s}${'y'.repeat(40)}`), 76, '\r\n')],
    ['base64 wrapped at 64, LF', wrap(b64(`${'-'.repeat(36)}${s} --`), 64, '\n')],
    ['base64 wrapped at 10, LF, indented', wrap(b64(`ab${s}`), 10, '\n', '    ')],
    ['base64 wrapped at 4, CRLF, tab', wrap(b64(s), 4, '\r\n', '\t')],
    ['raw, wrapped at 7', wrap(s, 7, '\n')],
    ['hex wrapped at 16, indented', wrap(Buffer.from(s).toString('hex'), 16, '\n', '  ')],
    ['base64 in a JSON string with \\n breaks', JSON.stringify(wrap(b64(`k=${s}`), 12, '\n'))],
  ];
}

const around = (f: string) => `<<begin [x] (${f}) end [y]>>\n`;

describe('finding 13.10: every encoding of a canary is scrubbed (scrub)', () => {
  const r = new Redactor({ audience: 'agent' });
  r.add(CANARY);
  it('the leak detector finds every form when nothing is scrubbed', () => {
    for (const [name, form] of textForms(CANARY))
      expect(leaks(around(form), CANARY, 3).length, name).toBeGreaterThan(0);
  });
  for (const [name, form] of textForms(CANARY)) {
    it(name, () => {
      const out = r.scrub(around(form));
      expect(leaks(out, CANARY, 3), out).toEqual([]);
      expect(out).toContain('[REDACTED]');
      expect(out.startsWith('<<begin [x] (')).toBe(true);
      expect(out.endsWith(') end [y]>>\n')).toBe(true);
    });
  }
  it('UTF-16LE and UTF-16BE bytes in a stream', () => {
    for (const enc of ['le', 'be'] as const) {
      const le = Buffer.from(CANARY, 'utf16le');
      const bytes = Buffer.concat([
        Buffer.from('a: '),
        enc === 'le' ? le : Buffer.from(le).swap16(),
        Buffer.from(' :b'),
      ]);
      const s = r.createScrubber();
      const out = Buffer.concat([s.push(bytes), s.end()]);
      expect(leaks(out, CANARY, 3), enc).toEqual([]);
      expect(out.toString('latin1')).toBe('a: [REDACTED] :b');
    }
  });
  it('leaves ordinary escaped text alone', () => {
    const text = 'a\\/b \\"q\\" &amp; &#x41;BC %20 x\n  y\r\nz https://h/p?a=1&b=%2F';
    expect(r.scrub(text)).toBe(text);
  });
});

function streamed(r: Redactor, chunks: Buffer[]): Buffer {
  const s = r.createScrubber();
  return Buffer.concat([...chunks.map((c) => s.push(c)), s.end()]);
}

describe('finding 13.10: every encoding, through the stream scrubber at every split', () => {
  const r = new Redactor({ audience: 'agent' });
  r.add(CANARY);
  const body = Buffer.from(
    textForms(CANARY)
      .map(([n, f]) => `${n}: ${f}`)
      .join('\n') + '\n',
    'utf8',
  );
  const whole = r.scrub(body.toString('utf8'));

  it('the whole body at once gives the same as scrub()', () => {
    expect(streamed(r, [body]).toString('utf8')).toBe(whole);
    expect(leaks(whole, CANARY, 3)).toEqual([]);
  });

  it('split into two chunks at every byte position', () => {
    expect(leaks(whole, CANARY, 3)).toEqual([]);
    for (let i = 1; i < body.length; i++) {
      const out = streamed(r, [body.subarray(0, i), body.subarray(i)]);
      // The leak detector is slow; output equal to the whole-text result is already checked.
      if (out.toString('utf8') === whole) continue;
      const bad = leaks(out, CANARY, 3);
      if (bad.length) expect(bad, `split at ${i}`).toEqual([]);
    }
  });

  it('each form alone, split at every byte position (an escape cut in two, nothing relevant before it)', () => {
    // Without shapes the hold-back is only as long as the longest literal: an escape cut at the
    // end of a chunk must still hold back the literal text before it.
    const bare = new Redactor({ audience: 'agent', builtins: false });
    bare.add(CANARY);
    const hex = Buffer.from(CANARY).toString('hex');
    const partly = (f: string) => [
      `x: ${f} ;\n`,
      `x: ${CANARY.slice(0, -3)}${[...CANARY.slice(-3)].map((c) => '%' + c.charCodeAt(0).toString(16)).join('')} ;\n`,
      // The longest literal with a long escape at its end: a cut inside that escape must hold
      // back the whole literal before it, which is longer than the usual hold-back.
      `${'p'.repeat(90)} ${hex.slice(0, -1)}&#x0000000000${hex.charCodeAt(hex.length - 1).toString(16)}; ;\n`,
      // Wrapped base64 whose lines each start with an escaped character: a line must not be
      // released while the escape that may continue it is still incomplete.
      `key:\n${wrap(b64(`ab${CANARY}`), 10, '\n').replace(/\n(.)/g, (_m, c: string) => `\n&#x00000${c.charCodeAt(0).toString(16)};`)}\n`,
    ];
    for (const red of [r, bare])
      for (const [name, form] of textForms(CANARY))
        for (const text of partly(form)) {
          const one = Buffer.from(text, 'utf8');
          const alone = red.scrub(one.toString('utf8'));
          for (let i = 1; i < one.length; i++) {
            const out = streamed(red, [one.subarray(0, i), one.subarray(i)]).toString('utf8');
            if (out === alone) continue;
            expect(leaks(out, CANARY, 3), `${name}, split at ${i}: ${out}`).toEqual([]);
          }
        }
  });

  it('one byte at a time, and in 7-byte chunks', () => {
    for (const size of [1, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size));
      const out = streamed(r, chunks);
      expect(leaks(out, CANARY, 3), `chunks of ${size}`).toEqual([]);
    }
  });

  it('random splits and random mixtures of encodings per character (fast-check, fixed seed)', () => {
    const enc = [
      (c: string) => c,
      u4,
      (c: string) => dec(c),
      (c: string) => hexEnt(c, 'X', 1),
      (c: string) => pct(c),
      (c: string) => pct(c, false),
      (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
    ];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: enc.length - 1 }), {
          minLength: chars(CANARY).length,
          maxLength: chars(CANARY).length,
        }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('', 'x', '"key":"', '\n', 'Basic '),
        (pick, cuts, prefix) => {
          const form = chars(CANARY)
            .map((c, i) => enc[pick[i]](c))
            .join('');
          const text = Buffer.from(`${prefix}${form} tail\n`, 'utf8');
          expect(leaks(r.scrub(text.toString('utf8')), CANARY)).toEqual([]);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const c of cuts) {
            if (at >= text.length) break;
            chunks.push(text.subarray(at, at + c));
            at += c;
          }
          if (at < text.length) chunks.push(text.subarray(at));
          expect(leaks(streamed(r, chunks), CANARY)).toEqual([]);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a text scrubber gives the same result at every split', () => {
    expect(leaks(whole, CANARY, 3)).toEqual([]);
    const text = body.toString('utf8');
    for (let i = 1; i < text.length; i++) {
      const s = r.createTextScrubber();
      const out = s.push(text.slice(0, i)) + s.push(text.slice(i)) + s.end();
      if (out === whole) continue;
      const bad = leaks(out, CANARY, 3);
      if (bad.length) expect(bad, `split at ${i}`).toEqual([]);
    }
  });
});
