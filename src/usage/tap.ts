/**
 * Reads token counts out of a model API's response as it streams past (issue 20 item 3), without
 * holding the stream: server-sent events are read line by line as they pass; a plain JSON answer
 * is kept only up to MAX_JSON bytes (past it, no count is read; the answer itself is untouched).
 *
 * Formats: Anthropic Messages (`usage` in the answer; streamed, `message_start.message.usage` then
 * the cumulative `message_delta.usage`) and OpenAI Chat Completions / Responses (`usage` in the
 * answer, or in the last streamed chunk when the client asked for it).
 */
import type { ModelPreset } from '../targets/index.js';

/** Tokens one call used. */
export interface ModelUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

const MAX_JSON = 4 * 1024 * 1024;
/** A line longer than this is not an event we read counts from (it still passes untouched). */
const MAX_LINE = 1024 * 1024;

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' ? (v as Json) : undefined);

export class UsageTap {
  readonly #preset: ModelPreset;
  #mode: 'unknown' | 'sse' | 'json' = 'unknown';
  #line = '';
  #json: Buffer[] = [];
  #jsonBytes = 0;
  #usage: ModelUsage | undefined;

  constructor(preset: ModelPreset) {
    this.#preset = preset;
  }

  /** Sees one chunk of the (decoded) response body; the first one says whether it is JSON or events. */
  push(chunk: Buffer): void {
    if (this.#mode === 'unknown') {
      // Model APIs answer JSON or server-sent events: the first character that is not white space says which.
      const head = chunk.toString('latin1').trimStart();
      if (head === '') return;
      this.#mode = head.startsWith('{') || head.startsWith('[') ? 'json' : 'sse';
    }
    if (this.#mode === 'json') {
      this.#jsonBytes += chunk.length;
      if (this.#jsonBytes <= MAX_JSON) this.#json.push(chunk);
      return;
    }
    if (this.#mode !== 'sse') return;
    const text = this.#line + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#line = lines.pop() ?? '';
    if (this.#line.length > MAX_LINE) this.#line = '';
    for (const l of lines) this.#event(l.replace(/\r$/, ''));
  }

  /** The counts the response carried, once it ended (undefined: it carried none we could read). */
  end(): ModelUsage | undefined {
    if (this.#mode === 'sse' && this.#line) this.#event(this.#line);
    if (this.#mode === 'json' && this.#jsonBytes <= MAX_JSON) {
      try {
        this.#take(obj(JSON.parse(Buffer.concat(this.#json).toString('utf8'))));
      } catch {
        /* not JSON after all: no counts */
      }
    }
    return this.#usage;
  }

  #event(line: string): void {
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (!data.startsWith('{')) return;
    try {
      this.#take(obj(JSON.parse(data)));
    } catch {
      /* an event that is not JSON: nothing to count */
    }
  }

  #take(m: Json | undefined): void {
    if (!m) return;
    if (this.#preset === 'anthropic') {
      // Streamed: message_start carries input (and cache) counts; message_delta the output so far.
      const u = obj(m.usage) ?? obj(obj(m.message)?.usage);
      if (!u) return;
      const cur = this.#usage ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
      this.#usage = {
        input: u.input_tokens !== undefined ? n(u.input_tokens) : cur.input,
        output: u.output_tokens !== undefined ? n(u.output_tokens) : cur.output,
        cacheRead: u.cache_read_input_tokens !== undefined ? n(u.cache_read_input_tokens) : cur.cacheRead,
        cacheWrite: u.cache_creation_input_tokens !== undefined ? n(u.cache_creation_input_tokens) : cur.cacheWrite,
      };
      return;
    }
    // OpenAI: chat completions (prompt/completion) or responses (input/output), with cached detail.
    const u = obj(m.usage) ?? obj(obj(m.response)?.usage);
    if (!u) return;
    const details = obj(u.prompt_tokens_details) ?? obj(u.input_tokens_details);
    this.#usage = {
      input: n(u.prompt_tokens ?? u.input_tokens),
      output: n(u.completion_tokens ?? u.output_tokens),
      cacheRead: n(details?.cached_tokens),
      cacheWrite: 0,
    };
  }
}
