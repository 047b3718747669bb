import type { Transform } from 'node:stream';
import { rewriterStream } from '../../core/index.js';
import { deriveForms } from './derive.js';
import { BUILTIN_SHAPES, PEM_MAX, SHAPE_MAX, customShapes, type CustomPattern, type Shape } from './shapes.js';

export const REDACTED = '[REDACTED]';

export interface RedactorOptions {
  /** Custom patterns from configuration (`redaction.patterns`). */
  patterns?: readonly CustomPattern[];
  /** Turn off the built-in shapes (tests/benches only). Default true. */
  builtins?: boolean;
}

/** Incremental scrubbing of a byte stream: push chunks, get back what is safe to emit. */
export interface ChunkScrubber {
  push(chunk: Buffer | string): Buffer;
  end(): Buffer;
}

interface Compiled {
  re: RegExp;
  shapes: Shape[];
  /** Characters held back between chunks: longest literal or bounded shape match, minus one. */
  hold: number;
  /**
   * True when no match can contain a newline (no literal has one, no custom pattern is set, and
   * PEM blocks are held on their own), so a stream may release everything up to its last newline
   * at once: line-oriented output (SSE events, logs) is never held back waiting for more bytes.
   */
  releaseLines: boolean;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * Scrubs secrets from text: every registered secret in all its derived forms, the built-in shapes
 * and custom patterns, in ONE combined regex pass (V8 compiles the alternation to a single
 * automaton, so cost grows slowly with the number of secrets). Literals come first and longest
 * first, so a filled secret wins over a shape that would keep a visible prefix.
 *
 * Two compiled forms exist: one over JS strings (`scrub`), one over bytes read as latin1
 * (streams), where each literal is its UTF-8 bytes: binary-safe, and a multi-byte character split
 * across chunks still matches.
 */
export class Redactor {
  readonly #literals = new Set<string>();
  readonly #shapes: Shape[];
  #text: Compiled | undefined;
  #bytes: Compiled | undefined;

  constructor(opts: RedactorOptions = {}) {
    this.#shapes = [...(opts.builtins === false ? [] : BUILTIN_SHAPES), ...customShapes(opts.patterns ?? [])];
  }

  /** Registers a secret (a value that was filled); its encoded forms are derived here. */
  add(secret: string): void {
    let changed = false;
    for (const f of deriveForms(secret)) {
      if (!this.#literals.has(f)) {
        this.#literals.add(f);
        changed = true;
      }
    }
    if (changed) {
      this.#text = undefined;
      this.#bytes = undefined;
    }
  }

  get size(): number {
    return this.#literals.size;
  }

  scrub(text: string): string {
    const c = (this.#text ??= this.#compile('text'));
    return scrubWith(c, text);
  }

  /** A chunk scrubber for streams (SSH/exec output, upstream bodies). */
  createScrubber(): ChunkScrubber {
    let held = '';
    return {
      push: (chunk) => {
        const c = (this.#bytes ??= this.#compile('bytes'));
        const buf = held + (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk).toString('latin1');
        const { out, rest } = scrubPartial(c, buf);
        held = rest;
        return Buffer.from(out, 'latin1');
      },
      end: () => {
        const c = (this.#bytes ??= this.#compile('bytes'));
        const out = scrubWith(c, held);
        held = '';
        return Buffer.from(out, 'latin1');
      },
    };
  }

  /** A Transform that scrubs a byte stream, including secrets split across chunks. */
  createScrubStream(): Transform {
    return rewriterStream(this.createScrubber());
  }


  #compile(mode: 'text' | 'bytes'): Compiled {
    const lits = [...this.#literals].map((l) => (mode === 'bytes' ? Buffer.from(l, 'utf8').toString('latin1') : l));
    lits.sort((a, b) => b.length - a.length);
    const parts: string[] = [];
    if (lits.length) parts.push(`(?<L>${lits.map(escapeRe).join('|')})`);
    this.#shapes.forEach((s, i) => parts.push(`(?<S${i}>${s.src})`));
    const re = parts.length ? new RegExp(parts.join('|'), 'g') : /(?!)/g;
    const maxLit = lits.length ? lits[0].length : 0;
    return {
      re,
      shapes: this.#shapes,
      hold: Math.max(maxLit, SHAPE_MAX),
      releaseLines: !lits.some((l) => l.includes('\n')) && this.#shapes.every((sh) => BUILTIN_SHAPES.includes(sh)),
    };
  }
}

function replacement(c: Compiled, m: RegExpExecArray): string {
  const g = m.groups!;
  if (g.L !== undefined) return REDACTED;
  for (let i = 0; i < c.shapes.length; i++) if (g[`S${i}`] !== undefined) return c.shapes[i].replace(m[0]);
  return REDACTED;
}

function scrubWith(c: Compiled, text: string): string {
  c.re.lastIndex = 0;
  let out = '';
  let pos = 0;
  for (let m = c.re.exec(text); m; m = c.re.exec(text)) {
    if (m[0].length === 0) {
      c.re.lastIndex++;
      continue;
    }
    out += text.slice(pos, m.index) + replacement(c, m);
    pos = m.index + m[0].length;
  }
  return pos === 0 ? text : out + text.slice(pos);
}

/**
 * Scrubs what is safe to emit from `buf` and returns the tail to hold back. A match starting
 * before the cut point is complete (the hold-back is at least as long as any bounded match), so
 * it is replaced and emitted. An unterminated PEM header is held back whole (up to PEM_MAX).
 */
const PEM_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----/;

function scrubPartial(c: Compiled, buf: string): { out: string; rest: string } {
  let cut = Math.max(0, buf.length - c.hold);
  const pem = buf.lastIndexOf('-----BEGIN ');
  if (pem >= 0 && pem < cut && buf.length - pem < PEM_MAX && !PEM_END.test(buf.slice(pem))) cut = pem;
  else if (c.releaseLines && (pem < 0 || PEM_END.test(buf.slice(pem)))) {
    // No match can cross a newline, so every byte up to the last one is final now.
    const nl = buf.lastIndexOf('\n');
    if (nl + 1 > cut) cut = nl + 1;
  }
  if (cut === 0) return { out: '', rest: buf };
  c.re.lastIndex = 0;
  let out = '';
  let pos = 0;
  for (let m = c.re.exec(buf); m && m.index < cut; m = c.re.exec(buf)) {
    if (m[0].length === 0) {
      c.re.lastIndex++;
      continue;
    }
    out += buf.slice(pos, m.index) + replacement(c, m);
    pos = m.index + m[0].length;
  }
  if (pos > cut) cut = pos;
  out += buf.slice(pos, cut);
  return { out, rest: buf.slice(cut) };
}
