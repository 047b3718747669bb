import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGatehouseError } from '../../src/core/index.js';
import { UPSTREAM_LIMITS } from '../../src/upstream/index.js';
import { readingNow, readWhole } from '../../src/upstream/request-body.js';

// The limits are module constants; shrink them for this file so the test moves kilobytes, not
// tens of megabytes. The idle limit stays long (no test races it) except in the one test of a
// stalled upload, which shortens it for its own upload only.
const limits = UPSTREAM_LIMITS as { -readonly [K in keyof typeof UPSTREAM_LIMITS]: number };
const saved = { ...UPSTREAM_LIMITS };

/** An upload that sends `bytes` and then stalls (never ends); resolves with the answer when one comes. */
function stalledUpload(
  url: string,
  owner: string,
  bytes: number,
): { answer: Promise<{ status: number; body: string }>; abort(): void } {
  const req = http.request(url, { method: 'POST', headers: { 'x-owner': owner, 'content-type': 'text/plain' } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  // Aborting on purpose resets the connection: that rejection is expected and not a failure.
  answer.catch(() => undefined);
  req.write(Buffer.alloc(bytes, 'a'));
  return { answer, abort: () => req.destroy() };
}

async function upload(url: string, owner: string, bytes: number): Promise<{ status: number; body: string }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'x-owner': owner, 'content-type': 'text/plain' },
    body: Buffer.alloc(bytes, 'b'),
  });
  return { status: r.status, body: await r.text() };
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Held answers: the server reads a body whole, says so, and answers only when the test releases it. */
const held = new Map<string, { read: Promise<void>; readDone(): void; release(): void; released: Promise<void> }>();
function hold(owner: string) {
  let readDone!: () => void;
  let release!: () => void;
  const h = {
    read: new Promise<void>((r) => (readDone = r)),
    released: new Promise<void>((r) => (release = r)),
    readDone: () => readDone(),
    release: () => release(),
  };
  held.set(owner, h);
  return h;
}

describe('request bodies being read: a per-token share of the budget, and a stall gives it back', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    limits.maxReadingBytes = 64 * 1024;
    limits.maxReadingBytesPerToken = 16 * 1024;
    limits.requestBodyIdleMs = 60_000;
    server = http.createServer((req, res) => {
      const owner = String(req.headers['x-owner']);
      const h = req.headers['x-hold'] === 'until-released' ? held.get(owner) : undefined;
      readWhole(req, 1024 * 1024, { owner, holdUntil: h ? res : undefined }).then(
        (b) => {
          h?.readDone();
          void (h?.released ?? Promise.resolve()).then(() => res.end(`read ${b.length}`));
        },
        (e) => {
          const err = toGatehouseError(e);
          res.writeHead(err.code === 'timeout' ? 408 : 429).end(err.code);
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    Object.assign(limits, saved);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('one token cannot hold more than its share, while another token still gets its bodies read', async () => {
    const first = stalledUpload(url, 'tok_a', 12 * 1024);
    await until(() => readingNow('tok_a') === 12 * 1024);
    // The same token's second upload would take it past 16 KiB: refused.
    expect(await upload(url, 'tok_a', 12 * 1024)).toEqual({ status: 429, body: 'limit_exceeded' });
    // Another token is not affected by tok_a's stalled bytes.
    expect(await upload(url, 'tok_b', 12 * 1024)).toEqual({ status: 200, body: `read ${12 * 1024}` });
    first.abort();
    await until(() => readingNow('tok_a') === 0 && readingNow() === 0);
  });

  it('a body that stops arriving is a timeout, and its bytes are given back', async () => {
    // Read when the body starts: this upload alone waits under a short idle limit.
    limits.requestBodyIdleMs = 500;
    const stalled = stalledUpload(url, 'tok_c', 10 * 1024);
    try {
      await until(() => readingNow('tok_c') === 10 * 1024);
    } finally {
      limits.requestBodyIdleMs = 60_000;
    }
    expect(await stalled.answer).toEqual({ status: 408, body: 'timeout' });
    expect(readingNow('tok_c')).toBe(0);
    expect(readingNow()).toBe(0);
    stalled.abort();
    expect(await upload(url, 'tok_c', 15 * 1024)).toEqual({ status: 200, body: `read ${15 * 1024}` });
  });

  it('a body read whole stays in the budget until its response is done (it is still in memory)', async () => {
    const h = hold('tok_h');
    const answer = fetch(url, {
      method: 'POST',
      headers: { 'x-owner': 'tok_h', 'x-hold': 'until-released', 'content-type': 'text/plain' },
      body: Buffer.alloc(10 * 1024, 'h'),
    });
    // Read completely, the request is still being served: a second 10 KiB would pass the share.
    await h.read;
    expect(readingNow('tok_h')).toBe(10 * 1024);
    expect(await upload(url, 'tok_h', 10 * 1024)).toEqual({ status: 429, body: 'limit_exceeded' });
    h.release();
    expect((await answer).status).toBe(200);
    await until(() => readingNow('tok_h') === 0);
  });

  it('the process-wide budget still bounds everyone together', async () => {
    const holders = ['tok_1', 'tok_2', 'tok_3', 'tok_4'].map((t) => stalledUpload(url, t, 15 * 1024));
    await until(() => readingNow() === 60 * 1024);
    expect(await upload(url, 'tok_5', 8 * 1024)).toEqual({ status: 429, body: 'limit_exceeded' });
    for (const h of holders) h.abort();
    await until(() => readingNow() === 0);
  });
});
