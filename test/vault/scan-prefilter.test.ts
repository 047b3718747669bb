/**
 * The scanner's prefilter (src/vault/redact/engine.ts, Prefilter) runs the combined regex only at
 * candidate positions: anchors of the built-in shapes (shapes.ts) and sampled grams of the
 * literals. It is sound only if every position where the regex matches is a candidate. This
 * compares it with the whole regex over every position (the same set compiled without the
 * prefilter) on random texts long enough to use it, full of planted secrets in their forms, every
 * built-in shape (mixed case, each prefix, escaped slashes), near misses, escapes and wrapped
 * lines; and compares the byte-stream scrubber (bytes held between chunks, output sliced from the
 * input) with the string-held scrubber it replaced, over random chunk boundaries.
 */
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/vault/index.js';
import { deriveForms, deriveUtf16Forms } from '../../src/vault/redact/derive.js';
import { apply, candidateStarts, compile, scan, type Compiled } from '../../src/vault/redact/engine.js';
import { BUILTIN_SHAPES, customShapes } from '../../src/vault/redact/shapes.js';
import { rootView, type Mode } from '../../src/vault/redact/views.js';
import { wrapChains } from '../../src/vault/redact/wrap.js';
import { rng } from '../helpers/rng.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN = ALNUM + '_-';
const B64 = ALNUM + '+/=';

function gen(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const str = (alphabet: string, n: number) => Array.from({ length: n }, () => pick([...alphabet])).join('');
  const mixCase = (s: string) => [...s].map((ch) => (rand() < 0.5 ? ch.toUpperCase() : ch.toLowerCase())).join('');
  /** One match of each built-in shape (several forms of some). */
  const shapes = (): string[] => [
    `-----BEGIN ${pick(['RSA ', 'EC ', 'OPENSSH ', ''])}PRIVATE KEY-----\n${str(B64, int(20, 90))}\n${rand() < 0.6 ? '-----END PRIVATE KEY-----' : ''}`,
    `sk-ant-${str(TOKEN, int(16, 60))}`,
    `sk-${pick(['proj-', 'svcacct-', 'admin-', ''])}${str(TOKEN, int(16, 60))}`,
    `${pick(['sk', 'rk'])}_${pick(['live', 'test'])}_${str(ALNUM, int(16, 40))}`,
    `${pick(['AKIA', 'ASIA', 'AGPA', 'AIDA', 'AROA', 'AIPA', 'ANPA', 'ANVA'])}${str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)}`,
    `${pick(['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', 'SecretAccessKey', 'secret_access_key', 'Secret_accessKey', 'secretAccess_Key'])}${pick(['', '"', '\\"'])}${pick(['=', ': ', ' = ', ':'])}${pick(['', '"', '\\"'])}${[
      ...str(ALNUM + '+=/', 40),
    ]
      .map((ch) => (ch === '/' && rand() < 0.5 ? '\\/' : ch))
      .join('')}`,
    `${pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'])}${str(ALNUM, int(30, 50))}`,
    `github_pat_${str(ALNUM + '_', int(22, 50))}`,
    `gh_${str(TOKEN, int(16, 40))}`,
    `xox${pick([...'abprse'])}-${str(ALNUM + '-', int(10, 40))}`,
    `${mixCase('bearer')}${' '.repeat(int(1, 4))}${str(ALNUM + '._~+=-', int(8, 60))}`,
  ];
  const filler = (): string =>
    pick([
      '2026-12-06T12:00:00Z INFO request served path=/v1/items status=200 bytes=1234 user=alice\n',
      '{"seq":12,"text":"' + 'x'.repeat(int(0, 40)) + '"}\n\n',
      'id: 7\nevent: tick\ndata: ',
      str(B64, int(4, 80)),
      str(ALNUM + ' .,:;-_/=', int(4, 60)),
      ' ',
      '\n',
      '\r\n',
      '\n    ',
      '\\u0073\\u006b-',
      '%73%6B_',
      '&#x73;&#107;',
      '\\"',
      '\\/',
      'é😀',
      'secret',
      'Bearer',
      'AKI',
      'ghx',
      'xo',
      'k-',
      '-----BEGIN ',
      'x'.repeat(int(1, 30)),
    ]);
  return { pick, int, str, shapes, filler };
}

