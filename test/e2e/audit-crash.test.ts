/**
 * Issue 19's crash invariant, tried for real: a loaded `gatehouse serve` is killed with SIGKILL at
 * a random moment, again and again, and restarted on the same store each time. Afterwards
 *  - every request the upstream received (an action that ran) has its attempt record: none was
 *    lost in a crash, whatever the moment;
 *  - each restart came up on its own (the store recovers what a crash left, no operator step);
 *  - `audit verify` passes over every chain the killed processes left;
 *  - a record is readable by `audit search` as soon as its request has been answered.
 * On the embedded store and, where reachable (always under CI=true), on PostgreSQL.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema } from '../../src/store/index.js';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { freshSchema, postgresUrl } from '../helpers/pg.js';

const pgUrl = await postgresUrl();
const ROUNDS = 6;
const LOADERS = 8;

interface AuditJson {
  phase: string;
  action: string | null;
  tool: string | null;
}

const kinds: ('sqlite' | 'postgres')[] = pgUrl ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(kinds)('kill -9 under load, restart, repeat (%s)', (kind) => {
  const home = tempHome();
  const schema = freshSchema('gh_crash');
  const env: NodeJS.ProcessEnv = { ...home.env };
  if (kind === 'postgres') Object.assign(env, { DATABASE_URL: pgUrl, GATEHOUSE_PG_SCHEMA: schema });
  // The loaders drive one token far past the default per-token rate limit on purpose.
  const config = join(home.dir, 'config.yaml');
  writeFileSync(config, 'gate:\n  rate_limit: { per_second: 1000000, burst: 1000000 }\n');
  env.GATEHOUSE_CONFIG = config;
  const received = new Set<string>();
  let upstream: Server | undefined;

  afterAll(async () => {
    await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
    if (kind === 'postgres') await dropSchema(pgUrl!, schema);
    home.cleanup();
  });

  it('loses no attempt whose action ran, restarts on its own, and every chain verifies', async () => {
    assertBuilt();
    upstream = createServer((req, res) => {
      received.add(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const ok = (args: string[]) => {
      const r = cli(args, env);
      expect(r.code, `gatehouse ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    ok(['target', 'add', 'http', 'up', '--base-url', `http://127.0.0.1:${port}`, '--auth', 'none', '--allow-private']);
    const token = createToken(env, 'loader', ['tool:api_request', 'target:up']);

    let answered = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const server = await startServe(env);
      let stop = false;
      let n = 0;
      const loaders = Array.from({ length: LOADERS }, async () => {
        while (!stop) {
          const path = `/r${round}/${n++}`;
          try {
            const r = await fetch(`${server.url}/gateway/up${path}`, {
              headers: { authorization: `Bearer ${token}` },
            });
            await r.arrayBuffer();
            if (r.status === 200) answered++;
          } catch {
            // The server was killed under this request: what matters is whether the upstream saw it.
          }
        }
      });
      // Under load first (however slow the box), then a random moment: mid-batch, mid-flush,
      // mid-request, between requests.
      const loadedAt = answered + 5;
      for (let t = Date.now(); answered < loadedAt && Date.now() - t < 30_000;)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      const exited = new Promise((r) => server.proc.once('exit', r));
      server.proc.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(loaders);
    }
    expect(answered).toBeGreaterThanOrEqual(ROUNDS * 5); // the load was real

    // A last start must come up by itself and serve; its record is readable at once.
    const server = await startServe(env);
    try {
      const r = await fetch(`${server.url}/gateway/up/final`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      const found = JSON.parse(
        `[${ok(['audit', 'search', '--json', '-n', '5']).trim().split('\n').join(',')}]`,
      ) as AuditJson[];
      expect(found.some((x) => x.phase === 'attempt' && x.action === 'GET /gateway/up/final')).toBe(true);
    } finally {
      await server.stop();
    }

    const records = ok(['audit', 'search', '--json', '-n', '100000'])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditJson);
    const attempted = new Set(
      records.filter((x) => x.phase === 'attempt' && x.action).map((x) => x.action!.replace(/^GET \/gateway\/up/, '')),
    );
    const lost = [...received].filter((path) => !attempted.has(path));
    expect(received.size).toBeGreaterThanOrEqual(ROUNDS * 5);
    expect(lost).toEqual([]);
    const verify = cli(['audit', 'verify'], env);
    expect(verify.stdout).toMatch(/^ok: \d+ records in \d+ chains?, every chain intact/);
    expect(verify.code).toBe(0);
  }, 180_000);
});
