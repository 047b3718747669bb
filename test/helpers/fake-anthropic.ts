/**
 * A scripted stand-in for the Anthropic Messages API on loopback, for driving the real Claude Code
 * CLI (ANTHROPIC_BASE_URL) in tests: the "model" is a function from the conversation so far to its
 * next turn (a tool call or text). Answers stream as the real API does (SSE events), and every
 * request is kept so a test can read exactly what Claude Code sent, tool results included.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MessagesRequest {
  model?: string;
  stream?: boolean;
  tools?: { name: string }[];
  messages?: { role: string; content: unknown }[];
}

export type Turn = { tool: string; input: Record<string, unknown> } | { text: string };

/** The text of the last tool result in the conversation (what the model was shown), if the last turn is one. */
export function lastToolResult(body: MessagesRequest): { text: string; isError: boolean } | undefined {
  const last = body.messages?.at(-1);
  if (!Array.isArray(last?.content)) return undefined;
  const block = (last.content as { type?: string; content?: unknown; is_error?: boolean }[]).find(
    (b) => b.type === 'tool_result',
  );
  if (!block) return undefined;
  const c = block.content;
  const text =
    typeof c === 'string'
      ? c
      : Array.isArray(c)
        ? (c as { type?: string; text?: string }[]).map((b) => (b.type === 'text' ? (b.text ?? '') : '')).join('\n')
        : JSON.stringify(c);
  return { text, isError: block.is_error === true };
}

export interface FakeModel {
  url: string;
  requests: MessagesRequest[];
  close(): Promise<void>;
}

export async function startFakeModel(script: (body: MessagesRequest) => Turn | Promise<Turn>): Promise<FakeModel> {
  const requests: MessagesRequest[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method !== 'POST' || path !== '/v1/messages') {
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not here' } }));
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as MessagesRequest;
        requests.push(body);
        const turn = await script(body);
        const id = `msg_fake_${++n}`;
        type Block =
          | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
          | { type: 'text'; text: string };
        const content: Block[] =
          'tool' in turn
            ? [{ type: 'tool_use', id: `toolu_fake_${n}`, name: turn.tool, input: turn.input }]
            : [{ type: 'text', text: turn.text }];
        const usage = {
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        };
        const stop = 'tool' in turn ? 'tool_use' : 'end_turn';
        const message = { id, type: 'message', role: 'assistant', model: body.model ?? 'fake', content, usage };
        if (!body.stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ ...message, stop_reason: stop, stop_sequence: null }));
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const event = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
        event('message_start', {
          type: 'message_start',
          message: { ...message, content: [], stop_reason: null, stop_sequence: null },
        });
        content.forEach((block, index) => {
          if (block.type === 'text') {
            event('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { type: 'text', text: '' },
            });
            event('content_block_delta', {
              type: 'content_block_delta',
              index,
              delta: { type: 'text_delta', text: block.text },
            });
          } else {
            event('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
            });
            event('content_block_delta', {
              type: 'content_block_delta',
              index,
              delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
            });
          }
          event('content_block_stop', { type: 'content_block_stop', index });
        });
        event('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: stop, stop_sequence: null },
          usage: { output_tokens: 5 },
        });
        event('message_stop', { type: 'message_stop' });
        res.end();
      })().catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(e) } }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
