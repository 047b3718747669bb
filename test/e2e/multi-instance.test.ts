/**
 * Issue 18 item 8: several `gatehouse serve` processes on one PostgreSQL, as behind a load
 * balancer that is not sticky. Each process has a home of its own and the same master key (given
 * as GATEHOUSE_MASTER_KEY, as separate hosts would be). Checked against the real processes:
 *  - started all at once on an empty database: the migrations run once, every process comes up,
 *    and exactly one admin token is created;
 *  - a token revoked (from any machine sharing the store) is refused by every process within the
 *    one-second cache bound;
 *  - an approval asked for through one process, decided through a second, lets the retry run on a
 *    third, once;
 *  - all of them writing audit records at once: each has a chain of its own and `audit verify`
 *    passes over every chain.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { dropSchema } from '../../src/store/index.js';
import { freshSchema, postgresUrl, sharedStoreEnvs } from '../helpers/pg.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';

const url = await postgresUrl();
const INSTANCES = 3;

describe.skipIf(!url)('several gatehouse serve processes on one PostgreSQL', () => {
  const schema = freshSchema('gh_multi');
  // The load below drives one token far past the default per-token rate limit.
  const { envs, cleanup } = sharedStoreEnvs(
    INSTANCES,
    url ?? '',
    schema,
    'gate:\n  rate_limit: { per_second: 1000000, burst: 1000000 }\n',
  );
  let servers: Awaited<ReturnType<typeof startServe>>[] = [];
  let upstream: TestServer;
  let agent: string;

  const ok = (args: string[], input?: string): string => {
    const r = cli(args, envs[0]!, input);
    expect(r.code, `gatehouse ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const get = (i: number, path: string, token: string, init: RequestInit = {}) =>
    fetch(`${servers[i]!.url}/gateway/echo${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
    });

  beforeAll(async () => {
    assertBuilt();
    upstream = await startServer(echoHandler);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await upstream?.close();
    await dropSchema(url!, schema);
    cleanup();
  });

  it('all started at once on an empty database: migrations run once, every process serves, one admin token', async () => {
    servers = await Promise.all(envs.map((env) => startServe(env)));
    const admins = servers.filter((s) => /Admin token/.test(s.output()));
    expect(admins).toHaveLength(1);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const names = (await c.query(`SELECT name FROM "${schema}".gatehouse_migrations ORDER BY name`)).rows.map(
        (r: { name: string }) => r.name,
      );
      expect(names.length).toBeGreaterThanOrEqual(9);
      expect(new Set(names).size).toBe(names.length);
      const admin = await c.query(`SELECT count(*)::int AS n FROM "${schema}".tokens WHERE admin = 1`);
      expect(admin.rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
    ok(['target', 'add', 'http', 'echo', '--base-url', upstream.url, '--auth', 'none', '--allow-private']);
    agent = createToken(envs[0]!, 'agent', ['tool:api_request', 'target:echo']);
    for (let i = 0; i < INSTANCES; i++) expect((await get(i, '/hello', agent)).status).toBe(200);
  });

  it('all writing at once: each process appends to a chain of its own and every chain verifies', async () => {
    const before = upstream.seen.length;
    const statuses = await Promise.all(
      Array.from({ length: INSTANCES * 60 }, (_, n) => get(n % INSTANCES, `/load/${n}`, agent).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(upstream.seen.length - before).toBe(INSTANCES * 60);
    const verify = cli(['audit', 'verify', '--json'], envs[1]!);
    expect(verify.code, verify.stdout).toBe(0);
    const result = JSON.parse(verify.stdout) as { ok: boolean; chains: { chain: string; records: number }[] };
    expect(result.ok).toBe(true);
    // Every process's records are on its own chain: as many busy chains as processes (CLI commands
    // that ran before took and released chains of their own, so there may be more).
    const busy = result.chains.filter((ch) => ch.records >= 60 * 2);
    expect(busy.length).toBeGreaterThanOrEqual(INSTANCES);
  });

  it('a token revoked from any machine is refused by every process within one second', async () => {
    const victim = createToken(envs[0]!, 'victim', ['tool:api_request', 'target:echo']);
    for (let i = 0; i < INSTANCES; i++) expect((await get(i, '/before', victim)).status).toBe(200);
    const revoked = cli(['token', 'revoke', 'victim'], envs[2]!);
    expect(revoked.code, revoked.stderr).toBe(0);
    // The documented bound: each process caches a token's state for at most one second.
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < INSTANCES; i++) expect((await get(i, '/after', victim)).status).toBe(401);
  });

  it('an approval asked for through one process and decided through another lets the retry run on a third, once', async () => {
    const first = await get(0, '/items/9', agent, { method: 'DELETE' });
    expect(first.status).toBe(403);
    const id = ((await first.json()) as { error: { code: string; details: { approvalId: string } } }).error.details
      .approvalId;
    const admin = /Admin token[^\n]*\n\n\s+(gh_\S+)/.exec(servers.map((s) => s.output()).join('\n'))![1]!;
    const decided = await fetch(`${servers[1]!.url}/admin/approvals/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{"note":"decided on instance 2"}',
    });
    expect(decided.status).toBe(200);
    const before = upstream.seen.length;
    const retry = await get(2, '/items/9', agent, { method: 'DELETE', headers: { 'x-gatehouse-approval-id': id } });
    expect(retry.status, await retry.clone().text()).toBe(200);
    expect(upstream.seen.length - before).toBe(1);
    // Consumed once, whichever process sees it next.
    const again = await get(0, '/items/9', agent, { method: 'DELETE', headers: { 'x-gatehouse-approval-id': id } });
    expect(again.status).toBe(403);
    expect(upstream.seen.length - before).toBe(1);
  });
});
