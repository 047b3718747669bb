import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
