import type { Transform } from 'node:stream';
import { REDACTED, rewriterStream, type FlushableRewriter, type TextRewriter } from '../../core/index.js';
import { apply, compile, scan, type Compiled } from './engine.js';
import { deriveForms, deriveUtf16Forms } from './derive.js';
import { BUILTIN_SHAPES, customShapes, type CustomPattern, type Shape } from './shapes.js';
import { isGuessable } from './strength.js';
import type { Mode } from './views.js';

export { REDACTED };

/**
 * Who reads what a redactor scrubs.
 * - `agent`: tool results, errors, streams, SSH/exec output. Guessable values are NOT registered:
 *   scrubbing one would let an agent test guesses (see strength.ts).
 * - `operator`: audit fields, server logs, approval prompts. Every value is registered; agents
 *   never read these channels, so no guess can be tested through them.
 */
export type Audience = 'agent' | 'operator';

export interface RedactorOptions {
  /** Required, so no call site can forget which channel it scrubs. */
  audience: Audience;
  /** Custom patterns from configuration (`redaction.patterns`). */
  patterns?: readonly CustomPattern[];
  /** Turn off the built-in shapes (tests/benches only). Default true. */
  builtins?: boolean;
}

/** What every scrubbing set offers: the base redactor and its per-action overlays alike. */
export interface Scrub {
  /** Scrubs a whole text (every view; see views.ts). */
  scrub(text: string): string;
  /** A byte-stream scrubber: pushes return what is final, `end()` the rest, `flush()` ends and keeps going. */
  createScrubber(): FlushableRewriter;
  /** The same over JS strings (e.g. a session's text buffer). */
  createTextScrubber(): TextRewriter;
  /** A Transform that scrubs a byte stream, including secrets split across chunks. */
  createScrubStream(): Transform;
  /**
   * Bytes a bounded reader should read past its limit so that a secret straddling the limit is
   * seen whole in its common forms (raw, hex, base64, `\uXXXX`…). Correctness never depends on
   * it: what the scrubber still holds when a source is cut is dropped (scrubThenCap).
   */
  holdBack(): number;
}

/** Escaped forms can be ~6x longer than the secret (`\u0073` per character). */
const HOLD_EXPANSION = 6;

/** Shared scrubbing over a compiled set that may change (secrets added while a stream runs). */
abstract class ScrubBase implements Scrub {
  protected abstract compiled(mode: Mode): Compiled;

  scrub(text: string): string {
    const c = this.compiled('text');
    return apply(text, scan(c, text, true).spans);
  }

  createScrubber(): FlushableRewriter {
    // The unreleased tail is kept as bytes: the next chunk is appended with one memcpy and the
    // pair decoded once into a flat latin1 string (scanning a `held + chunk` cons string made V8
    // flatten it, a second copy); and output without a span to replace is a slice of those bytes,
    // not the string encoded back (the latin1 string and the bytes are the same characters).
    // INVARIANT: `buf` is always our own copy, never the caller's chunk: a caller that reuses its
    // read buffer must not change the held tail (a secret split across chunks) or past output.
    let held: Buffer = Buffer.alloc(0);
    const all = (): Buffer => {
      const buf = held;
      held = Buffer.alloc(0);
      const text = buf.toString('latin1');
      const { spans } = scan(this.compiled('bytes'), text, true, buf);
      return spans.length ? Buffer.from(apply(text, spans), 'latin1') : buf;
    };
    return {
      push: (chunk) => {
        const c = this.compiled('bytes');
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        const buf = Buffer.concat([held, bytes]);
        const text = buf.toString('latin1');
        const { spans, cut } = scan(c, text, false, buf);
        held = buf.subarray(cut);
        return spans.length ? Buffer.from(apply(text, spans, cut), 'latin1') : buf.subarray(0, cut);
      },
      end: all,
      flush: all,
    };
  }

  createTextScrubber(): TextRewriter {
    let held = '';
    const all = (): string => {
      const out = apply(held, scan(this.compiled('text'), held, true).spans);
      held = '';
      return out;
    };
    return {
      push: (chunk) => {
        const buf = held + chunk;
        const { spans, cut } = scan(this.compiled('text'), buf, false);
        held = buf.slice(cut);
        return apply(buf, spans, cut);
      },
      end: all,
      flush: all,
    };
  }

  createScrubStream(): Transform {
    return rewriterStream(this.createScrubber());
  }

  holdBack(): number {
    return this.compiled('bytes').maxMatch * HOLD_EXPANSION + 64;
  }
}

