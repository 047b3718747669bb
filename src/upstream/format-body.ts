/**
 * Turns a buffered response body into what an agent can read: JSON as JSON, text as text, and
 * anything else as base64.
 */
import { jsonTextDepth, MAX_JSON_DEPTH } from './json-depth.js';

export type FormattedBody =
  | { encoding: 'json'; value: unknown }
  | { encoding: 'text'; value: string }
  | { encoding: 'base64'; value: string };

const JSON_TYPE = /^application\/(json|[^;\s]*\+json)\b|^application\/x-ndjson\b/i;
const TEXT_TYPE = /^(text\/|application\/(xml|[^;\s]*\+xml|javascript|ecmascript|x-www-form-urlencoded|graphql|yaml|x-yaml|toml|sql|csv)\b)/i;
const BINARY_TYPE = /^(image|audio|video|font)\/|^application\/(octet-stream|pdf|zip|gzip|x-tar|wasm|protobuf|x-protobuf|msgpack)\b/i;

function charsetOf(contentType: string): string {
  const m = /;\s*charset="?([^";\s]+)"?/i.exec(contentType);
  return (m?.[1] ?? 'utf-8').toLowerCase();
}

function decodeText(buf: Buffer, charset: string): string | null {
  try {
    return new TextDecoder(charset, { fatal: true }).decode(buf);
  } catch {
    return null;
  }
}

function looksTextual(s: string): boolean {
  // Control characters other than tab, CR, LF mean binary.
  return !/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s);
}

export function formatBody(contentType: string | undefined, buf: Buffer): FormattedBody {
  const ct = (contentType ?? '').trim();
  if (buf.length === 0) return { encoding: 'text', value: '' };
  if (BINARY_TYPE.test(ct)) return { encoding: 'base64', value: buf.toString('base64') };
  const text = decodeText(buf, charsetOf(ct));
  if (text === null) return { encoding: 'base64', value: buf.toString('base64') };
  // JSON nested deeper than MAX_JSON_DEPTH stays text: parsed, it would overflow the stack of
  // whatever serialises the result (an MCP response), an untyped failure instead of an answer.
  if (JSON_TYPE.test(ct) && !/ndjson/i.test(ct) && jsonTextDepth(text) <= MAX_JSON_DEPTH) {
    try {
      return { encoding: 'json', value: JSON.parse(text) as unknown };
    } catch {
      // Truncated or malformed JSON stays readable as text.
      return { encoding: 'text', value: text };
    }
  }
  if (JSON_TYPE.test(ct) || TEXT_TYPE.test(ct)) return { encoding: 'text', value: text };
  return looksTextual(text) ? { encoding: 'text', value: text } : { encoding: 'base64', value: buf.toString('base64') };
}
