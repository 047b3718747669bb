/**
 * Issue 16's bench: inbound webhooks on the embedded store and on PostgreSQL.
 *
 * 1. Verified ingest throughput: signed GitHub-style events (HMAC-SHA256 over the raw body, a
 *    unique delivery id and a unique body each, so none is a duplicate) POSTed to
 *    `/webhooks/in/<key>` of an in-process Gatehouse HTTP server, at concurrency 10 and 50, beside
 *    a bare node:http handler that only reads the body and answers 202, driven by the same load
 *    generator (an undici Pool, bench/upstream.ts's `measure`) in the same run. Every accepted
 *    event is verified, deduped, queued and audited before its 202.
 * 2. Arrival-to-poll latency: an agent keeps `GET /webhooks/poll?wait_s=20` open; one event at a
 *    time is sent; the figure is the time from sending the POST to the poll's answer arriving
 *    (each event is then acked and the poll re-opened). Beside it, the same round trip through a
 *    bare node:http server that holds the GET open and answers it from the POST (in memory).
 *
 * Both servers share this process with the load generator (as they would share a small machine's
 * cores anyway); PostgreSQL runs in its own.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { bootRuntime, startHttpServer, webhookRoutes } from '../src/server/index.js';
import { dropSchema } from '../src/store/index.js';
import { summarize } from './stats.js';
import { measure, type Cell } from './upstream.js';

const BENCH_PG = process.env.GATEHOUSE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECRET = 'gh-webhook-bench-secret-5c1f0a9e7d3b2468';
const LEVELS = [10, 50];
const WARM_MS = 1000;
const TIMED_MS = 3000;
const LATENCY_SAMPLES = 200;
const LATENCY_WARMUP = 20;
/** How long a re-opened poll is given to reach its wait before the next event is sent. */
const SETTLE_MS = 25;

/** A GitHub `issues` payload of a realistic size (~1.5 KB), unique per event. */
function issuePayload(n: number): string {
  return JSON.stringify({
    action: 'opened',
    issue: {
      id: 1_000_000 + n,
      number: n,
      title: `Bench issue ${n}: the build fails on the release branch`,
      user: { login: 'octocat', id: 1, type: 'User', site_admin: false },
      labels: [{ id: 208045946, name: 'bug', color: 'f29513', default: true }],
      state: 'open',
      locked: false,
      comments: 0,
      created_at: '2026-06-01T12:00:00Z',
      updated_at: '2026-06-01T12:00:00Z',
      author_association: 'MEMBER',
      body: 'Steps to reproduce: run the release build on a clean checkout. '.repeat(12),
    },
    repository: {
      id: 1296269,
      name: 'hello-world',
      full_name: 'octocat/hello-world',
      private: false,
      owner: { login: 'octocat', id: 1, type: 'User' },
      default_branch: 'main',
    },
    sender: { login: 'octocat', id: 1, type: 'User' },
  });
}

let seq = 0;
/** One signed delivery: headers as GitHub sends them, and the raw body. */
function delivery(): { headers: Record<string, string>; body: string } {
  const body = issuePayload(++seq);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': 'issues',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  };
}

/**
 * The baseline server: `POST /in` reads the body and answers 202, handing the body to a held
 * `GET /poll` when one waits (or keeping it for the next one); nothing is verified or stored.
 */
