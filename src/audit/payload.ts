import { createHash } from 'node:crypto';
import { GatehouseError, truncateText } from '../core/index.js';
import { canonicalText } from './canonical.js';

/**
 * Payload values: the full texts of what ran or was sent (a command, its stdin, its environment as
 * JSON, a session transcript, a file's content), kept whole so that an audit record never drops
 * what ran. A value is stored inline in the record's `payload` column when its UTF-8 form is at
 * most INLINE_PAYLOAD_BYTES, otherwise in `audit_blobs` (sha256 -> data) in the same transaction,
 * the record keeping `{sha256, bytes}`. Either way the chain hash covers it.
 */

/** Values up to this many UTF-8 bytes are stored inside the record. */
export const INLINE_PAYLOAD_BYTES = 4096;
/** The most one payload value may hold (UTF-8 bytes of its canonical form). */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** How a record refers to one payload value. */
export type AuditPayloadRef = { text: string } | { sha256: string; bytes: number };

/** A blob to write with the record that refers to it. */
export interface BlobWrite {
  sha256: string;
  bytes: number;
  data: Buffer;
}

/**
 * Payload names the callers choose (`command`, `stdin`, `env`, `transcript`, `content`, ...).
 * Names starting with `@` are the log's own: a text column too long to show whole keeps its full
 * text under `@` + the column's name (`@action`, `@detail`).
 */
const NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
export const SPILLED = '@';

export function checkPayloadName(name: string): void {
  // INVARIANT: a caller cannot write under the log's own names, so `@action` is always the
  // action's full text.
  if (!NAME.test(name)) {
    throw new GatehouseError(
      'invalid_input',
      `audit payload name ${JSON.stringify(truncateText(name, 80))} is not allowed`,
      {
        hint: 'use 1-64 letters, digits, _ . : - starting with a letter (e.g. command, stdin, env, transcript)',
      },
    );
  }
}

/**
 * Turns canonical, scrubbed payload texts into the record's `payload` column (JSON, names sorted)
 * and the blobs to write with it. Throws `input_too_large` for a value over MAX_PAYLOAD_BYTES:
 * the record is refused rather than cut.
 */
export function payloadColumn(values: [string, string][], blobs: BlobWrite[]): string | null {
  if (values.length === 0) return null;
  values.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const refs: Record<string, AuditPayloadRef> = {};
  for (const [name, text] of values) {
    // At most 3 UTF-8 bytes per UTF-16 unit: short values need no encoding to be known small.
    if (text.length * 3 <= INLINE_PAYLOAD_BYTES) {
      refs[name] = { text };
      continue;
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new GatehouseError(
        'input_too_large',
        `the audit record's ${name} is ${bytes} bytes; one record keeps at most ${MAX_PAYLOAD_BYTES} bytes per value`,
        {
          hint: 'send less at once (split the input into smaller parts); the audit log keeps every byte that runs, so it refuses rather than cuts',
        },
      );
    }
    if (bytes <= INLINE_PAYLOAD_BYTES) {
      refs[name] = { text };
      continue;
    }
    const data = Buffer.from(text, 'utf8');
    const sha256 = createHash('sha256').update(data).digest('hex');
    blobs.push({ sha256, bytes, data });
    refs[name] = { sha256, bytes };
  }
  return JSON.stringify(refs);
}

/** Parses a `payload` column; null when absent, undefined when it is not what the log writes. */
export function parsePayloadColumn(raw: unknown): Record<string, AuditPayloadRef> | null | undefined {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'string') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, AuditPayloadRef> = Object.create(null) as Record<string, AuditPayloadRef>;
  for (const [k, r] of Object.entries(v as Record<string, unknown>)) {
    if (r === null || typeof r !== 'object') return undefined;
    const ref = r as Record<string, unknown>;
    if (typeof ref.text === 'string') out[k] = { text: ref.text };
    else if (typeof ref.sha256 === 'string' && /^[0-9a-f]{64}$/.test(ref.sha256) && Number.isSafeInteger(ref.bytes))
      out[k] = { sha256: ref.sha256, bytes: ref.bytes as number };
    else return undefined;
  }
  return out;
}

/** A UTF-8 continuation byte (10xxxxxx); past the end there is none. */
const isContinuation = (b: number | undefined): boolean => b !== undefined && (b & 0xc0) === 0x80;

/**
 * A text too large for one payload value as several: `name` when it fits, else `name.1`,
 * `name.2`, … each at most `maxBytes` of UTF-8 and together the whole (canonical) text. Cuts fall
 * between code points, at a line end where there is one in the second half of a part. Each part
 * is scrubbed on its own, so scrub the whole text before splitting it (the session transcript
 * is). For texts whose size Gatehouse does not bound itself (a long session's transcript); inputs
 * an agent sends should be bounded before they get here.
 */
export function payloadParts(name: string, text: string, maxBytes: number = MAX_PAYLOAD_BYTES): Record<string, string> {
  if (!(maxBytes >= 4)) throw new GatehouseError('invalid_input', 'payload parts need room for one character');
  const whole = canonicalText(text);
  if (whole.length * 3 <= maxBytes) return { [name]: whole };
  const buf = Buffer.from(whole, 'utf8');
  if (buf.length <= maxBytes) return { [name]: whole };
  const out: Record<string, string> = {};
  let start = 0;
  let n = 0;
  while (start < buf.length) {
    let end = Math.min(buf.length, start + maxBytes);
    if (end < buf.length) {
      // Back off to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
      while (end > start && isContinuation(buf[end])) end--;
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl >= start + maxBytes / 2) end = nl + 1;
    }
    out[`${name}.${++n}`] = buf.toString('utf8', start, end);
    start = end;
  }
  return out;
}

/**
 * The payload of an action: the full texts of what runs. Names: `command`, `stdin`, `env` (JSON,
 * keys sorted), `request` (an HTTP method and path with its query), `headers` (JSON, keys
 * sorted), `body`, `path`, `content`, and `bound` (JSON of every other input that changes what
 * happens, keys sorted). Absent parts are left out; undefined when there is nothing.
 */
export function actionPayload(parts: {
  command?: string;
  stdin?: string;
  env?: Readonly<Record<string, string>>;
  request?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string;
  path?: string;
  content?: string;
  bound?: Readonly<Record<string, string>>;
}): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (parts.command !== undefined) out.command = parts.command;
  if (parts.stdin !== undefined) out.stdin = parts.stdin;
  if (parts.env !== undefined) out.env = sortedJson(parts.env);
  if (parts.request !== undefined) out.request = parts.request;
  if (parts.headers !== undefined && Object.keys(parts.headers).length > 0) out.headers = sortedJson(parts.headers);
  if (parts.body !== undefined) out.body = parts.body;
  if (parts.path !== undefined) out.path = parts.path;
  if (parts.content !== undefined) out.content = parts.content;
  if (parts.bound !== undefined && Object.keys(parts.bound).length > 0) out.bound = sortedJson(parts.bound);
  return Object.keys(out).length > 0 ? out : undefined;
}

function sortedJson(o: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    ),
  );
}
