import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import type { EndpointConfig } from './endpoint.js';

/**
 * A sample event signed the way the endpoint's provider signs (issue 16: `gatehouse webhook test`
 * sends one to the running server; the bench and the README's simulated senders use it too). Each
 * scheme is written here from the provider's documentation, independently of verify.ts, so a test
 * that sends one checks the verifier against a second reading of the same documents.
 */

const hmacHex = (alg: 'sha256' | 'sha512', key: string | Buffer, data: string) =>
  createHmac(alg, key).update(data).digest('hex');
const hmacB64 = (alg: 'sha256' | 'sha512', key: string | Buffer, data: string) =>
  createHmac(alg, key).update(data).digest('base64');

/** A small body of the shape the provider sends, with a fresh id and the given type. */
export function sampleEvent(
  provider: EndpointConfig['provider'],
  now: number,
  type?: string,
  custom?: EndpointConfig['custom'],
): { body: string; type: string } {
  const id = randomBytes(8).toString('hex');
  switch (provider) {
    case 'stripe': {
      const t = type ?? 'payment_intent.succeeded';
      return {
        type: t,
        body: JSON.stringify({
          id: `evt_${id}`,
          object: 'event',
          type: t,
          created: Math.floor(now / 1000),
          data: { object: { id: `pi_${id}`, amount: 2000, currency: 'usd' } },
        }),
      };
    }
    case 'github': {
      const t = type ?? 'ping';
      return {
        type: t,
        body: JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1, action: 'test', sample: id }),
      };
    }
    case 'slack': {
      const t = type ?? 'app_mention';
      return {
        type: t,
        body: JSON.stringify({
          type: 'event_callback',
          event_id: `Ev${id}`,
          event_time: Math.floor(now / 1000),
          event: { type: t, text: 'hello from gatehouse webhook test' },
        }),
      };
    }
    case 'linear': {
      const t = type ?? 'Issue';
      return {
        type: t,
        body: JSON.stringify({
          action: 'create',
          type: t,
          webhookTimestamp: now,
          webhookId: id,
          data: { title: 'Sample issue' },
        }),
      };
    }
    default: {
      const t = type ?? 'gatehouse.test';
      if (custom) {
        // A custom scheme may read its id, timestamp or type from the body: they are put there.
        const o: Record<string, unknown> = {
          id: `evt_${id}`,
          type: t,
          data: { message: 'hello from gatehouse webhook test' },
        };
        if (custom.id?.from === 'json') o[custom.id.name] = `evt_${id}`;
        if (custom.type?.from === 'json') o[custom.type.name] = t;
        if (custom.timestamp?.from === 'json')
          o[custom.timestamp.name] = custom.timestamp.unit === 'ms' ? now : Math.floor(now / 1000);
        return { type: t, body: JSON.stringify(o) };
      }
      return {
        type: t,
        body: JSON.stringify({
          type: t,
          id: `evt_${id}`,
          created_at: new Date(now).toISOString(),
          data: { message: 'hello from gatehouse webhook test' },
        }),
      };
    }
  }
}

/**
 * The headers a provider would send with `body`, signed with `secret` at `now` (ms). `url` is the
 * URL posted to (custom schemes may sign it).
 */
