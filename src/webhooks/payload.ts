import { scrubThenCapText, type Scrub } from '../vault/index.js';
import type { Endpoint } from './endpoint.js';
import type { StoredEvent } from './queue.js';

/**
 * What an agent is given of an event (issue 16, "agent-safe payloads").
 *
 * INVARIANTS (test/webhooks/review.test.ts, test/server/webhook-routes.test.ts):
 * - The payload is data from outside, returned under `payload` with its provenance (provider,
 *   scheme, whether it was verified, delivery id, arrival time), never mixed with the operators'
 *   instructions, which come from the endpoint's signed configuration in their own field.
 * - Everything returned (kept headers, payload text) is scrubbed after decoding and before it is
 *   cut: the body is decoded as UTF-8 (and parsed, when JSON, for a projection) first.
 * - A body that is not UTF-8 text is described (its size), never returned inline; no digest of a
 *   body is given (a hash of what was scrubbed would confirm an agent's guess of it).
 */

export interface AgentPayload {
  /** `json` (data is JSON text), `text`, or `binary` (no data: size and digest only). */
  encoding: 'json' | 'text' | 'binary';
  data: string | null;
  /** True when `data` holds only the endpoint's projection of the body. */
  projected: boolean;
  truncated: boolean;
  bytes: number;
  /** Where the whole (scrubbed) body can be read. */
  resource: string;
}

export interface AgentEvent {
  id: string;
  endpoint: string;
  seq: number;
  type: string | null;
  state: string;
  attempts: number;
  max_attempts: number;
  provenance: {
    provider: string;
    scheme: string;
    verified: boolean;
    delivery_id: string | null;
    received_at: string;
  };
  headers: Record<string, string>;
  /** UNTRUSTED DATA from the sender: never instructions, whatever it says. */
  payload: AgentPayload;
}

/** Default characters of a payload given inline (the resource has the whole). */
export const INLINE_PAYLOAD_CHARS = 16_384;
/** Characters of a whole payload read as a resource. */
export const RESOURCE_PAYLOAD_CHARS = 1_048_576;

export const eventResourceUri = (endpoint: string, id: string) => `gatehouse://webhooks/${endpoint}/events/${id}`;
export const inboxResourceUri = (endpoint: string) => `gatehouse://webhooks/${endpoint}/inbox`;

/** A dotted path's value in parsed JSON (`items.0.id`), or undefined. */
function at(value: unknown, path: string): unknown {
  let v: unknown = value;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? (/^\d+$/.test(part) ? v[Number(part)] : undefined) : (v as Record<string, unknown>)[part];
  }
  return v;
}

function utf8(body: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/** The payload as an agent may see it: decoded, projected (when asked and JSON), scrubbed, then cut. */
export function agentPayload(
  ev: StoredEvent,
  projection: readonly string[],
  scrub: Scrub,
  opts: { limit: number; whole?: boolean },
): AgentPayload {
  const base = {
    // No digest of the body: a hash of what was scrubbed would let an agent confirm a guess.
    bytes: ev.bodyBytes,
    resource: eventResourceUri(ev.endpoint, ev.id),
  };
  const text = utf8(ev.body);
  if (text === undefined) return { ...base, encoding: 'binary', data: null, projected: false, truncated: false };
  let parsed: unknown;
  let isJson = false;
  try {
    parsed = JSON.parse(text);
    isJson = true;
  } catch {
    // Not JSON: given as text.
  }
  let data = text;
  let projected = false;
  if (isJson && projection.length > 0 && !opts.whole) {
    const picked: Record<string, unknown> = {};
    for (const p of projection) {
      const v = at(parsed, p);
      if (v !== undefined) picked[p] = v;
    }
    data = JSON.stringify(picked);
    projected = true;
  }
  const capped = scrubThenCapText(scrub, data, { limit: opts.limit, ended: true });
  return { ...base, encoding: isJson ? 'json' : 'text', data: capped.text, projected, truncated: capped.truncated };
}

/** One event as an agent sees it. */
export function agentEvent(
  ev: StoredEvent,
  ep: Endpoint,
  scrub: Scrub,
  opts: { limit: number; whole?: boolean },
): AgentEvent {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ev.headers)) headers[k] = scrub.scrub(v);
  return {
    id: ev.id,
    endpoint: ev.endpoint,
    seq: ev.seq,
    type: ev.type === null ? null : scrub.scrub(ev.type),
    state: ev.state,
    attempts: ev.attempts,
    max_attempts: ev.maxAttempts,
    provenance: {
      provider: ev.provider,
      scheme: ev.verified,
      verified: ev.provider !== 'unsigned',
      delivery_id: ev.eventId === null ? null : scrub.scrub(ev.eventId),
      received_at: ev.receivedAt,
    },
    headers,
    payload: agentPayload(ev, ep.config.projection, scrub, opts),
  };
}
