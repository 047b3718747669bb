/**
 * `gatehouse run` under a profile that takes checkpoints: the workspace is checkpointed before the
 * program starts (the agent's own commands inside are not seen one by one), so a person can undo
 * the whole run, and a checkpoint that cannot be taken means the program never starts.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as checkpointCmd } from '../../src/cli/commands/checkpoint.js';
import { run as runCmd } from '../../src/cli/commands/run.js';
import { requires } from '../helpers/requires.js';
import { runCommand } from '../helpers/in-process.js';

const hasBwrap = await requires('bwrap', 'checkpoint before gatehouse run');
const dir = mkdtempSync(join(tmpdir(), 'gh-cp-run-'));
chmodSync(dir, 0o755);
const ws = join(dir, 'ws');
const config = join(dir, 'config.yaml');
const env = { ...process.env, GATEHOUSE_CONFIG: config, GATEHOUSE_HOME: join(dir, 'home') };
const writeConfig = (checkpoints: string) =>
  writeFileSync(
    config,
    `sandbox:\n  profile: agent\n  profiles:\n    agent:\n      workspace: ${ws}\n      checkpoints: ${checkpoints}\n`,
  );

const call = (cmd: typeof runCmd, args: string[]) => runCommand(cmd, args, env);

describe.skipIf(!hasBwrap)('checkpoints around gatehouse run', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('checkpoints the workspace before the program, so the whole run can be undone', async () => {
    mkdirSync(join(ws, 'src'), { recursive: true, mode: 0o777 });
    chmodSync(ws, 0o777);
    chmodSync(join(ws, 'src'), 0o777);
    writeFileSync(join(ws, 'src', 'main.c'), 'int main(void) { return 0; }\n', { mode: 0o666 });
    writeFileSync(join(ws, 'README'), 'read me\n', { mode: 0o666 });
    for (const f of ['src/main.c', 'README']) chmodSync(join(ws, f), 0o666);
    writeConfig('{ auto: true }');
    const r = await call(runCmd, ['--', 'sh', '-c', 'rm -rf src && echo trashed > README']);
    expect(r.code, r.err).toBe(0);
    const id = /checkpoint (cp-\S+) of /.exec(r.err)?.[1];
    expect(id, r.err).toBeDefined();
    expect(existsSync(join(ws, 'src'))).toBe(false);

    const list = await call(checkpointCmd, ['list', '--json']);
    const listed = JSON.parse(list.out) as { checkpoints: { id: string; trigger: string; command: string }[] };
    expect(listed.checkpoints).toEqual([
      expect.objectContaining({ id, trigger: 'run', command: 'sh -c rm -rf src && echo trashed > README' }),
    ]);
    const back = await call(checkpointCmd, ['rollback', id!]);
    expect(back.code, back.err).toBe(0);
    expect(readFileSync(join(ws, 'src', 'main.c'), 'utf8')).toBe('int main(void) { return 0; }\n');
    expect(readFileSync(join(ws, 'README'), 'utf8')).toBe('read me\n');
  });

  it('does not start the program when the checkpoint cannot be taken', async () => {
    writeFileSync(join(ws, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 1), { mode: 0o666 });
    writeConfig('{ auto: true, maxBytes: 1048576 }');
    const r = await call(runCmd, ['--', 'sh', '-c', 'echo ran > ran.txt']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/checkpoint store past 1048576 bytes/);
    expect(existsSync(join(ws, 'ran.txt'))).toBe(false);
  });
});