/** Random secrets (strong enough for an agent redactor), some with characters that escape. */
function secretsFor(rand: () => number): string[] {
  const { str, int, pick } = gen(rand);
  return Array.from({ length: int(1, 5) }, () =>
    pick([
      () => str(ALNUM, int(12, 50)),
      () => `${str(ALNUM, int(6, 20))}/${str(ALNUM + '+', int(6, 20))}`,
      () => `${str(ALNUM, 8)} ${str(ALNUM, 8)}&${str(ALNUM, 4)}`,
      () => `pä${str(ALNUM, 12)}ß`,
    ])(),
  );
}

/** The literal forms a Redactor registers for these secrets (redactor.ts, Forms). */
function literals(secrets: readonly string[], mode: Mode): string[] {
  const out: string[] = [];
  for (const s of secrets) {
    for (const f of deriveForms(s)) out.push(mode === 'text' ? f : Buffer.from(f, 'utf8').toString('latin1'));
    if (mode === 'bytes') out.push(...deriveUtf16Forms(s));
  }
  return out;
}

/** A random text (as bytes) of at least `min` bytes: filler, shapes, secrets in their forms, pieces of each. */
function textFor(rand: () => number, secrets: readonly string[], min: number): Buffer {
  const g = gen(rand);
  const forms = deriveForms(secrets[0]!).concat(...secrets.slice(1).map((s) => deriveForms(s)));
  const parts: Buffer[] = [];
  let size = 0;
  while (size < min) {
    const p = rand();
    let piece: Buffer;
    if (p < 0.12) piece = Buffer.from(g.pick(g.shapes()));
    else if (p < 0.2) {
      // A shape cut short or run into a token character: a near miss next to an anchor.
      const s = g.pick(g.shapes());
      piece = Buffer.from(rand() < 0.5 ? s.slice(0, g.int(1, s.length)) : g.pick(['a', '_', '-', '0']) + s);
    } else if (p < 0.28) piece = Buffer.from(g.pick(forms));
    else if (p < 0.34) {
      const f = g.pick(forms);
      const a = g.int(0, f.length - 1);
      piece = Buffer.from(f.slice(a, g.int(a + 1, f.length)));
    } else if (p < 0.36) piece = Buffer.from(g.pick(secrets), rand() < 0.5 ? 'utf16le' : 'latin1');
    else if (p < 0.38) {
      // A form wrapped over two lines (line-joined chains).
      const f = g.pick(forms);
      const at = g.int(1, f.length - 1);
      piece = Buffer.from(`${f.slice(0, at)}\n${' '.repeat(g.int(0, 3))}${f.slice(at)}`);
    } else piece = Buffer.from(g.filler());
    parts.push(piece);
    size += piece.length;
  }
  return Buffer.concat(parts);
}

function scanBoth(fast: Compiled, slow: Compiled, text: string, final: boolean, bytes?: Buffer) {
  return { got: scan(fast, text, final, bytes), want: scan(slow, text, final) };
}

