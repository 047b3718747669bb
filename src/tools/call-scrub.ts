import type { Transform } from 'node:stream';
import { GatehouseError, toGatehouseError, type FlushableRewriter, type OutputScrub } from '../core/index.js';
import {
  GUESS_WINDOW_MAX,
  guessWindows,
  isGuessable,
  scrubThenCap,
  type Redactor,
  type Scrub,
} from '../vault/index.js';

/**
 * The scrubbing of ONE call: what every result, stream and error of this call passes through on
 * its way to the agent (the result boundary in src/server/mcp.ts and the plain routes apply it, so
 * a tool that forgets to scrub cannot leak).
 *
 * It starts as the agent-facing redactor (strong secrets, known shapes). When Gatehouse fills a
 * GUESSABLE value into this call (a PIN in a header), the agent redactor does not know it (scrubbing
 * a guessable value everywhere would let an agent test guesses), so this call switches to an
 * overlay that hides the value AND every string the agent sent in this call that could be it
 * (same length and character classes, in every derived form): whether a guess in the same request
 * equals the value, exactly the same strings come back hidden.
 *
 * INVARIANT: hiding never depends on whether an agent-chosen string equals a secret. A call whose
 * own text holds too many strings shaped like a guessable filled value is refused before anything
 * is sent; that depends only on shapes.
 */
export class CallScrub implements Scrub, OutputScrub {
  readonly #base: Redactor;
  readonly #agentTexts: string[];
  readonly #extra = new Set<string>();
  #current: Scrub;

  constructor(base: Redactor, agentInput: unknown) {
    this.#base = base;
    this.#current = base;
    this.#agentTexts = stringsIn(agentInput);
  }

  /** More text the agent sent in this call, known only later (a body read after the gate's checks); before any fill. */
  agentSent(...texts: string[]): void {
    this.#agentTexts.push(...texts);
  }

  /**
   * Registers values Gatehouse filled into this call. Strong ones are already scrubbed by the
   * base redactor (the caller registers them there); guessable ones join this call's overlay.
   */
  filled(values: readonly string[]): void {
    let changed = false;
    for (const v of values) {
      if (!isGuessable(v) || this.#extra.has(v)) continue;
      const windows = guessWindows(v, this.#agentTexts, GUESS_WINDOW_MAX);
      if (windows === 'too_many') {
        throw new GatehouseError(
          'vault_handle_refused',
          'a guessable vault value cannot be filled into a request that also carries this much text shaped like it',
          {
            hint: 'send the handle in a smaller request (fewer other values of the same length and kind), or ask an operator to store a long random value instead',
          },
        );
      }
      this.#extra.add(v);
      for (const w of windows) this.#extra.add(w);
      changed = true;
    }
    if (changed) this.#current = this.#base.withExtra([...this.#extra]);
  }

  scrub(text: string): string {
    return this.#current.scrub(text);
  }
  createScrubber(): FlushableRewriter {
    return this.#current.createScrubber();
  }
  createTextScrubber(): ReturnType<Scrub['createTextScrubber']> {
    return this.#current.createTextScrubber();
  }
  createScrubStream(): Transform {
    return this.#current.createScrubStream();
  }
  holdBack(): number {
    return this.#current.holdBack();
  }
  /** Scrubs what was read of one output stream, then cuts it (see OutputScrub). */
  capped(raw: Buffer, limit: number, ended: boolean): { output: Buffer; truncated: boolean } {
    return scrubThenCap(this.#current, raw, { limit, ended });
  }

  /** An error as the agent may see it: message, hint and details passed through this call's scrubbing. */
  error(e: unknown): GatehouseError {
    const j = toGatehouseError(e).toJSON();
    return new GatehouseError(j.code, this.scrub(j.message), {
      ...(j.hint !== undefined ? { hint: this.scrub(j.hint) } : {}),
      ...(j.details !== undefined ? { details: this.scrubValue(j.details) } : {}),
      cause: e,
    });
  }

  /** Every string leaf of a result (and object key), scrubbed; other values unchanged. */
  scrubValue<T>(value: T): T {
    return scrubLeaves(value, (s) => this.#current.scrub(s)) as T;
  }
}

/** Every string (and object key) in a value the agent sent, iteratively (depth is bounded upstream). */
function stringsIn(value: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out.push(k);
        stack.push(x);
      }
    }
  }
  return out;
}

function scrubLeaves(value: unknown, scrub: (s: string) => string): unknown {
  if (typeof value === 'string') return scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubLeaves(v, scrub));
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[scrub(k)] = scrubLeaves(v, scrub);
    return out;
  }
  return value;
}