/** The registered literal forms, per representation. */
class Forms {
  readonly text = new Set<string>();
  readonly bytes = new Set<string>();
  version = 0;

  add(secret: string): boolean {
    let changed = false;
    for (const f of deriveForms(secret)) {
      if (!this.text.has(f)) {
        this.text.add(f);
        this.bytes.add(Buffer.from(f, 'utf8').toString('latin1'));
        changed = true;
      }
    }
    // UTF-16 bytes are a byte-stream form only: text reaches the redactor already decoded.
    for (const f of deriveUtf16Forms(secret)) {
      if (!this.bytes.has(f)) {
        this.bytes.add(f);
        changed = true;
      }
    }
    if (changed) this.version++;
    return changed;
  }
}

/**
 * Scrubs secrets from text: every registered secret in all its derived forms (derive.ts), seen
 * through every decoding a client could apply (views.ts), plus the built-in shapes and custom
 * patterns, in one combined regex pass per view (V8 compiles the alternation to one automaton, so
 * cost grows slowly with the number of secrets). Literals come first and longest first, so a
 * filled secret wins over a shape that would keep a visible prefix.
 *
 * Two compiled forms exist: one over JS strings (`scrub`, text scrubbers), one over bytes read as
 * latin1 (byte streams), where each literal is its UTF-8 bytes: binary-safe, and a multi-byte
 * character split across chunks still matches.
 *
 * One redactor serves one audience (see Audience). Strong values are scrubbed for every token,
 * granted or not: guessing them is infeasible, so scrubbing them answers no question. Guessable
 * values that Gatehouse fills into an action are hidden from that action's output by an overlay
 * (`withExtra`, with `guessWindows`), which hides every string of the same shape the agent sent.
 */
export class Redactor extends ScrubBase {
  readonly audience: Audience;
  readonly #forms = new Forms();
  readonly #shapes: Shape[];
  #compiled: { text?: Compiled; bytes?: Compiled; version: number } = { version: -1 };

  constructor(opts: RedactorOptions) {
    super();
    // The type requires an audience. A caller the compiler does not check (a test written before
    // audiences existed) gets what every redactor did then: every value scrubbed. Anything else
    // that is not an audience is refused.
    const audience = opts?.audience ?? 'operator';
    if (audience !== 'agent' && audience !== 'operator')
      throw new TypeError(`unknown redactor audience ${JSON.stringify(audience)}: 'agent' or 'operator'`);
    this.audience = audience;
    this.#shapes = [...(opts?.builtins === false ? [] : BUILTIN_SHAPES), ...customShapes(opts?.patterns ?? [])];
  }

  /**
   * Registers a secret (a stored or filled value); its encoded forms are derived here. Returns
   * whether the value is scrubbed by this redactor.
   */
  add(secret: string): boolean {
    // INVARIANT: an agent-facing redactor never scrubs a guessable value: the only thing a literal
    // scrubber can do for one is confirm an agent's guess (issue 13 item 6).
    if (this.audience === 'agent' && isGuessable(secret)) return false;
    this.#forms.add(secret);
    return deriveForms(secret).length > 0;
  }

  /** Number of registered literal forms (text representation). */
  get size(): number {
    return this.#forms.text.size;
  }

  /**
   * A scrubbing set for one action: this redactor's secrets plus `literals` (in all their derived
   * forms, guessable or not). Compiling it costs about as much as compiling the base once; it is
   * meant for actions that fill a guessable value (pass `[value, ...guessWindows(value, …)]`). The
   * base redactor is unchanged; secrets added to it later are seen by the overlay too.
   */
  withExtra(literals: readonly string[]): Scrub {
    const extra = new Forms();
    for (const l of literals) extra.add(l);
    return new Overlay(this.#forms, extra, this.#shapes);
  }

  protected compiled(mode: Mode): Compiled {
    const c = this.#compiled;
    if (c.version !== this.#forms.version) this.#compiled = { version: this.#forms.version };
    return (this.#compiled[mode] ??= compile(this.#forms[mode], this.#shapes, mode));
  }
}

class Overlay extends ScrubBase {
  #compiled: { text?: Compiled; bytes?: Compiled; version: number } = { version: -1 };

  constructor(
    private readonly base: Forms,
    private readonly extra: Forms,
    private readonly shapes: readonly Shape[],
  ) {
    super();
  }

  protected compiled(mode: Mode): Compiled {
    if (this.#compiled.version !== this.base.version) this.#compiled = { version: this.base.version };
    return (this.#compiled[mode] ??= compile([...this.base[mode], ...this.extra[mode]], this.shapes, mode));
  }
}