describe('scan prefilter', () => {
  it('every built-in shape has anchors (else the prefilter is off for every redactor)', () => {
    for (const s of BUILTIN_SHAPES) expect(s.anchors?.length, s.name).toBeGreaterThan(0);
    expect(compile(['Q9vX2mK7pL4rT8wZ3nB6'], BUILTIN_SHAPES, 'bytes').pre).toBeDefined();
    // Custom patterns have no known anchor: the whole regex runs.
    expect(compile([], customShapes([{ name: 'x', pattern: 'tok_[a-z]{8}' }]), 'bytes').pre).toBeUndefined();
  });

  it('finds exactly what the whole regex finds, in text and bytes, final or not', () => {
    let spans = 0;
    let prefiltered = 0;
    let starts = 0;
    const SEEDS = 300;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rand = rng(seed);
      const secrets = secretsFor(rand);
      const buf = textFor(rand, secrets, 2048 + Math.floor(rand() * 4000));
      for (const mode of ['bytes', 'text'] as const) {
        const lits = literals(secrets, mode);
        const fast = compile(lits, BUILTIN_SHAPES, mode);
        const slow = compile(lits, BUILTIN_SHAPES, mode, { prefilter: false });
        expect(fast.pre, `seed ${seed}`).toBeDefined();
        const text = mode === 'bytes' ? buf.toString('latin1') : buf.toString('utf8');
        const bytes = mode === 'bytes' ? buf : undefined;
        // The prefilter's own invariant, stated directly: every position where the whole regex
        // matches (resuming after each match, as the scanner does) is a candidate.
        const cands = candidateStarts(fast, text, bytes);
        if (cands) {
          prefiltered++;
          const set = new Set(cands);
          const re = slow.all;
          re.lastIndex = 0;
          for (let m = re.exec(text); m; m = re.exec(text)) {
            expect(
              set.has(m.index),
              `seed ${seed} ${mode}: no candidate at ${m.index} for ${JSON.stringify(m[0])}`,
            ).toBe(true);
            starts++;
          }
        }
        for (const final of [true, false]) {
          const { got, want } = scanBoth(fast, slow, text, final, bytes);
          expect(got, `seed ${seed} ${mode} final=${final}: ${JSON.stringify(text.slice(0, 200))}…`).toEqual(want);
          spans += want.spans.length;
        }
      }
    }
    // The texts must have held plenty to find, and mostly gone through the prefilter (not the
    // whole-regex fallback for texts dense with candidates).
    expect(spans).toBeGreaterThan(5_000);
    expect(starts).toBeGreaterThan(2_000);
    expect(prefiltered).toBeGreaterThan(SEEDS * 1.5);
  });

  it('walks line-joined chains the same from the bytes as from the string', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(2_000_000 + seed);
      const secrets = secretsFor(rand);
      const buf = textFor(rand, secrets, 512 + Math.floor(rand() * 4000));
      const c = compile(literals(secrets, 'bytes'), BUILTIN_SHAPES, 'bytes');
      const text = buf.toString('latin1');
      const final = rand() < 0.3;
      const view = {
        ...rootView(text),
        stable: final ? text.length : Math.max(0, text.length - Math.floor(rand() * 30)),
      };
      const described = (b?: Uint8Array) => {
        const ch = wrapChains(view, c, final, b);
        return { hold: ch.hold, views: ch.views.map((v) => [v.text, v.source(0, v.text.length)]) };
      };
      expect(described(buf), `seed ${seed}`).toEqual(described());
    }
  });

  it('keeps no reference to a chunk the caller may reuse', () => {
    const secret = 'Q9vX2mK7pL4rT8wZ3nB6yH1c';
    const redactor = new Redactor({ audience: 'agent' });
    expect(redactor.add(secret)).toBe(true);
    const sc = redactor.createScrubber();
    const line = Buffer.from('ok line\n');
    const first = Buffer.from(`log ${secret.slice(0, 10)}`);
    const out1 = sc.push(line);
    const out2 = sc.push(first);
    // The caller reads the next data into the same buffers.
    line.fill(0x2e);
    first.fill(0x2e);
    const rest = Buffer.concat([out1, out2, sc.push(Buffer.from(`${secret.slice(10)} done\n`)), sc.end()]).toString();
    expect(rest).toBe('ok line\nlog [REDACTED] done\n');
  });

  it('streams the same bytes as the string-held scrubber, at any chunk boundaries', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rand = rng(1_000_000 + seed);
      const secrets = secretsFor(rand);
      const buf = textFor(rand, secrets, 4096 + Math.floor(rand() * 20_000));
      const redactor = new Redactor({ audience: 'operator' });
      for (const s of secrets) redactor.add(s);
      const slow = compile(literals(secrets, 'bytes'), BUILTIN_SHAPES, 'bytes', { prefilter: false });
      const ref = referenceScrubber(slow);
      const sc = redactor.createScrubber();
      const got: Buffer[] = [];
      const want: Buffer[] = [];
      for (let o = 0; o < buf.length;) {
        // Small chunks (a split inside every kind of match) and large ones (the prefilter's size).
        const n = rand() < 0.5 ? 1 + Math.floor(rand() * 64) : 2048 + Math.floor(rand() * 20_000);
        const chunk = buf.subarray(o, o + n);
        got.push(sc.push(chunk));
        want.push(ref.push(chunk));
        o += n;
      }
      got.push(sc.end());
      want.push(ref.end());
      expect(Buffer.concat(got).toString('latin1'), `seed ${seed}`).toBe(Buffer.concat(want).toString('latin1'));
    }
  });
});

/** The byte scrubber before the prefilter (redactor.ts), verbatim but for the compiled set it takes. */
function referenceScrubber(c: Compiled): { push(chunk: Buffer): Buffer; end(): Buffer } {
  let held = '';
  return {
    push: (chunk) => {
      const buf = held + chunk.toString('latin1');
      const { spans, cut } = scan(c, buf, false);
      held = buf.slice(cut);
      return Buffer.from(apply(buf, spans, cut), 'latin1');
    },
    end: () => {
      const out = apply(held, scan(c, held, true).spans);
      held = '';
      return Buffer.from(out, 'latin1');
    },
  };
}