export function signSample(
  c: EndpointConfig,
  secret: string | undefined,
  body: string,
  now: number,
  type: string,
  url = '',
): Record<string, string> {
  const ts = String(Math.floor(now / 1000));
  const need = (): string => {
    if (secret === undefined)
      throw new GatehouseError('usage', 'this endpoint has no active secret to sign a sample with', {
        hint: 'an endpoint that verifies only Ed25519 signatures cannot be tested this way: send from the provider',
      });
    return secret;
  };
  const json = { 'content-type': 'application/json' };
  switch (c.provider) {
    case 'standard-webhooks':
    case 'svix': {
      const p = c.provider === 'svix' ? 'svix' : 'webhook';
      const id = `msg_${randomBytes(12).toString('base64url')}`;
      const s = need();
      const key = Buffer.from(s.startsWith('whsec_') ? s.slice(6) : s, 'base64');
      return {
        ...json,
        [`${p}-id`]: id,
        [`${p}-timestamp`]: ts,
        [`${p}-signature`]: `v1,${hmacB64('sha256', key, `${id}.${ts}.${body}`)}`,
      };
    }
    case 'stripe':
      return { ...json, 'stripe-signature': `t=${ts},v1=${hmacHex('sha256', need(), `${ts}.${body}`)}` };
    case 'github':
      return {
        ...json,
        'x-github-delivery': randomUUID(),
        'x-github-event': type,
        'x-github-hook-id': '1',
        'x-hub-signature-256': `sha256=${hmacHex('sha256', need(), body)}`,
      };
    case 'slack':
      return {
        ...json,
        'x-slack-request-timestamp': ts,
        'x-slack-signature': `v0=${hmacHex('sha256', need(), `v0:${ts}:${body}`)}`,
      };
    case 'gitlab':
      return {
        ...json,
        'x-gitlab-token': need(),
        'x-gitlab-event': type,
        'idempotency-key': randomUUID(),
        'x-gitlab-event-uuid': randomUUID(),
      };
    case 'linear':
      return {
        ...json,
        'linear-signature': hmacHex('sha256', need(), body),
        'linear-delivery': randomUUID(),
        'linear-event': type,
      };
    case 'shopify':
      return {
        ...json,
        'x-shopify-hmac-sha256': hmacB64('sha256', need(), body),
        'x-shopify-event-id': randomUUID(),
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-topic': type,
      };
    case 'hookdeck':
      return {
        ...json,
        'x-hookdeck-signature': hmacB64('sha256', need(), body),
        'x-hookdeck-eventid': `evt_${randomBytes(8).toString('hex')}`,
        'x-hookdeck-topic': type,
      };
    case 'unsigned':
      return json;
    case 'custom': {
      const s = c.custom!;
      if (s.algorithm === 'ed25519')
        throw new GatehouseError(
          'usage',
          'an Ed25519 custom scheme is signed with the sender’s private key, which Gatehouse does not hold',
          {
            hint: 'send a test event from the provider',
          },
        );
      const headers: Record<string, string> = { ...json };
      const fromBody = (name: string) => {
        try {
          const v = (JSON.parse(body) as Record<string, unknown>)[name];
          return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
        } catch {
          return undefined;
        }
      };
      const id = s.id?.from === 'json' ? (fromBody(s.id.name) ?? '') : `evt_${randomBytes(8).toString('hex')}`;
      const kv: string[] = [];
      if (s.timestamp?.from === 'header')
        headers[s.timestamp.name.toLowerCase()] = s.timestamp.unit === 'ms' ? String(now) : ts;
      if (s.timestamp?.from === 'kv') kv.push(`${s.timestamp.name}=${s.timestamp.unit === 'ms' ? now : ts}`);
      if (s.id?.from === 'header') headers[s.id.name.toLowerCase()] = id;
      if (s.type?.from === 'header') headers[s.type.name.toLowerCase()] = type;
      const tsText =
        s.timestamp?.from === 'json'
          ? (fromBody(s.timestamp.name) ?? '')
          : s.timestamp?.unit === 'ms'
            ? String(now)
            : ts;
      const signed = s.template
        .split(/(\{id\}|\{timestamp\}|\{body\}|\{url\})/)
        .map((p) =>
          p === '{body}' ? body : p === '{id}' ? id : p === '{timestamp}' ? tsText : p === '{url}' ? url : p,
        )
        .join('');
      const mac = createHmac(s.algorithm, need())
        .update(signed)
        .digest(s.encoding === 'hex' ? 'hex' : 'base64');
      const sig = `${s.prefix ?? ''}${mac}`;
      headers[s.header.toLowerCase()] = s.parse === 'kv' ? [...kv, `${s.signatureKey ?? 'v1'}=${sig}`].join(',') : sig;
      return headers;
    }
  }
}
