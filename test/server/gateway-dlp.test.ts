/**
 * DLP through the real `/gateway` route: on a target with DLP on, a vault value the agent put in
 * its body never reaches the upstream (a handle bound to the target still fills), a body DLP
 * cannot read as text (compressed) is refused before anything is sent, and the counts are in
 * the audit record. A target without DLP is untouched.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { serve, type Served } from './harness.js';

const CANARY = 'sk-gw-dlp-canary-' + 'Qw7'.repeat(10);
const OTHER = 'db-password-dlp-canary-8e2f';

describe('/gateway: DLP on the way out', () => {
  let s: Served;
  const bodies: string[] = [];
  beforeAll(async () => {
    s = await serve({
      canary: CANARY,
      handler: (_req, res, body) => {
        bodies.push(body.toString('latin1'));
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      },
    });
    await s.rt.vault.setField('ops/guarded.key', CANARY, { bind: ['target:guarded'] });
    await s.rt.targets.add('http', 'guarded', {
      baseUrl: s.upstream.url,
      auth: { kind: 'bearer' },
      secret: 'vault:ops/guarded.key',
      allowPrivate: true,
      followRedirects: false,
      dlp: true,
    });
    await s.rt.vault.setField('ops/db.password', OTHER, { bind: ['target:nowhere'] });
    await s.rt.vault.seedRedactor({ add: (v) => s.rt.addSecret(v) });
    const { token } = await s.rt.tokens.create({
      name: 'dlp-agent',
      grants: ['tool:*', 'target:guarded', 'target:echo'],
    });
    s.agent = token;
  });
  afterAll(async () => {
    await s?.close();
  });

  const post = (target: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${s.url}/gateway/${target}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.agent}`, 'content-type': 'application/json', ...headers },
      body,
    });

  it('replaces vault values and card numbers in the body and counts them in the audit record', async () => {
    bodies.length = 0;
    const r = await post('guarded', JSON.stringify({ prompt: `pw ${OTHER}, card 4242 4242 4242 4242` }));
    expect(r.status).toBe(200);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).not.toContain(OTHER);
    expect(bodies[0]).not.toContain('4242 4242 4242 4242');
    expect(bodies[0]).toContain('[REDACTED:card]');
    const rec = (await searchAudit(s.rt.store, { tool: 'api_request', target: 'guarded' })).at(-1)!;
    expect(rec.detail).toMatchObject({ dlp: { 'vault-or-key': 1, card: 1 } });
  });

  it('refuses a body it cannot read as text; nothing is sent', async () => {
    bodies.length = 0;
    const r = await post('guarded', zlib.gzipSync(JSON.stringify({ prompt: OTHER })), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(403);
    expect((await r.json()) as { error: { code: string } }).toMatchObject({ error: { code: 'denied' } });
    expect(bodies).toHaveLength(0);
  });

  it('refuses a body that is not UTF-8 (a multipart upload with a binary part) rather than re-encode it; nothing is sent', async () => {
    bodies.length = 0;
    const boundary = 'gh-dlp-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const r = await post('guarded', body, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    expect(r.status).toBe(403);
    expect((await r.json()) as { error: { code: string; message: string } }).toMatchObject({
      error: { code: 'denied', message: expect.stringContaining('not plain text') as string },
    });
    expect(bodies).toHaveLength(0);
  });

  it('a target without DLP sends the body as the agent wrote it', async () => {
    bodies.length = 0;
    const r = await post('echo', JSON.stringify({ card: '4242 4242 4242 4242' }));
    expect(r.status).toBe(200);
    expect(bodies[0]).toContain('4242 4242 4242 4242');
  });
});
