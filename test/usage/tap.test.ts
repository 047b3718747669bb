/**
 * The usage tap reads token counts from model answers as they pass, in any chunking: Anthropic
 * and OpenAI, plain JSON and server-sent events; an answer without counts gives none.
 */
import { describe, expect, it } from 'vitest';
import { UsageTap } from '../../src/usage/index.js';
import type { ModelPreset } from '../../src/targets/index.js';

/** Feeds `text` in chunks of `size` bytes (1: every byte on its own). */
function read(preset: ModelPreset, text: string, size: number) {
  const tap = new UsageTap(preset);
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
  return tap.end();
}

const ANTHROPIC_JSON = JSON.stringify({
  type: 'message',
  content: [{ type: 'text', text: 'usage: {"input_tokens": 999}' }],
  usage: { input_tokens: 12, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 3 },
});
const ANTHROPIC_SSE = [
  'event: message_start',
  `data: ${JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 100 } } })}`,
  '',
  'event: content_block_delta',
  `data: ${JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'hi' } })}`,
  '',
  'event: message_delta',
  `data: ${JSON.stringify({ type: 'message_delta', usage: { output_tokens: 7 } })}`,
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
].join('\r\n');
const OPENAI_JSON = JSON.stringify({
  object: 'chat.completion',
  usage: { prompt_tokens: 20, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 8 } },
});
const OPENAI_SSE = [
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ delta: { content: 'a' } }] })}`,
  '',
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 20, completion_tokens: 5 } })}`,
  '',
  'data: [DONE]',
  '',
].join('\n');

describe('usage tap', () => {
  for (const size of [1, 7, 64, 1 << 20]) {
    it(`reads Anthropic and OpenAI counts, JSON and streamed, in chunks of ${size} bytes`, () => {
      expect(read('anthropic', ANTHROPIC_JSON, size)).toEqual({ input: 12, output: 7, cacheRead: 100, cacheWrite: 3 });
      expect(read('anthropic', ANTHROPIC_SSE, size)).toEqual({ input: 12, output: 7, cacheRead: 100, cacheWrite: 0 });
      expect(read('openai', OPENAI_JSON, size)).toEqual({ input: 20, output: 5, cacheRead: 8, cacheWrite: 0 });
      expect(read('openai', OPENAI_SSE, size)).toEqual({ input: 20, output: 5, cacheRead: 0, cacheWrite: 0 });
    });
  }

  it('gives no counts for answers without them, an error page, or nonsense', () => {
    expect(read('openai', 'data: {"choices":[]}\n\ndata: [DONE]\n\n', 5)).toBeUndefined();
    expect(read('anthropic', '<html>bad gateway</html>', 5)).toBeUndefined();
    expect(read('anthropic', '{"usage": {"input_tokens": -5, "output_tokens": "9"}}', 3)).toEqual({
      input: 0,
      output: 0,
      cacheRead: 0,
      cacheWrite: 0,
    });
  });
});
