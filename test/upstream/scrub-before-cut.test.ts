/**
 * Issue 13.5 where it touches the executor: api_request cut the body at its limit and scrubbed
 * afterwards, so a credential placed across the cut came back minus its last characters. With a
 * scrubber given (`responseScrubber`), the buffered executor now scrubs first and cuts after; what
 * the scrubber holds back past the cut is dropped, never flushed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamPool, type HttpTargetSpec } from '../../src/upstream/index.js';
import { Redactor } from '../../src/vault/index.js';
import { startServer, type TestServer } from './servers.js';

const CANARY = 'sk-cut-canary-' + 'Ct4'.repeat(9);
const MAX = 300;

describe('buffered reads scrub before they cut', () => {
  let up: TestServer;
  const pool = new UpstreamPool();
  const redactor = new Redactor({ audience: 'agent', builtins: false });
  redactor.add(CANARY);
  const spec = (): HttpTargetSpec => ({ name: 'cut', baseUrl: up.url, auth: { kind: 'none' }, allowPrivate: true });

  beforeAll(async () => {
    up = await startServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const k = Number(u.searchParams.get('k'));
      const split = u.searchParams.get('split') === '1';
      const body = 'x'.repeat(MAX - k) + CANARY + 'y'.repeat(64);
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Split inside the secret too, so the scrubber must hold back across chunks.
      if (split) {
        const at = MAX - k + Math.floor(CANARY.length / 2);
        res.write(body.slice(0, at));
        setImmediate(() => res.end(body.slice(at)));
      } else res.end(body);
    });
  });
  afterAll(async () => {
    await pool.close();
    await up.close();
  });

  it('at every alignment of the cut inside the secret, no part of it comes back', async () => {
    for (const split of ['0', '1']) {
      for (let k = 1; k <= CANARY.length; k++) {
        const r = await pool.request(spec(), undefined, {
          method: 'GET',
          path: `/?k=${k}&split=${split}`,
          maxResponseBytes: MAX,
          responseScrubber: () => redactor.createScrubber(),
        });
        const text = r.body.toString('latin1');
        expect(r.truncated, `k=${k}`).toBe(true);
        expect(r.body.length, `k=${k}`).toBeLessThanOrEqual(MAX);
        expect(text.includes(CANARY.slice(0, 4)), `k=${k} split=${split}: ${text.slice(-40)}`).toBe(false);
      }
    }
  });

  it('a body that fits whole keeps its scrubbed tail (end() is flushed only when nothing was cut)', async () => {
    const r = await pool.request(spec(), undefined, {
      method: 'GET',
      path: '/?k=300',
      maxResponseBytes: 10_000,
      responseScrubber: () => redactor.createScrubber(),
    });
    expect(r.truncated).toBe(false);
    expect(r.body.toString()).toBe('[REDACTED]' + 'y'.repeat(64));
  });
});
