/**
 * Turns a buffered response body into what an agent can read: JSON as JSON, text as text, and
 * anything else as base64.
 */
import {
  isBinaryMedia,
  isJsonMedia,
  isNdjsonMedia,
  isTextResponseMedia,
  mediaParams,
  mediaTypeOf,
  type MediaType,
} from '../core/index.js';
import { jsonTextDepth, MAX_JSON_DEPTH } from './json-depth.js';

export type FormattedBody =
  { encoding: 'json'; value: unknown } | { encoding: 'text'; value: string } | { encoding: 'base64'; value: string };

function charsetOf(media: MediaType | undefined): string {
  return (mediaParams(media, 'charset')[0] ?? 'utf-8').toLowerCase();
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
  const media = mediaTypeOf(contentType);
  if (buf.length === 0) return { encoding: 'text', value: '' };
  if (isBinaryMedia(media)) return { encoding: 'base64', value: buf.toString('base64') };
  const text = decodeText(buf, charsetOf(media));
  if (text === null) return { encoding: 'base64', value: buf.toString('base64') };
  // JSON nested deeper than MAX_JSON_DEPTH stays text: parsed, it would overflow the stack of
  // whatever serialises the result (an MCP response), an untyped failure instead of an answer.
  if (isJsonMedia(media) && !isNdjsonMedia(media) && jsonTextDepth(text) <= MAX_JSON_DEPTH) {
    try {
      return { encoding: 'json', value: JSON.parse(text) as unknown };
    } catch {
      // Truncated or malformed JSON stays readable as text.
      return { encoding: 'text', value: text };
    }
  }
  if (isJsonMedia(media) || isTextResponseMedia(media)) return { encoding: 'text', value: text };
  return looksTextual(text) ? { encoding: 'text', value: text } : { encoding: 'base64', value: buf.toString('base64') };
}
