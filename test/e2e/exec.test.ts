import { mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { stdioClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';

/**
 * A build script in the workspace that uses the token (and, carelessly, prints it). The guard
 * cannot read the script: in the sandbox that is the context's unknown verdict, allow. A line that
 * names the credential itself (`echo "$BUILD_TOKEN"`) would be refused as a secret print.
 */
const BUILD_COMMAND = 'sh ./build.sh';
const BUILD_SCRIPT = 'printf "%s" "$BUILD_TOKEN" | wc -c\necho "$BUILD_TOKEN"\n';

describe.skipIf(!(await requires('bwrap', 'exec e2e')))('exec tool end to end in the bubblewrap sandbox', () => {
  const home = tempHome();
  let env: NodeJS.ProcessEnv;
  let agent: string;

  beforeAll(() => {
    assertBuilt();
    const workspace = mkdtempSync(join(tmpdir(), 'gh-ws-'));
    chmodSync(workspace, 0o777);
    writeFileSync(join(workspace, 'build.sh'), BUILD_SCRIPT, { mode: 0o755 });
    writeFileSync(join(workspace, 'rev.sh'), 'printf "%s" "$BUILD_TOKEN" | rev\n', { mode: 0o755 });
    const config = join(home.dir, 'config.yaml');
    writeFileSync(config, `sandbox:\n  profile: work\n  profiles:\n    work:\n      workspace: ${workspace}\n`);
    env = { ...home.env, GATEHOUSE_CONFIG: config };
    const r = cli(['vault', 'create', 'ops'], env);
    if (r.code !== 0) throw new Error(r.stderr);
    // An env handle fills only for the one command it is bound to (issue 13.8).
    cli(
      ['vault', 'set', 'ops/build.token', '--bind', `command:local:BUILD_TOKEN=${BUILD_COMMAND}`],
      env,
      'build-token-canary-77aa',
    );
    cli(['vault', 'set', 'ops/other.token', '--bind', 'target:local'], env, 'other-token-canary-5e1d');
    agent = createToken(env, 'builder', ['tool:exec', 'vault:ops']);
  });
  afterAll(() => home.cleanup());

  it('runs a command in the sandbox and reports the isolation', async () => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'modern');
    try {
      const r = await client.callTool({ name: 'exec', arguments: { command: 'echo hello; id -u' } });
      expect(r.isError).toBeFalsy();
      const out = r.structuredContent as { exitCode: number; stdout: string; sandbox: string };
      expect(out.exitCode).toBe(0);
      expect(out.stdout).toMatch(/^hello\n\d+\n$/);
      expect(out.stdout).not.toMatch(/^hello\n0\n$/);
      expect(out.sandbox).toMatch(/^bwrap/);
    } finally {
      await close();
    }
  });

  it("cannot read Gatehouse's own home, key or store", async () => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'legacy');
    try {
      const h = home.env.GATEHOUSE_HOME!;
      const r = await client.callTool({
        name: 'exec',
        arguments: { command: `ls -A ${h}; wc -c ${h}/gatehouse.db; echo end` },
      });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      const out = r.structuredContent as { stdout: string; stderr: string };
      // The home is an empty directory inside the sandbox: no store, no key file.
      expect(out.stdout).toBe('end\n');
      expect(out.stderr).toMatch(/No such file/);
    } finally {
      await close();
    }
  });

  it('fills env handles bound to this exact command on local and scrubs them from the output', async () => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'modern');
    try {
      const r = await client.callTool({
        name: 'exec',
        arguments: { command: BUILD_COMMAND, env: { BUILD_TOKEN: '{{vault:ops/build.token}}' } },
      });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      const out = r.structuredContent as { stdout: string };
      expect(out.stdout.split('\n')[0].trim()).toBe(String('build-token-canary-77aa'.length));
      expect(JSON.stringify(r)).not.toContain('build-token-canary-77aa');
      // Any other command (here one that reads the value back transformed) gets nothing.
      const rev = await client.callTool({
        name: 'exec',
        arguments: { command: 'sh ./rev.sh', env: { BUILD_TOKEN: '{{vault:ops/build.token}}' } },
      });
      expect(rev.isError).toBe(true);
      expect(JSON.stringify(rev.content)).toMatch(/vault_handle_refused.*not one it is bound to/s);
      // A handle bound target:local never fills a command's env.
      const other = await client.callTool({
        name: 'exec',
        arguments: { command: 'echo "$T" | rev', env: { T: '{{vault:ops/other.token}}' } },
      });
      expect(other.isError).toBe(true);
      expect(JSON.stringify(other.content)).toMatch(/vault_handle_refused.*not bound for use in a command/s);
      expect(JSON.stringify([rev, other])).not.toMatch(/canary|ayranac/);
    } finally {
      await close();
    }
  });

  it('the guard refuses catastrophes before the sandbox starts', async () => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'legacy');
    try {
      const r = await client.callTool({ name: 'exec', arguments: { command: 'rm -rf / --no-preserve-root' } });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toMatch(/denied/);
    } finally {
      await close();
    }
  });

  it('a limit breach is a typed result', async () => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'modern');
    try {
      const r = await client.callTool({ name: 'exec', arguments: { command: 'sleep 30', timeout_s: 1 } });
      expect(r.structuredContent).toMatchObject({ limit: 'wall_time' });
    } finally {
      await close();
    }
  });
});
