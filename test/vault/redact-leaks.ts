/**
 * An independent leak detector for the redaction tests: decodes the output in every way a
 * client could (JSON/JS escapes, HTML entities, percent-escapes, `\x`/octal bytes, line breaks
 * removed, base64 and hex runs, UTF-16) with code that shares nothing with src/vault/redact, and
 * reports any piece of the secret it finds.
 */

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  sol: '/',
  plus: '+',
  equals: '=',
  num: '#',
  nbsp: '\u00a0',
};

function bytesToText(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/** One round of every text-level decoding. */
function decodeOnce(s: string): string {
  return s
    .replace(/(?:%[0-9a-fA-F]{2})+/g, (m) => bytesToText(m.replace(/%/g, '')))
    .replace(/(?:\\x[0-9a-fA-F]{2})+/g, (m) => bytesToText(m.replace(/\\x/g, '')))
    .replace(/(?:\\[0-3][0-7]{2})+/g, (m) =>
      Buffer.from(
        m
          .split('\\')
          .slice(1)
          .map((o) => parseInt(o, 8)),
      ).toString('utf8'),
    )
    .replace(/%u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\u\{([0-9a-fA-F]+)\}/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\([nrtbf\\/"'])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' })[c] ?? c)
    .replace(/&#[xX]([0-9a-fA-F]+);?/g, (_, h: string) => String.fromCodePoint(Math.min(parseInt(h, 16), 0x10ffff)))
    .replace(/&#([0-9]+);?/g, (_, d: string) => String.fromCodePoint(Math.min(parseInt(d, 10), 0x10ffff)))
    .replace(/&([a-z]+);/g, (m, n: string) => NAMED[n] ?? m);
}

/** The output and everything it decodes to (three rounds, each also with line breaks removed). */
export function textViews(out: string): string[] {
  const views = new Set<string>([out]);
  let cur = out;
  for (let i = 0; i < 3; i++) {
    cur = decodeOnce(cur);
    views.add(cur);
  }
  for (const v of [...views]) views.add(v.replace(/\r?\n[ \t]*/g, ''));
  return [...views];
}

/** Every `n`-character piece of `s` (n ≤ s.length). */
export function pieces(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= s.length; i++) out.push(s.slice(i, i + n));
  return out;
}

/** Base64 and hex runs decoded at every alignment, as latin1 (one char per byte). */
function binaryViews(view: string): string[] {
  const out: string[] = [];
  for (const m of view.matchAll(/[A-Za-z0-9+/_-]{8,}={0,2}/g)) {
    for (let k = 0; k < 4; k++) {
      const run = m[0].slice(k).replace(/=+$/, '');
      out.push(
        Buffer.from(run, 'base64').toString('latin1'),
        Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1'),
      );
    }
  }
  for (const m of view.matchAll(/[0-9a-fA-F]{12,}/g)) {
    for (let k = 0; k < 2; k++)
      out.push(Buffer.from(m[0].slice(k).slice(0, (m[0].length - k) & ~1), 'hex').toString('latin1'));
  }
  return out;
}

/**
 * Pieces of `secret` (of `n` characters; `n` bytes of its UTF-8 in binary decodings) found in
 * `out` or anything it decodes to. Empty means no leak. A scrubbed base64 form may keep up to two
 * bytes of the secret at each edge (they share base64 characters with the bytes around them), so
 * use n ≥ 3 for texts holding base64 forms.
 */
export function leaks(out: string | Buffer, secret: string, n = 6): string[] {
  const found = new Set<string>();
  const text = typeof out === 'string' ? out : out.toString('utf8');
  const textPieces = pieces(secret, Math.min(n, secret.length));
  const bytePieces = pieces(Buffer.from(secret, 'utf8').toString('latin1'), Math.min(n, Buffer.byteLength(secret)));
  const views = textViews(text);
  if (typeof out !== 'string') {
    // UTF-16 in a byte stream, both byte orders and both alignments.
    for (const k of [0, 1]) {
      const b = out.subarray(k, k + ((out.length - k) & ~1));
      views.push(b.toString('utf16le'), Buffer.from(b).swap16().toString('utf16le'));
    }
  }
  for (const v of views) {
    for (const p of textPieces) if (v.includes(p)) found.add(`text:${p}`);
    for (const b of binaryViews(v)) for (const p of bytePieces) if (b.includes(p)) found.add(`binary:${p}`);
  }
  return [...found];
}
