/**
 * Issue 18 item 10: `GET /metrics` on a real `gatehouse serve`, admin token only, Prometheus text:
 * requests and decisions by tool, errors by code, approvals by state, audit batch sizes and write
 * latency, pool sizes. No name an agent chose (a target, a path) becomes a label.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';

describe('gatehouse serve: GET /metrics', () => {
  const home = tempHome();
  let upstream: TestServer;
  let server: Awaited<ReturnType<typeof startServe>>;
  let agent: string;
  let admin: string;

  beforeAll(async () => {
    assertBuilt();
    upstream = await startServer(echoHandler);
    const r = cli(
      ['target', 'add', 'http', 'zq-metrics-target', '--base-url', upstream.url, '--auth', 'none', '--allow-private'],
      home.env,
    );
    expect(r.code, r.stderr).toBe(0);
    agent = createToken(home.env, 'agent', ['tool:api_request', 'target:zq-metrics-target']);
    server = await startServe(home.env);
    admin = /Admin token[^\n]*\n\n\s+(gh_\S+)/.exec(server.output())![1]!;
  });
  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
    home.cleanup();
  });

  const call = (path: string, token: string, method = 'GET') =>
    fetch(`${server.url}/gateway/zq-metrics-target${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  const scrape = async (token: string) => {
    const r = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  };
  /** The value of one sample line, or undefined. */
  const sample = (text: string, line: string): number | undefined => {
    const found = text.split('\n').find((l) => l.startsWith(line + ' '));
    return found === undefined ? undefined : Number(found.slice(line.length + 1));
  };

  it('refuses agent tokens and no token', async () => {
    expect((await scrape(agent)).status).toBe(403);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });

  it('counts actions by tool and decision, errors by code, approvals by state, and the audit log’s batches', async () => {
    expect((await call('/private-path-q1', agent)).status).toBe(200);
    expect((await call('/private-path-q1', agent)).status).toBe(200);
    expect((await call('/items/1', agent, 'DELETE')).status).toBe(403); // approval_required
    const stranger = createToken(home.env, 'stranger', ['tool:api_request']);
    expect((await call('/x', stranger)).status).toBe(403); // not granted the target

    const m = await scrape(admin);
    expect(m.status).toBe(200);
    expect(m.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const t = m.text;
    // Each sample line, and the least (or, for gauges and a failure count, the exact) value it must have.
    const atLeast: [string, number][] = [
      ['gatehouse_actions_total{tool="api_request",decision="allow"}', 2],
      ['gatehouse_actions_total{tool="api_request",decision="approve"}', 1],
      ['gatehouse_errors_total{tool="api_request",code="approval_required"}', 1],
      ['gatehouse_errors_total{tool="api_request",code="not_granted"}', 1],
      ['gatehouse_http_requests_total{route="/gateway/:target/*",status="200"}', 2],
      ['gatehouse_http_requests_total{route="/gateway/:target/*",status="403"}', 2],
      ['gatehouse_audit_batch_records_count', 1],
      ['gatehouse_audit_write_seconds_count', 1],
      ['gatehouse_process_resident_memory_bytes', 1e6],
    ];
    for (const [line, least] of atLeast) expect(sample(t, line), line).toBeGreaterThanOrEqual(least);
    const exactly: [string, number][] = [
      ['gatehouse_approvals{status="pending"}', 1],
      ['gatehouse_approvals{status="approved"}', 0],
      ['gatehouse_audit_write_failures_total', 0],
      ['gatehouse_upstream_pools', 1],
      ['gatehouse_ssh_pool_connections', 0],
    ];
    for (const [line, value] of exactly) expect(sample(t, line), line).toBe(value);
    // Every sample line is well formed, and nothing an agent chose is a label.
    for (const line of t.split('\n').filter((l) => l && !l.startsWith('#')))
      expect(line).toMatch(/^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? [0-9.e+-]+$/);
    expect(t).not.toContain('zq-metrics-target');
    expect(t).not.toContain('private-path');
    expect(t).not.toContain(agent);
  });
});
