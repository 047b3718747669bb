/**
 * Upstream executor bench: a direct undici Pool `request` (the floor) side by side with
 * UpstreamPool.request() (buffered, api_request's engine) and UpstreamPool.proxy() behind a node
 * http server (the /gateway route's engine), at concurrency 1, 10 and 50.
 *
 * The upstream runs in a child process so it does not share an event loop with the client; the
 * proxy server and the load generator share this process (as the client and gateway would share
 * the machine's 2 cores anyway). No audit, guard or MCP layer here: the lead adds those paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { UpstreamPool, type HttpTargetSpec } from '../src/upstream/index.js';

const UPSTREAM_SRC = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, items: [1, 2, 3], note: 'bench' });
// Streaming targets (issue 19 target 2): GET /big sends 100 MiB of log-like text; GET /sse sends
// 20,000 server-sent events. Both are written as fast as the reader takes them.
const line = Buffer.from('2026-12-06T12:00:00Z INFO request served path=/v1/items status=200 bytes=1234 user=alice\\n');
const chunk = Buffer.concat(Array.from({ length: Math.floor(65536 / line.length) }, () => line));
const BIG = 100 * 1024 * 1024;
const SSE_EVENTS = 20000;
function stream(res, total, next) {
  let sent = 0;
  const write = () => {
    while (sent < total) {
      const piece = next(sent);
      sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', write);
    }
    res.end();
  };
  write();
}
const event = (i) => Buffer.from('id: ' + i + '\\nevent: tick\\ndata: {"seq":' + i + ',"text":"' + 'x'.repeat(160) + '"}\\n\\n');
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BIG });
      return stream(res, BIG, (sent) => (BIG - sent >= chunk.length ? chunk : chunk.subarray(0, BIG - sent)));
    }
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const write = () => {
        while (i < SSE_EVENTS) if (!res.write(event(i++))) return void res.once('drain', write);
        res.end();
      };
      return write();
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('disconnect', () => process.exit(0));
`;

export interface Cell {
  requests: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  /** CPU time of this process per request (client + executor + proxy server); steadier than wall time on a busy box. */
  cpuUsPerReq: number;
  /** CPU time of the serving process per request, where it runs in a process of its own. */
  serverCpuUsPerReq?: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0; // 0 for no samples
}

/** Raw figures of several timed slices of one path, added up (see `measure`'s `into`). */
export interface Slices {
  latenciesMs: number[];
  elapsedMs: number;
  cpuUs: number;
}

export function newSlices(): Slices {
  return { latenciesMs: [], elapsedMs: 0, cpuUs: 0 };
}

/** One cell from the slices a path was timed in: requests/s over their summed time, percentiles over every request. */
export function cellOfSlices(s: Slices): Cell {
  const lat = [...s.latenciesMs].sort((a, b) => a - b);
  return {
    requests: lat.length,
    rps: Math.round((lat.length / Math.max(1, s.elapsedMs)) * 1000),
    p50Us: Math.round(pct(lat, 50) * 1000),
    p99Us: Math.round(pct(lat, 99) * 1000),
    cpuUsPerReq: Math.round(s.cpuUs / Math.max(1, lat.length)),
  };
}

/**
 * Runs `fn` from `concurrency` loops for `durationMs`. With `into`, this run's latencies, time and
 * CPU are also added there, so a path timed in several slices (interleaved with the paths it is
 * compared with) is summarised once over all of them (`cellOfSlices`).
 */
export async function measure(
  fn: () => Promise<void>,
  concurrency: number,
  durationMs: number,
  warmup: number,
  into?: Slices,
): Promise<Cell> {
  for (let i = 0; i < warmup; i++) await fn();
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await fn();
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  if (into) {
    for (const l of lat) into.latenciesMs.push(l);
    into.elapsedMs += elapsed;
    into.cpuUs += cpu.user + cpu.system;
  }
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    rps: Math.round((lat.length / elapsed) * 1000),
    p50Us: Math.round(pct(lat, 50) * 1000),
    p99Us: Math.round(pct(lat, 99) * 1000),
    cpuUsPerReq: Math.round((cpu.user + cpu.system) / Math.max(1, lat.length)),
  };
}

/** Starts an upstream in a child process (this one, or another CommonJS source that prints its port); resolves with the port. */
export async function startUpstream(
  source = UPSTREAM_SRC,
  args: string[] = [],
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', source, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    child.once('exit', (c) => reject(new Error(`upstream exited ${c}`)));
  });
  return { port, child };
}

export async function benchUpstream(
  opts: { durationMs?: number; concurrency?: number[] } = {},
): Promise<Record<string, unknown>> {
  const durationMs = opts.durationMs ?? 1200;
  const levels = opts.concurrency ?? [1, 10, 50];
  const { port, child } = await startUpstream();
  const origin = `http://127.0.0.1:${port}`;
  const direct = new Pool(origin, { connections: 128, pipelining: 1 });
  const upstream = new UpstreamPool();
  const spec: HttpTargetSpec = { name: 'bench', baseUrl: origin, auth: { kind: 'bearer' }, allowPrivate: true };
  const gateway = http.createServer((req, res) => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    upstream
      .proxy(spec, 'sk-bench', req, res, {
        path: q === -1 ? raw : raw.slice(0, q),
        query: q === -1 ? undefined : raw.slice(q + 1),
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
      });
  });
  gateway.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const gwClient = new Pool(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`, {
    connections: 128,
    pipelining: 1,
  });

  const modes: Record<string, () => Promise<void>> = {
    direct: async () => {
      const r = await direct.request({
        method: 'GET',
        path: '/v1/items?limit=3',
        headers: { authorization: 'Bearer sk-bench' },
      });
      await r.body.arrayBuffer();
    },
    request: async () => {
      await upstream.request(spec, 'sk-bench', { method: 'GET', path: '/v1/items', query: { limit: '3' } });
    },
    proxy: async () => {
      const r = await gwClient.request({ method: 'GET', path: '/v1/items?limit=3' });
      await r.body.arrayBuffer();
    },
  };

  const results: Record<string, Record<string, Cell>> = {};
  try {
    for (const c of levels) {
      for (const [name, fn] of Object.entries(modes)) {
        (results[name] ??= {})[`c${c}`] = await measure(fn, c, durationMs, 200);
      }
    }
  } finally {
    await gwClient.close();
    await new Promise<void>((r) => gateway.close(() => r()));
    await upstream.close();
    await direct.close();
    child.kill();
  }
  const ratios: Record<string, { request: number; proxy: number }> = {};
  const cellOf = (mode: string, k: string): Cell => {
    const cell = results[mode]?.[k];
    if (!cell) throw new Error(`bench: no ${mode} result for ${k}`);
    return cell;
  };
  for (const c of levels) {
    const k = `c${c}`;
    const d = cellOf('direct', k).rps;
    ratios[k] = {
      request: +(cellOf('request', k).rps / d).toFixed(2),
      proxy: +(cellOf('proxy', k).rps / d).toFixed(2),
    };
  }
  return {
    name: 'upstream',
    node: process.version,
    note: 'loopback; upstream in a child process; rps = requests/s, latencies in µs; ratios = throughput relative to direct',
    durationMsPerCell: durationMs,
    results,
    throughputVsDirect: ratios,
  };
}
