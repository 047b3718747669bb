/**
 * Webhook verification presets (src/webhooks/verify.ts), each against fixtures signed the way the
 * provider signs them (and Standard Webhooks against its specification's published example): a
 * genuine event is accepted with its id, type and dedupe key; a tampered body, a wrong secret,
 * stale and future timestamps, missing or malformed headers, a SHA-1 downgrade and a replay with
 * its id stripped are refused or deduped, with a typed reason that never echoes a secret.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { customScheme, PRESETS, type InboundRequest, type Verification } from '../../src/webhooks/index.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const T = Math.floor(NOW / 1000);
const hmacHex = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest('hex');
const hmacB64 = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest('base64');
const req = (
  headers: Record<string, string>,
  body: string,
  url = 'https://gh.example/webhooks/in/k',
): InboundRequest => ({
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  body: Buffer.from(body),
  url,
});
const reason = (v: Verification) => (v.ok ? 'ok' : v.reason);

describe('Standard Webhooks', () => {
  it('accepts the specification’s own example', () => {
    // From the Standard Webhooks specification's reference example.
    const r = req(
      {
        'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        'webhook-timestamp': '1614265330',
        'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      },
      '{"test": 2432232314}',
    );
    const v = PRESETS['standard-webhooks'](
      r,
      { secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
      { now: 1614265330 * 1000 },
    );
    expect(v).toMatchObject({
      ok: true,
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      dedupeKey: 'id:msg_p5jXN8AQM9LWM0D4loKWxJek',
    });
  });

  const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const signed = (id: string, ts: number, body: string, extra = '') =>
    req(
      {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': `${extra}v1,${hmacB64(key, `${id}.${ts}.${body}`)}`,
      },
      body,
    );
  const verify = (r: InboundRequest, secrets = [secret]) => PRESETS['standard-webhooks'](r, { secrets }, { now: NOW });

  it('accepts several signatures and several secrets (rotation), refuses everything else', () => {
    const body = '{"type":"invoice.paid"}';
    expect(verify(signed('msg_1', T, body, 'v1,AAAA v1a,BBBB '))).toMatchObject({ ok: true, type: 'invoice.paid' });
    expect(verify(signed('msg_1', T, body), ['whsec_' + Buffer.from('old-key').toString('base64'), secret]).ok).toBe(
      true,
    );
    const good = signed('msg_1', T, body);
    expect(reason(verify({ ...good, body: Buffer.from(body + ' ') }))).toBe('bad_signature');
    expect(reason(verify(good, ['whsec_' + Buffer.from('wrong').toString('base64')]))).toBe('bad_signature');
    expect(reason(verify(signed('msg_1', T - 301, body)))).toBe('stale_timestamp');
    expect(reason(verify(signed('msg_1', T + 301, body)))).toBe('future_timestamp');
    expect(reason(verify(req({ 'webhook-timestamp': String(T), 'webhook-signature': 'v1,x' }, body)))).toBe(
      'missing_header',
    );
    // The id is signed: a replay with another id does not verify.
    expect(reason(verify({ ...good, headers: { ...good.headers, 'webhook-id': 'msg_2' } }))).toBe('bad_signature');
  });

  it('verifies v1a (Ed25519) signatures with the endpoint’s public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const body = '{"a":1}';
    const sig = sign(null, Buffer.from(`msg_9.${T}.${body}`), privateKey).toString('base64');
    const r = req({ 'webhook-id': 'msg_9', 'webhook-timestamp': String(T), 'webhook-signature': `v1a,${sig}` }, body);
    expect(
      PRESETS['standard-webhooks'](r, { secrets: [], publicKeys: [`whpk_${raw.toString('base64')}`] }, { now: NOW }).ok,
    ).toBe(true);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    expect(
      reason(
        PRESETS['standard-webhooks'](
          r,
          { secrets: [], publicKeys: [`whpk_${other.toString('base64')}`] },
          { now: NOW },
        ),
      ),
    ).toBe('bad_signature');
  });

  it('svix is the same scheme under svix- headers', () => {
    const body = '{}';
    const r = req(
      { 'svix-id': 'msg_s', 'svix-timestamp': String(T), 'svix-signature': `v1,${hmacB64(key, `msg_s.${T}.${body}`)}` },
      body,
    );
    expect(PRESETS.svix(r, { secrets: [secret] }, { now: NOW }).ok).toBe(true);
    expect(reason(PRESETS['standard-webhooks'](r, { secrets: [secret] }, { now: NOW }))).toBe('missing_header');
  });
});

describe('Stripe', () => {
  const secret = 'whsec_test_stripe_secret_value';
  const body = '{"id":"evt_123","type":"payment_intent.succeeded"}';
  const header = (ts: number, b = body, s = secret) => `t=${ts},v1=${hmacHex(s, `${ts}.${b}`)},v0=deadbeef`;
  const verify = (h: string, b = body) =>
    PRESETS.stripe(req({ 'Stripe-Signature': h }, b), { secrets: [secret] }, { now: NOW });

  it('accepts a genuine event with its id and type; refuses tampering, a wrong secret and old or future timestamps', () => {
    expect(verify(header(T))).toMatchObject({
      ok: true,
      id: 'evt_123',
      type: 'payment_intent.succeeded',
      dedupeKey: 'id:evt_123',
    });
    expect(verify(`t=${T},v1=0000,v1=${hmacHex(secret, `${T}.${body}`)}`).ok).toBe(true);
    expect(reason(verify(header(T), body.replace('123', '124')))).toBe('bad_signature');
    expect(reason(verify(header(T, body, 'whsec_other')))).toBe('bad_signature');
    expect(reason(verify(header(T - 301)))).toBe('stale_timestamp');
    expect(reason(verify(header(T + 301)))).toBe('future_timestamp');
    expect(reason(verify(`v1=${hmacHex(secret, body)}`))).toBe('malformed');
    expect(reason(verify(`t=${T},v0=${hmacHex(secret, `${T}.${body}`)}`))).toBe('malformed');
    expect(reason(PRESETS.stripe(req({}, body), { secrets: [secret] }, { now: NOW }))).toBe('missing_header');
  });
});

describe('GitHub', () => {
  const secret = 'gh-webhook-secret';
  const body = '{"action":"opened"}';
  const h = (extra: Record<string, string> = {}) => ({
    'X-Hub-Signature-256': `sha256=${hmacHex(secret, body)}`,
    'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'X-GitHub-Event': 'issues',
    ...extra,
  });
  const verify = (headers: Record<string, string>, b = body, legacy = false) =>
    PRESETS.github(req(headers, b), { secrets: [secret] }, { now: NOW, allowLegacySha1: legacy });

  it('accepts GitHub’s documented example', () => {
    // From GitHub's "Validating webhook deliveries" documentation.
    const v = PRESETS.github(
      req(
        { 'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' },
        'Hello, World!',
      ),
      { secrets: ["It's a Secret to Everybody"] },
      { now: NOW },
    );
    expect(v.ok).toBe(true);
  });

  it('accepts SHA-256, takes the delivery id and event; refuses a SHA-1 downgrade unless asked for', () => {
    expect(verify(h())).toMatchObject({ ok: true, id: '72d3162e-cc78-11e3-81ab-4c9367dc0958', type: 'issues' });
    expect(reason(verify(h(), body + 'x'))).toBe('bad_signature');
    const sha1 = {
      'X-Hub-Signature': `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
      'X-GitHub-Delivery': 'd1',
    };
    expect(reason(verify(sha1))).toBe('legacy_signature');
    expect(verify(sha1, body, true).ok).toBe(true);
    expect(reason(verify({ 'X-Hub-Signature-256': hmacHex(secret, body) }))).toBe('malformed');
    expect(reason(verify({}))).toBe('missing_header');
  });

  it('a replay with the delivery id stripped still dedupes (on the signed content)', () => {
    const { 'X-GitHub-Delivery': _, ...bare } = h();
    const a = verify(bare);
    const b = verify(bare);
    expect(a.ok && b.ok && a.dedupeKey === b.dedupeKey && a.dedupeKey.startsWith('sha256:')).toBe(true);
  });
});

describe('Slack', () => {
  const secret = 'slack-signing-secret';
  const sig = (ts: number, body: string) => `v0=${hmacHex(secret, `v0:${ts}:${body}`)}`;
  const verify = (ts: number, body: string, s = sig(ts, body)) =>
    PRESETS.slack(
      req({ 'X-Slack-Signature': s, 'X-Slack-Request-Timestamp': String(ts) }, body),
      { secrets: [secret] },
      { now: NOW },
    );

  it('accepts an event, answers URL verification, refuses tampering and old timestamps', () => {
    const ev = '{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention"}}';
    expect(verify(T, ev)).toMatchObject({ ok: true, id: 'Ev123', type: 'app_mention' });
    expect(
      verify(T, '{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}'),
    ).toMatchObject({
      ok: true,
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
    });
    expect(reason(verify(T, ev, sig(T, ev + ' ')))).toBe('bad_signature');
    expect(reason(verify(T - 400, ev))).toBe('stale_timestamp');
    expect(reason(verify(T, ev, hmacHex(secret, `v0:${T}:${ev}`)))).toBe('malformed');
  });
});

describe('GitLab', () => {
  it('checks the secret token in constant time, or a signing token’s Standard Webhooks signature', () => {
    const body = '{"object_kind":"push"}';
    const ok = PRESETS.gitlab(
      req({ 'X-Gitlab-Token': 'tok-123', 'X-Gitlab-Event': 'Push Hook', 'Idempotency-Key': 'f0e1' }, body),
      { secrets: ['tok-123'] },
      { now: NOW },
    );
    expect(ok).toMatchObject({ ok: true, id: 'f0e1', type: 'Push Hook' });
    expect(
      reason(PRESETS.gitlab(req({ 'X-Gitlab-Token': 'tok-124' }, body), { secrets: ['tok-123'] }, { now: NOW })),
    ).toBe('bad_signature');
    expect(reason(PRESETS.gitlab(req({}, body), { secrets: ['tok-123'] }, { now: NOW }))).toBe('missing_header');
    const key = Buffer.from('gitlab-signing-key-0123456789ab');
    const signedReq = req(
      {
        'webhook-id': 'wh_1',
        'webhook-timestamp': String(T),
        'webhook-signature': `v1,${hmacB64(key, `wh_1.${T}.${body}`)}`,
        'X-Gitlab-Event': 'Push Hook',
      },
      body,
    );
    expect(PRESETS.gitlab(signedReq, { secrets: [`whsec_${key.toString('base64')}`] }, { now: NOW })).toMatchObject({
      ok: true,
      id: 'wh_1',
      type: 'Push Hook',
    });
  });
});

describe('Linear', () => {
  const secret = 'lin_wh_secret';
  const verify = (body: string, s = hmacHex(secret, body)) =>
    PRESETS.linear(
      req({ 'Linear-Signature': s, 'Linear-Delivery': 'del-1', 'Linear-Event': 'Issue' }, body),
      { secrets: [secret] },
      { now: NOW },
    );

  it('checks the signature, then the timestamp inside the body', () => {
    expect(verify(`{"action":"create","webhookTimestamp":${NOW - 5000}}`)).toMatchObject({
      ok: true,
      id: 'del-1',
      type: 'Issue',
    });
    expect(reason(verify(`{"action":"create","webhookTimestamp":${NOW - 120_000}}`))).toBe('stale_timestamp');
    // A forged old body is refused for its signature before its timestamp is even read.
    expect(reason(verify(`{"webhookTimestamp":${NOW}}`, hmacHex('other', 'x')))).toBe('bad_signature');
    expect(reason(verify('{"action":"create"}'))).toBe('malformed');
  });
});

describe('Shopify and Hookdeck', () => {
  it('verify a base64 HMAC of the body', () => {
    const body = '{"id":1}';
    const s = PRESETS.shopify(
      req(
        {
          'X-Shopify-Hmac-Sha256': hmacB64('shp', body),
          'X-Shopify-Webhook-Id': 'w1',
          'X-Shopify-Topic': 'orders/create',
        },
        body,
      ),
      { secrets: ['shp'] },
      { now: NOW },
    );
    expect(s).toMatchObject({ ok: true, id: 'w1', type: 'orders/create' });
    expect(
      reason(
        PRESETS.shopify(
          req({ 'X-Shopify-Hmac-Sha256': hmacB64('shp', body + ' ') }, body),
          { secrets: ['shp'] },
          { now: NOW },
        ),
      ),
    ).toBe('bad_signature');
    const h = PRESETS.hookdeck(
      req({ 'x-hookdeck-signature': hmacB64('hd', body), 'x-hookdeck-eventid': 'evt_h' }, body),
      { secrets: ['hd'] },
      { now: NOW },
    );
    expect(h).toMatchObject({ ok: true, id: 'evt_h' });
  });
});

describe('a custom scheme', () => {
  const scheme = customScheme({
    header: 'X-Acme-Signature',
    parse: 'kv',
    signatureKey: 'sig',
    algorithm: 'sha512',
    encoding: 'hex',
    template: '{timestamp}.{url}.{body}',
    timestamp: { from: 'kv', name: 'ts' },
    id: { from: 'header', name: 'X-Acme-Id' },
  });
  const url = 'https://gh.example/webhooks/in/abc';
  const sig = (ts: number, body: string) => createHmac('sha512', 'acme').update(`${ts}.${url}.${body}`).digest('hex');

  it('verifies what it is told to, over the template', () => {
    const body = '{"x":1}';
    const ok = scheme(
      req({ 'X-Acme-Signature': `ts=${T},sig=${sig(T, body)}`, 'X-Acme-Id': 'a1' }, body, url),
      { secrets: ['acme'] },
      { now: NOW },
    );
    expect(ok).toMatchObject({ ok: true, id: 'a1', timestamp: T });
    // The URL is signed: the same delivery to another endpoint does not verify.
    expect(
      reason(
        scheme(
          req({ 'X-Acme-Signature': `ts=${T},sig=${sig(T, body)}` }, body, url + 'x'),
          { secrets: ['acme'] },
          { now: NOW },
        ),
      ),
    ).toBe('bad_signature');
    expect(
      reason(
        scheme(
          req({ 'X-Acme-Signature': `ts=${T - 999},sig=${sig(T - 999, body)}` }, body, url),
          { secrets: ['acme'] },
          { now: NOW },
        ),
      ),
    ).toBe('stale_timestamp');
  });
});

describe('refusals', () => {
  it('never echo a secret or a signature', () => {
    const secret = 'very-secret-value-123456';
    const body = '{}';
    const s = `sha256=${hmacHex('nope', body)}`;
    const v = PRESETS.github(req({ 'X-Hub-Signature-256': s }, body), { secrets: [secret] }, { now: NOW });
    expect(v.ok).toBe(false);
    expect(JSON.stringify(v)).not.toContain(secret);
    expect(JSON.stringify(v)).not.toContain(s.slice(7));
  });
});
