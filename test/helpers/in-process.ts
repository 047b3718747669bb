/**
 * A CLI command run in this process (no build needed), with its stdout and stderr collected.
 * Errors it throws (usage, conflict…) reach the test as the command would report them.
 */
import { PassThrough } from 'node:stream';
import type { CommandRunner } from '../../src/cli/context.js';

export async function runCommand(
  cmd: CommandRunner,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await cmd(args, { stdout, stderr, stdin: new PassThrough(), env });
  return { code, out, err };
}
