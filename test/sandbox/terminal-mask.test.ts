/**
 * The terminal masker (issue 20 item 7): secrets masked in a terminal byte stream whatever the
 * chunking, with escape sequences in between or around them, while every escape sequence reaches
 * the terminal whole and in order, held text is released after a quiet period, and memory stays
 * bounded.
 */
import { describe, expect, it } from 'vitest';
import { TerminalMasker } from '../../src/cli/terminal-mask.js';
import { Redactor } from '../../src/vault/index.js';
import { ANTHROPIC, AWS_ID, AWS_SECRET, BEARER, GITHUB, GITHUB_PAT, OPENAI, hiddenParts } from '../helpers/canaries.js';

const VAULT_VALUE = 'vault-canary-Qm9vZmJhcg-7c41d2';
/** Parts of each secret that must never be shown. */
const HIDDEN = hiddenParts(VAULT_VALUE, { githubPat: true });

function redactor(): Redactor {
  const r = new Redactor({ audience: 'operator' });
  r.add(VAULT_VALUE);
  return r;
}

/** Runs chunks through a masker (no quiet release unless asked) and returns what it emitted. */
function mask(chunks: readonly (string | Buffer)[], opts: { maxPendingBytes?: number } = {}): Buffer {
  const out: Buffer[] = [];
  const m = new TerminalMasker(redactor(), (b) => out.push(b), { quietMs: 60_000, ...opts });
  for (const c of chunks) m.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
  m.end();
  return Buffer.concat(out);
}

