/**
 * What `gatehouse` runs is the bundle (package.json bin -> dist/src/bundle/main.js), so every e2e
 * test drives it (test/helpers/cli.ts). Here: the bin points at it, its lazy commands stay separate
 * chunks, V8's compile cache (Node 22.1+) is kept only in a home that is private to this user, and
 * so is the code cache `gatehouse mcp` starts from (src/cli/code-cache.ts, on every Node version).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, cli, createToken } from '../helpers/cli.js';

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

  /** One `gatehouse mcp` session: initialize, tools/list, then stdin closes. Its stderr and the tool count. */
  async function mcpSession(env: NodeJS.ProcessEnv): Promise<{ tools: number; stderr: string; code: number | null }> {
    const proc = spawn(process.execPath, [CLI, 'mcp'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const listed = new Promise<number>((resolve) =>
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"id":2'));
        if (line) resolve((JSON.parse(line) as { result: { tools: unknown[] } }).result.tools.length);
      }),
    );
    const send = (m: unknown) => proc.stdin.write(JSON.stringify(m) + '\n');
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const tools = await listed;
    proc.stdin.end();
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    return { tools, stderr: err, code };
  }
  const cacheState = (stderr: string) => /"msg":"code cache","state":"(\w+)"/.exec(stderr)?.[1];

  it('`gatehouse mcp` keeps its code cache in a private home, and the next start reads it', async () => {
    const closed = home(0o700);
    const env: NodeJS.ProcessEnv = { ...closed.env, GATEHOUSE_LOG_LEVEL: 'debug' };
    env.GATEHOUSE_TOKEN = createToken(closed.env, 'cc', ['tool:*']);
    const first = await mcpSession(env);
    expect(first.code).toBe(0);
    expect(first.tools).toBeGreaterThan(10);
    expect(cacheState(first.stderr)).toBe('none');
    // Audit batches are committed and flushed on the writer thread, from cli.cjs as from the ES
    // module build (below): its file is found beside either.
    // "ready" is sent by the thread once its connection is open and set up.
    expect(first.stderr).toContain('"msg":"audit writer thread ready"');
    expect(first.stderr).not.toContain('audit writer thread stopped');
    const files = readdirSync(join(closed.dir, 'code-cache'));
    expect(files.filter((f) => /^cli-[0-9a-f]{32}\.v8$/.test(f))).toHaveLength(1);
    const second = await mcpSession(env);
    expect(second.tools).toBe(first.tools);
    expect(cacheState(second.stderr)).toBe('accepted');

    // A home others can read is not trusted with code: the start runs without any cache.
    const open = home(0o755);
    const openEnv: NodeJS.ProcessEnv = { ...open.env, GATEHOUSE_LOG_LEVEL: 'debug' };
    openEnv.GATEHOUSE_TOKEN = createToken(open.env, 'cc', ['tool:*']);
    chmodSync(open.dir, 0o755); // token create tightened it
    const uncached = await mcpSession(openEnv);
    expect(uncached.tools).toBe(first.tools);
    expect(cacheState(uncached.stderr)).toBeUndefined();
    expect(uncached.stderr).toContain('"msg":"audit writer thread ready"');
    expect(uncached.stderr).not.toContain('audit writer thread stopped');
    expect(existsSync(join(open.dir, 'code-cache'))).toBe(false);
  });

  it('cli.cjs holds only what `mcp` reaches: any other command run from it fails, saying so', () => {
    const cjs = join(dirname(CLI), 'cli.cjs');
    // Runs cli.cjs the way the launcher does (one function over CommonJS's arguments), then asks
    // it for `token list`, which only the ES module build serves.
    const script = [
      "const vm = require('node:vm'), fs = require('node:fs'), Module = require('node:module'), path = require('node:path');",
      'const f = process.argv[1];',
      "const run = new vm.Script(fs.readFileSync(f, 'latin1'), { filename: f, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }).runInThisContext();",
      'const m = { exports: {} };',
      'run.call(m.exports, m.exports, Module.createRequire(f), m, f, path.dirname(f));',
      "m.exports.main(['token', 'list'], { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then((c) => { process.exitCode = c; });",
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script, cjs], { env: home(0o700).env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('is not in cli.cjs');
    // The console's page code is not in the file at all.
    expect(readFileSync(cjs, 'latin1')).not.toContain('Signing you in');
  });
});