async function startBare(): Promise<{ url: string; close(): Promise<void> }> {
  let held: ServerResponse | undefined;
  const pending: Buffer[] = [];
  const answerPoll = (res: ServerResponse, body: Buffer) => {
    const text = JSON.stringify({ events: [{ id: randomUUID(), payload: body.toString('utf8') }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      const next = pending.shift();
      if (next) return answerPoll(res, next);
      held = res;
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 11 });
      res.end('{"ok":true}');
      if (req.url === '/in/handoff') {
        if (held) {
          const h = held;
          held = undefined;
          answerPoll(h, body);
        } else pending.push(body);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(pool: Pool, path: string): Promise<void> {
  const d = delivery();
  const r = await pool.request({ method: 'POST', path, headers: d.headers, body: d.body });
  const text = await r.body.text();
  if (r.statusCode !== 202) throw new Error(`POST ${path} answered ${r.statusCode}: ${text}`);
}

interface PolledEvent {
  id: string;
  lease_token: string;
}

/**
 * `samples` round trips: a poll is waiting, one event is POSTed, the time until the poll's answer
 * is read is the sample. `ack` settles what the poll got (Gatehouse) before the poll is re-opened.
 */
async function roundTrips(
  ingest: Pool,
  postPath: string,
  polls: Pool,
  pollReq: { path: string; headers: Record<string, string> },
  samples: number,
  ack?: (events: PolledEvent[]) => Promise<number>,
): Promise<{ arrivalToPoll: number[]; postAnswered: number[]; ack: number[] }> {
  const arrivalToPoll: number[] = [];
  const postAnswered: number[] = [];
  const acks: number[] = [];
  for (let i = 0; i < samples; i++) {
    let answered = false;
    const waiting = polls.request({ method: 'GET', ...pollReq }).then(async (r) => {
      const text = await r.body.text();
      answered = true;
      if (r.statusCode !== 200) throw new Error(`poll answered ${r.statusCode}: ${text}`);
      return (JSON.parse(text) as { events: PolledEvent[] }).events;
    });
    await sleep(SETTLE_MS);
    if (answered) throw new Error('the poll answered before any event was sent');
    const t0 = performance.now();
    const sent = post(ingest, postPath).then(() => postAnswered.push(performance.now() - t0));
    const events = await waiting;
    arrivalToPoll.push(performance.now() - t0);
    await sent;
    if (events.length !== 1) throw new Error(`the poll returned ${events.length} events, not 1`);
    if (ack) acks.push(await ack(events));
  }
  return { arrivalToPoll, postAnswered, ack: acks };
}

const ms = (us: number) => +(us / 1000).toFixed(2);
const cellOut = (c: Cell) => ({
  events_per_s: c.rps,
  p50_ms: ms(c.p50Us),
  p99_ms: ms(c.p99Us),
  events: c.requests,
  this_process_cpu_us_per_event: c.cpuUsPerReq,
});

async function benchStore(store: 'sqlite' | 'postgres', bare: { url: string }): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-wh-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('GATEHOUSE_') && k !== 'DATABASE_URL') env[k] = v;
  env.GATEHOUSE_HOME = join(dir, 'home');
  env.GATEHOUSE_LOG_LEVEL = 'error';
  // The agent's poll and ack calls go through the gate's per-token rate limit; the bench is not about it.
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'gate:\n  rate_limit: { per_second: 1000000, burst: 1000000 }\n');
  env.GATEHOUSE_CONFIG = config;
  const schema = `bench_wh_${process.pid}`;
  if (store === 'postgres') {
    env.DATABASE_URL = BENCH_PG;
    env.GATEHOUSE_PG_SCHEMA = schema;
  }
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const rt = await bootRuntime({ env });
    closers.push(() => rt.close());
    await rt.vault.createVault('hooks');
    await rt.vault.setField('hooks/gh.secret', SECRET);
    await rt.refreshVaultSecrets();
    const { urlKey } = await rt.webhookEndpoints.add('gh', {
      provider: 'github',
      secrets: [{ ref: 'vault:hooks/gh.secret', addedAt: new Date().toISOString() }],
      rate: { perSecond: 10_000, burst: 100_000 },
    });
    const { token } = await rt.tokens.create({
      name: 'bench',
      grants: ['tool:webhook_poll', 'tool:webhook_ack', 'webhook:gh'],
    });
    const server = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: webhookRoutes(rt) });
    closers.push(() => server.close());
    const gh = new Pool(server.url, { connections: 64, pipelining: 1 });
    const ghPolls = new Pool(server.url, { connections: 2, pipelining: 1 });
    const bareIn = new Pool(bare.url, { connections: 64, pipelining: 1 });
    const barePolls = new Pool(bare.url, { connections: 2, pipelining: 1 });
    closers.push(
      () => gh.close(),
      () => ghPolls.close(),
      () => bareIn.close(),
      () => barePolls.close(),
    );
    const ingestPath = `/webhooks/in/${urlKey}`;
    const auth = { authorization: `Bearer ${token}` };

    // 2 first, on an empty queue (1 leaves thousands of events queued behind it).
    const ack = async (events: PolledEvent[]): Promise<number> => {
      const t = performance.now();
      const r = await ghPolls.request({
        method: 'POST',
        path: '/webhooks/ack',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ items: events.map((e) => ({ id: e.id, lease_token: e.lease_token, outcome: 'done' })) }),
      });
      const text = await r.body.text();
      const results = (JSON.parse(text) as { results?: { ok: boolean }[] }).results;
      if (r.statusCode !== 200 || !results?.every((x) => x.ok))
        throw new Error(`ack answered ${r.statusCode}: ${text}`);
      return performance.now() - t;
    };
    const ghPoll = { path: '/webhooks/poll?endpoint=gh&wait_s=20&limit=25', headers: auth };
    const barePoll = { path: '/poll', headers: {} };
    await roundTrips(gh, ingestPath, ghPolls, ghPoll, LATENCY_WARMUP, ack);
    await roundTrips(bareIn, '/in/handoff', barePolls, barePoll, LATENCY_WARMUP);
    const g = await roundTrips(gh, ingestPath, ghPolls, ghPoll, LATENCY_SAMPLES, ack);
    const b = await roundTrips(bareIn, '/in/handoff', barePolls, barePoll, LATENCY_SAMPLES);
    const gl = summarize(g.arrivalToPoll);
    const bl = summarize(b.arrivalToPoll);
    const gp = summarize(g.postAnswered);
    const latency = {
      samples: gl.n,
      gatehouse_arrival_to_poll_p50_ms: gl.median_ms,
      gatehouse_arrival_to_poll_p99_ms: gl.p99_ms,
      bare_arrival_to_poll_p50_ms: bl.median_ms,
      bare_arrival_to_poll_p99_ms: bl.p99_ms,
      gatehouse_minus_bare_p50_ms: +(gl.median_ms - bl.median_ms).toFixed(2),
      gatehouse_ingest_202_p50_ms: gp.median_ms,
      gatehouse_ingest_202_p99_ms: gp.p99_ms,
      gatehouse_ack_p50_ms: summarize(g.ack).median_ms,
      gatehouse_ack_p99_ms: summarize(g.ack).p99_ms,
    };

    // 1: throughput, each level's Gatehouse cell beside the bare cell.
    const ghCall = () => post(gh, ingestPath);
    const bareCall = () => post(bareIn, '/in/throughput');
    const throughput: Record<string, unknown> = {};
    for (const c of LEVELS) {
      await measure(ghCall, c, WARM_MS, 0);
      const gc = await measure(ghCall, c, TIMED_MS, 0);
      await measure(bareCall, c, WARM_MS, 0);
      const bc = await measure(bareCall, c, TIMED_MS, 0);
      throughput[`c${c}`] = {
        gatehouse: cellOut(gc),
        bare_node_http: cellOut(bc),
        gatehouse_vs_bare_throughput: +(gc.rps / bc.rps).toFixed(3),
      };
    }
    const stats = (await rt.webhookQueue.stats(['gh'])).get('gh');
    return {
      verified_ingest_throughput: throughput,
      arrival_to_poll_latency: latency,
      events_queued_total: stats?.seq,
      duplicates: stats?.duplicates,
    };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    if (store === 'postgres') await dropSchema(BENCH_PG, schema).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why PostgreSQL cannot be used for the second row, or undefined when it answers. */