/** Escape sequences as the masker parses them (CSI, 2-byte ESC, OSC/DCS strings). */
const ESCAPE_RE = /\x1b(?:\[[\x20-\x3f]*[\x40-\x7e]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[\x20-\x2f]*[\x30-\x7e])/g;
const escapes = (s: string) => s.match(ESCAPE_RE) ?? [];
const strip = (s: string) => s.replace(ESCAPE_RE, '');

/** What scrubbing the raw bytes gives (sequences as word boundaries), without the sequences. */
function rawScrubText(input: string): string {
  const s = redactor().createScrubber();
  const raw = Buffer.from(input.replace(ESCAPE_RE, '\x1b'), 'utf8');
  return Buffer.concat([s.push(raw), s.end()])
    .toString('utf8')
    .replaceAll('\x1b', '');
}

/** No 8-byte window of a secret's hidden part shows, in the text or with the escapes taken out. */
function expectHidden(text: string): void {
  for (const t of [text, strip(text)])
    for (const h of HIDDEN)
      for (let i = 0; i + 8 <= h.length; i++) expect(t, `window ${h.slice(i, i + 8)}`).not.toContain(h.slice(i, i + 8));
}

describe('terminal masker', () => {
  const lines = [
    `vault: ${VAULT_VALUE}`,
    `ANTHROPIC_API_KEY=${ANTHROPIC}`,
    `OPENAI_API_KEY=${OPENAI}`,
    `aws_access_key_id = ${AWS_ID}`,
    `aws_secret_access_key = ${AWS_SECRET}`,
    `token ${GITHUB} and ${GITHUB_PAT}`,
    `Authorization: Bearer ${BEARER}`,
  ];

  it('masks every preset and a vault value, leaving the rest byte for byte', () => {
    const text = mask([lines.join('\n') + '\nplain text stays\n']).toString('utf8');
    expectHidden(text);
    expect(text).toContain('ANTHROPIC_API_KEY=sk-ant-***');
    expect(text).toContain('vault: [REDACTED]');
    expect(text).toContain('plain text stays\n');
    expect(mask(['héllo wörld \x1b[1mbold\x1b[0m\r\n']).toString('utf8')).toBe('héllo wörld \x1b[1mbold\x1b[0m\r\n');
  });

  it('masks a secret split across two reads at every byte', () => {
    const line = `key=${ANTHROPIC} vault=${VAULT_VALUE} gh=${GITHUB}\n`;
    for (let i = 1; i < line.length; i++) {
      const text = mask([line.slice(0, i), line.slice(i)]).toString('utf8');
      expectHidden(text);
      expect(text).toBe(mask([line]).toString('utf8'));
    }
  });

  it('masks a secret with colour codes and cursor moves between its characters, keeping every sequence', () => {
    const evasive =
      'sk-ant-api03-CANARY\x1b[1maaaa\x1b[0mBBBB\x1b[38;5;208mcccc\x1b[2CDDDDeeee0123' +
      '\x1b[0m and vault-canary-Qm9v\x1b[31mZmJhcg-7c41d2\x1b[m\n';
    const out = mask([evasive]).toString('utf8');
    expectHidden(strip(out));
    expect(escapes(out)).toEqual(escapes(evasive));
    // Escapes around a secret stay around its replacement.
    const around = mask([`\x1b[31m${ANTHROPIC}\x1b[0m\n`]).toString('utf8');
    expect(around).toBe('\x1b[31msk-ant-***\x1b[0m\n');
    // A sequence is a word boundary, as in the raw bytes: a key right after one is masked even
    // when the text before the sequence ends in a letter.
    const glued = mask([`world\x1b[?25l${ANTHROPIC}\r\nabc\x1b[10;5H${GITHUB}\n`]).toString('utf8');
    expect(glued).toBe('world\x1b[?25lsk-ant-***\r\nabc\x1b[10;5Hghp_***\n');
  });

  it('never breaks an escape sequence, whatever the chunking (random streams)', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const SPLIT = ` ${ANTHROPIC.slice(0, 20)}\x1b[1m${ANTHROPIC.slice(20, 30)}\x1b[0m${ANTHROPIC.slice(30)} `;
    const pieces = [
      'hello ',
      'world',
      '\n',
      '\r\n',
      '\x1b[0m',
      '\x1b[38;2;10;20;30m',
      '\x1b[2J\x1b[H',
      '\x1b[?25l',
      '\x1b(B',
      '\x1b7',
      '\x1b]0;a title\x07',
      '\x1b]8;;https://example.com/\x1b\\',
      // Secrets stand apart: glued to a word, a shape is not one (the redactor's rule, by design).
      ` ${ANTHROPIC} `,
      ` ${VAULT_VALUE} `,
      ` ${GITHUB} `,
      SPLIT,
      'é',
      '→',
    ];
    for (let round = 0; round < 200; round++) {
      let input = '';
      for (let k = 0; k < 30; k++) input += pieces[rnd(pieces.length)];
      const bytes = Buffer.from(input, 'utf8');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const n = 1 + rnd(40);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      const out = mask(chunks).toString('utf8');
      expect(escapes(out)).toEqual(escapes(input));
      // Without a secret split by a sequence, the text is what scrubbing the raw bytes makes of
      // it (sequences as word boundaries): the second view changes nothing then.
      if (!input.includes(SPLIT)) expect(strip(out)).toBe(rawScrubText(input));
      // Nothing to mask: every byte passes, in place.
      if (!/CANARY|canary/.test(input)) expect(out).toBe(input);
      expectHidden(out);
    }
  });

  it('masks secrets inside window titles and hyperlinks (OSC), keeping the sequence well formed', () => {
    const input = `\x1b]0;deploy ${ANTHROPIC}\x07\x1b]8;;https://x.test/?t=${GITHUB}\x1b\\link\x1b]8;;\x1b\\\n`;
    for (const split of [input.length, 5, 20, 60]) {
      const out = mask([input.slice(0, split), input.slice(split)]).toString('utf8');
      expectHidden(out);
      expect(out).toMatch(
        /^\x1b\]0;deploy sk-ant-\*\*\*\x07\x1b\]8;;https:\/\/x\.test\/\?t=ghp_\*\*\*\x1b\\link\x1b\]8;;\x1b\\\n$/,
      );
    }
  });

  it('releases held text after a quiet period (a prompt without a newline shows)', async () => {
    const out: Buffer[] = [];
    const m = new TerminalMasker(redactor(), (b) => out.push(b), { quietMs: 20 });
    m.push(Buffer.from('\x1b[32mprompt>\x1b[0m '));
    const now = Buffer.concat(out).toString();
    await new Promise((r) => setTimeout(r, 80));
    expect(Buffer.concat(out).toString()).toBe('\x1b[32mprompt>\x1b[0m ');
    expect(now.length).toBeLessThan('\x1b[32mprompt>\x1b[0m '.length);
    m.end();
  });

  it('holds bounded memory: past the bound, held text and escapes are released', () => {
    const out: Buffer[] = [];
    const m = new TerminalMasker(redactor(), (b) => out.push(b), { quietMs: 60_000, maxPendingBytes: 4096 });
    m.push(Buffer.from('held text without newline '));
    for (let i = 0; i < 1000; i++) m.push(Buffer.from('\x1b[1;1H\x1b[2K'));
    const before = Buffer.concat(out).length;
    expect(before).toBeGreaterThan(0);
    // What is still pending never exceeds the bound.
    expect(26 + 1000 * 10 - before).toBeLessThanOrEqual(4096);
    m.end();
    expect(Buffer.concat(out).toString()).toBe('held text without newline ' + '\x1b[1;1H\x1b[2K'.repeat(1000));
  });

  it('passes binary and unterminated sequences through without losing a byte', () => {
    const input = Buffer.from([0x00, 0xff, 0x1b, 0x1b, 0x5b, 0x31, 0x0a, 0x6d, 0x1b, 0x5d, 0x32, 0x3b, 0x78]);
    expect(mask([input]).equals(input)).toBe(true);
  });
});
