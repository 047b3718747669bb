/**
 * Issue 13.12: response header NAMES were not scrubbed, so an upstream that put a secret in a
 * header name (an echo of the credential, say) handed it to the agent, lowercased but whole. Names
 * are now matched as sent (raw header lines, original case), a header whose name holds a secret is
 * dropped (never renamed, so two cannot merge) and counted in x-gatehouse-redacted-headers, which
 * the upstream cannot set itself. Header bytes are scrubbed as bytes too: a secret with non-ASCII
 * characters arrives in a header as UTF-8 bytes read as latin1, which a text scrub missed.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED_NAMES_HEADER, UpstreamPool, type HttpTargetSpec } from '../../src/upstream/index.js';
import { Redactor } from '../../src/vault/index.js';
import { startProxyGateway, startServer, type TestServer } from './servers.js';

const CANARY = 'sk-Canary-' + 'Hd7'.repeat(10);
const VAULT_SECRET = 'vault-Secret-9f8e7d6c5b4a3210';
const UNICODE_SECRET = 'pässwörd-Ünïcode-0042';

/** Every way the response could still hold a secret, header names and values alike (any case, as latin1 or UTF-8 text). */
function leaks(lines: string[]): string | undefined {
  const text = lines.join('\n');
  const utf8 = Buffer.from(text, 'latin1').toString('utf8');
  for (const s of [CANARY, VAULT_SECRET, UNICODE_SECRET]) {
    if (text.toLowerCase().includes(s.toLowerCase()) || utf8.toLowerCase().includes(s.toLowerCase())) return s;
  }
  return undefined;
}

describe('response header names and bytes are scrubbed on every path that returns headers', () => {
  let up: TestServer;
  const pool = new UpstreamPool();
  const redactor = new Redactor({ audience: 'agent' });
  for (const s of [CANARY, VAULT_SECRET, UNICODE_SECRET]) redactor.add(s);
  const spec = (): HttpTargetSpec => ({ name: 'names', baseUrl: up.url, auth: { kind: 'bearer' }, allowPrivate: true });
  const scrub = { scrubHeader: (v: string) => redactor.scrub(v), responseScrubber: () => redactor.createScrubber() };

  beforeAll(async () => {
    up = await startServer((req, res) => {
      // Raw bytes: names in their own case, a UTF-8 value, and the gateway's own header forged.
      const cred = (req.headers.authorization ?? '').slice('Bearer '.length);
      const head = [
        'HTTP/1.1 200 OK',
        'Content-Type: text/plain',
        `X-${cred}: reflected-name`,
        `X-Echo-${VAULT_SECRET}: second`,
        `X-Unicode: ${Buffer.from(UNICODE_SECRET, 'utf8').toString('latin1')}`,
        `${REDACTED_NAMES_HEADER}: 0`,
        'X-Gatehouse-Approval-Id: forged',
        'X-Safe: kept',
        'X-Safe: twice',
        'Content-Length: 2',
        'Connection: close',
      ].join('\r\n');
      res.socket!.end(Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), Buffer.from('ok')]));
    });
  });
  afterAll(async () => {
    await pool.close();
    await up.close();
  });

  it('buffered (api_request): secret-named headers are dropped and counted, values scrubbed as bytes, the rest kept and joined', async () => {
    const res = await pool.request(spec(), CANARY, { method: 'GET', path: '/', ...scrub });
    const lines = Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`);
    expect(leaks(lines)).toBeUndefined();
    expect(res.headers[REDACTED_NAMES_HEADER]).toBe('2');
    expect(res.headers['x-safe']).toBe('kept, twice');
    expect(res.headers['x-unicode']).toBe('[REDACTED]');
    expect(res.headers['x-gatehouse-approval-id']).toBeUndefined();
    expect(res.body.toString()).toBe('ok');
  });

  it('streamed (/gateway): the same, read from the raw header lines the client receives', async () => {
    const gw = await startProxyGateway(pool, spec, CANARY, scrub);
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http.get(`${gw.url}/`, resolve).on('error', reject),
      );
      res.resume();
      const raw = res.rawHeaders;
      const lines: string[] = [];
      for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      expect(leaks(lines)).toBeUndefined();
      expect(res.headers[REDACTED_NAMES_HEADER]).toBe('2');
      expect(res.headers['x-safe']).toBe('kept, twice');
      expect(res.headers['x-unicode']).toBe('[REDACTED]');
      expect(res.headers['x-gatehouse-approval-id']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });
});
