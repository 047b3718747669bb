/**
 * What `gatehouse` runs is the bundle (package.json bin -> dist/src/bundle/main.js), so every e2e
 * test drives it (test/helpers/cli.ts). Here: the bin points at it, its lazy commands stay separate
 * chunks, and V8's compile cache (Node 22.1+) is kept only in a home that is private to this user.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, cli } from '../helpers/cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function home(mode: number): { env: NodeJS.ProcessEnv; dir: string } {
  const base = mkdtempSync(join(tmpdir(), 'gh-bundle-'));
  dirs.push(base);
  const dir = join(base, 'home');
  mkdirSync(dir, { mode });
  chmodSync(dir, mode);
  return { dir, env: { PATH: process.env.PATH, HOME: base, GATEHOUSE_HOME: dir, GATEHOUSE_LOG_LEVEL: 'error' } };
}

describe('the shipped entry point', () => {
  it('package.json bin is the bundle the tests drive, and the bundle keeps commands lazy', () => {
    assertBuilt();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(resolve(ROOT, pkg.bin.gatehouse ?? '')).toBe(CLI);
    // One chunk per lazily loaded command at least (serve, mcp, token, …): nothing was inlined.
    expect(readdirSync(dirname(CLI)).filter((f) => f.endsWith('.js')).length).toBeGreaterThan(15);
    expect(cli(['--help'], home(0o700).env).code).toBe(0);
  });

  // Node 22.1+ has the compile cache; on older Nodes no cache may appear at all (both are checked:
  // CI runs this on Node 20 and 24).
  const hasCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

  it(`keeps the compile cache only in a private home (${process.version}: ${hasCache ? 'has' : 'no'} compile cache)`, () => {
    const closed = home(0o700);
    expect(cli(['token', 'list'], closed.env).code).toBe(0);
    expect(existsSync(join(closed.dir, 'compile-cache'))).toBe(hasCache);

    const open = home(0o755);
    expect(cli(['token', 'list'], open.env).code).toBe(0);
    // The home is tightened for later runs, but this start did not trust it with code.
    expect(existsSync(join(open.dir, 'compile-cache'))).toBe(false);
  });
});