async function pgUnreachable(): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: BENCH_PG, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function benchWebhooks(): Promise<Record<string, unknown>> {
  const bare = await startBare();
  const probe = tmpdir();
  const out: Record<string, unknown> = {
    note:
      `Gatehouse's POST /webhooks/in (GitHub HMAC-SHA256 verified, deduped, queued and audited before its 202; ~1.5 KB unique bodies) ` +
      `vs a bare node:http handler that only reads the body, same undici load generator, both servers in this process; ` +
      `throughput cells: ${WARM_MS} ms warm-up then ${TIMED_MS} ms timed. Latency: a GET /webhooks/poll?wait_s=20 is waiting ` +
      `(given ${SETTLE_MS} ms to reach its wait), one event is POSTed, arrival_to_poll = POST sent -> poll answer read; ` +
      `${LATENCY_SAMPLES} samples after ${LATENCY_WARMUP} warm-up; each event acked and the poll re-opened; the bare ` +
      `baseline holds the GET in memory and answers it from the POST. this_process_cpu_us_per_event includes the load generator.`,
    audit_and_store_filesystem:
      statfsSync(probe).type === 0x01021994 ? 'tmpfs (flushes cost nothing: not representative)' : 'disk',
  };
  try {
    out.load_average_1m_before = +(loadavg()[0] ?? NaN).toFixed(2);
    out.sqlite = await benchStore('sqlite', bare);
    const unreachable = await pgUnreachable();
    if (unreachable) {
      out.postgres = { skipped: `PostgreSQL at ${BENCH_PG} not usable: ${unreachable}` };
      process.stderr.write(`bench: SKIPPING the PostgreSQL webhooks row: ${unreachable}\n`);
    } else out.postgres = await benchStore('postgres', bare);
    // Other work on the machine (2 cores here) shows up in every figure: say how busy it was.
    out.load_average_1m_after = +(loadavg()[0] ?? NaN).toFixed(2);
  } finally {
    await bare.close();
  }
  return out;
}
