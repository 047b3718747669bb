import { mkdtempSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as sandboxCmd } from '../../src/cli/commands/sandbox.js';
import { run as runCmd } from '../../src/cli/commands/run.js';
import { runCommand } from '../helpers/in-process.js';
import { requires } from '../helpers/requires.js';

describe.skipIf(!(await requires('bwrap', 'sandbox CLI')))('gatehouse sandbox / run', () => {
  it('sandbox doctor --json reports the level with checks', async () => {
    const x = await runCommand(sandboxCmd, ['doctor', '--json'], process.env);
    expect(x.code).toBe(0);
    const r = JSON.parse(x.out) as { level: string; checks: unknown[] };
    expect(['bwrap', 'bwrap+slirp']).toContain(r.level);
    expect(r.checks.length).toBeGreaterThan(3);
  });

  it('run propagates the exit code and refuses bad usage or unknown profiles', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'gh-sbx-cli-'));
    const cwd = process.cwd();
    try {
      if (process.getuid?.() === 0) chownSync(ws, 65534, 65534);
      process.chdir(ws);
      const run = (args: string[]) => runCommand(runCmd, args, process.env);
      expect((await run(['--', '/bin/sh', '-c', 'test "$(id -u)" = 65534 && exit 7'])).code).toBe(7);
      expect((await run([])).code).toBe(2);
      const x = await run(['--profile', 'nope', '--', 'true']);
      expect(x.code).toBe(2);
      expect(x.err).toMatch(/no sandbox profile named "nope"/);
    } finally {
      process.chdir(cwd);
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
