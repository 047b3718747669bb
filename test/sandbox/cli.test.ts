import { mkdtempSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run as sandboxCmd } from '../../src/cli/commands/sandbox.js';
import { run as runCmd } from '../../src/cli/commands/run.js';
import { requires } from '../helpers/requires.js';

function ctx() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  return { c: { stdout, stderr, stdin: new PassThrough(), env: process.env }, out: () => out, err: () => err };
}

describe.skipIf(!(await requires('bwrap', 'sandbox CLI')))('gatehouse sandbox / run', () => {
  it('sandbox doctor --json reports the level with checks', async () => {
    const x = ctx();
    expect(await sandboxCmd(['doctor', '--json'], x.c)).toBe(0);
    const r = JSON.parse(x.out()) as { level: string; checks: unknown[] };
    expect(['bwrap', 'bwrap+slirp']).toContain(r.level);
    expect(r.checks.length).toBeGreaterThan(3);
  });

  it('run propagates the exit code and refuses bad usage or unknown profiles', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'gh-sbx-cli-'));
    const cwd = process.cwd();
    try {
      if (process.getuid?.() === 0) chownSync(ws, 65534, 65534);
      process.chdir(ws);
      expect(await runCmd(['--', '/bin/sh', '-c', 'test "$(id -u)" = 65534 && exit 7'], ctx().c)).toBe(7);
      expect(await runCmd([], ctx().c)).toBe(2);
      const x = ctx();
      expect(await runCmd(['--profile', 'nope', '--', 'true'], x.c)).toBe(2);
      expect(x.err()).toMatch(/no sandbox profile named "nope"/);
    } finally {
      process.chdir(cwd);
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
