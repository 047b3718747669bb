import type { Readable, Writable } from 'node:stream';

/**
 * What every CLI command receives. Commands write human output to `stdout` and diagnostics to
 * `stderr`, read secrets from `stdin`, and return the process exit code. They never call
 * process.exit themselves, so tests can run them in-process.
 */
export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

/** A subcommand: `args` are the words after its name (e.g. after `guard`). */
export type CommandRunner = (args: string[], ctx: CliContext) => Promise<number>;

/** Exit codes shared by all commands. `guard check` adds 10 (approve) and 20 (deny). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
