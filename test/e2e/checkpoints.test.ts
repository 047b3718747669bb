/**
 * Issue 20 item 4 end to end: an agent's `rm -rf` through the real `exec` tool (bubblewrap) is
 * preceded by an automatic checkpoint; the result tells the agent what was deleted and how a
 * person restores it; `gatehouse checkpoint rollback` puts the workspace back byte for byte; a
 * checkpoint that cannot be taken stops the command (fail closed).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeDigest } from '../helpers/tree.js';
import { assertBuilt, cli, createToken } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { stdioClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';

const tree = (dir: string) => treeDigest(dir);

interface ExecOut {
  exitCode: number;
  stdout: string;
  checkpoint?: { id: string; reasons: string[]; deleted?: string[]; deletedCount?: number; restore: string };
}

describe.skipIf(!(await requires('bwrap', 'checkpoint e2e')))('checkpoints around exec', () => {
  const home = tempHome();
  let env: NodeJS.ProcessEnv;
  let agent: string;
  let workspace: string;
  let config: string;
  const writeConfig = (checkpoints: string) =>
    writeFileSync(
      config,
      `sandbox:\n  profile: work\n  profiles:\n    work:\n      workspace: ${workspace}\n      checkpoints: ${checkpoints}\n`,
    );

  beforeAll(() => {
    assertBuilt();
    workspace = mkdtempSync(join(tmpdir(), 'gh-cp-ws-'));
    chmodSync(workspace, 0o777);
    mkdirSync(join(workspace, 'src', 'lib'), { recursive: true, mode: 0o777 });
    writeFileSync(join(workspace, 'src', 'app.ts'), 'export const answer = 42;\n', { mode: 0o666 });
    writeFileSync(join(workspace, 'src', 'lib', 'blob.bin'), Buffer.from([0, 255, 1, 254, 0, 0, 9]), { mode: 0o666 });
    writeFileSync(join(workspace, 'notes.txt'), 'keep me\n', { mode: 0o644 });
    writeFileSync(join(workspace, 'build.sh'), '#!/bin/sh\necho build\n', { mode: 0o755 });
    symlinkSync('src/app.ts', join(workspace, 'entry'));
    for (const d of ['src', 'src/lib']) chmodSync(join(workspace, d), 0o777);
    config = join(home.dir, 'config.yaml');
    writeConfig('{ auto: true, softDelete: true }');
    env = { ...home.env, GATEHOUSE_CONFIG: config };
    agent = createToken(env, 'cp-agent', ['tool:exec']);
  });
  afterAll(() => home.cleanup());

  const exec = async (command: string) => {
    const { client, close } = await stdioClient({ ...env, GATEHOUSE_TOKEN: agent }, 'modern');
    try {
      return await client.callTool({ name: 'exec', arguments: { command } });
    } finally {
      await close();
    }
  };

  it('checkpoints before rm -rf, names what was deleted, and rolls back byte for byte', async () => {
    const before = tree(workspace);
    const quiet = await exec('ls -la');
    expect((quiet.structuredContent as ExecOut).checkpoint).toBeUndefined();

    const r = await exec('rm -rf src notes.txt entry');
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    const out = r.structuredContent as ExecOut;
    expect(out.exitCode).toBe(0);
    expect(existsSync(join(workspace, 'src'))).toBe(false);
    const cp = out.checkpoint!;
    expect(cp.id).toMatch(/^cp-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(cp.reasons).toEqual(['rm']);
    expect(cp.deleted).toEqual(expect.arrayContaining(['src', 'src/app.ts', 'src/lib/blob.bin', 'notes.txt', 'entry']));
    // The model reads the text: the id and the way back are in it.
    const text = JSON.stringify(r.content);
    expect(text).toContain(cp.id);
    expect(text).toContain('gatehouse checkpoint rollback');

    const list = cli(['checkpoint', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as { checkpoints: { id: string; trigger: string; command?: string }[] };
    expect(listed.checkpoints).toEqual([
      expect.objectContaining({ id: cp.id, trigger: 'auto', command: 'rm -rf src notes.txt entry' }),
    ]);

    const show = cli(['checkpoint', 'show', cp.id], env);
    expect(show.stdout).toContain('D  src/app.ts');
    expect(show.stdout).toContain('D  entry (link)');

    const dry = cli(['checkpoint', 'rollback', cp.id, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would undo \d+ change/);
    expect(existsSync(join(workspace, 'notes.txt'))).toBe(false);

    const back = cli(['checkpoint', 'rollback', cp.id], env);
    expect(back.code, back.stderr).toBe(0);
    expect(tree(workspace)).toBe(before);

    // The rollback is audited with the checkpoint it restored.
    const audit = cli(['audit', 'tail', '-n', '50', '--json'], env);
    const records = audit.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tool: string; detail?: Record<string, unknown> });
    expect(records.find((x) => x.tool === 'cli:checkpoint.rollback')?.detail).toMatchObject({ checkpoint: cp.id });
    // And the exec record names the checkpoint taken before it.
    // No person was asked: with soft delete the guard allows rm in the sandbox (fs.rm-soft).
    expect(records).toContainEqual(expect.objectContaining({ tool: 'exec', rule: 'fs.rm-soft', decision: 'allow' }));
    const execRecord = records.find((x) => x.tool === 'exec' && x.detail?.checkpoint !== undefined);
    expect(execRecord?.detail).toMatchObject({
      checkpoint: cp.id,
      checkpointReasons: ['rm'],
      softDeleted: cp.deletedCount,
    });
  });

  it('refuses the command when the checkpoint it needs cannot be taken', async () => {
    writeFileSync(join(workspace, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 7), { mode: 0o666 });
    writeConfig('{ softDelete: true, maxBytes: 1048576 }');
    try {
      const r = await exec('rm big.bin');
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toMatch(/limit_exceeded.*checkpoint/);
      expect(existsSync(join(workspace, 'big.bin'))).toBe(true);
    } finally {
      writeConfig('{ auto: true, softDelete: true }');
    }
  });
});
