import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { tempHome } from './home.js';

export const CI = process.env.CI === 'true';
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<{ url: string; why?: undefined } | { url?: undefined; why: string }> | undefined;

/** Whether the test PostgreSQL server answers (asked once per test process). */
export function probePostgres(): Promise<{ url: string; why?: undefined } | { url?: undefined; why: string }> {
  return (probe ??= (async () => {
    const url = process.env.GATEHOUSE_TEST_PG ?? DEFAULT_URL;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.end();
      return { url };
    } catch (e) {
      return { why: `no server at ${url} (${(e as Error).message})` };
    }
  })());
}

/**
 * The PostgreSQL URL for store tests, or undefined when none is reachable. With CI=true the
 * PostgreSQL run is required: an unreachable server fails the run instead of skipping it (the same
 * rule as `requires('postgres')` in test/helpers/requires.ts).
 */
export async function postgresUrl(): Promise<string | undefined> {
  const p = await probePostgres();
  if (p.url !== undefined) return p.url;
  if (CI) throw new Error(`CI=true but PostgreSQL is not reachable: ${p.why}`);
  console.warn(
    `\n*** SKIPPING PostgreSQL store tests: ${p.why}. Set GATEHOUSE_TEST_PG, or run with CI=true to require them. ***\n`,
  );
  return undefined;
}

/** A fresh schema name per test run, so concurrent runs never collide. */
export function freshSchema(prefix = 'gh_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/**
 * Environments for several `gatehouse serve` processes sharing one PostgreSQL schema, as separate
 * hosts would: each a home of its own with the given configuration, all the same master key.
 */
export function sharedStoreEnvs(
  count: number,
  url: string,
  schema: string,
  configYaml: string,
): { envs: NodeJS.ProcessEnv[]; cleanup(): void } {
  const masterKey = randomBytes(32).toString('base64');
  const homes = Array.from({ length: count }, () => tempHome());
  const envs = homes.map((h) => {
    const config = join(h.dir, 'config.yaml');
    writeFileSync(config, configYaml);
    return {
      ...h.env,
      DATABASE_URL: url,
      GATEHOUSE_PG_SCHEMA: schema,
      GATEHOUSE_MASTER_KEY: masterKey,
      GATEHOUSE_CONFIG: config,
    };
  });
  return { envs, cleanup: () => homes.forEach((h) => h.cleanup()) };
}
