import { z } from 'zod';
import type { Principal } from '../gate/index.js';
import type { Runtime } from '../server/runtime.js';
import { APPROVAL_ID_ROLE, approvalIdField, boundInputs, clip, commandResult, envField, fillShellEnv } from './common.js';
import type { CallScrub } from './call-scrub.js';
import { sshTarget } from './ssh-target.js';
import { defineTool } from './types.js';

export const sshExecInput = z
  .object({
    target: z.string().min(1).max(100).describe('An SSH target name from discover'),
    command: z.string().min(1).max(65_536).describe('A shell command line, run by the remote login shell'),
    timeout_s: z.number().int().min(1).max(3600).optional().describe('Stop the command after this many seconds (default 60)'),
    cwd: z.string().max(4096).optional().describe('Working directory; the command runs only if cd succeeds'),
    env: envField.describe('Environment variables; values may be vault handles bound to this target'),
    stdin: z.string().max(1_048_576).optional().describe('Text written to the command\'s stdin'),
    approval_id: approvalIdField,
  })
  .strict();

export const sshExecOutput = commandResult.extend({
  timedOut: z.boolean().optional(),
  cancelled: z.boolean().optional(),
});

export interface RunContext {
  client: string;
  signal: AbortSignal;
  channel?: unknown;
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  /** The call's scrubbing (see CallScrub). */
  output: CallScrub;
}

/** ssh_exec as one operation, shared by the MCP tool and `POST /ssh/:target/exec`. */
export async function runSshExec(rt: Runtime, principal: Principal, input: z.infer<typeof sshExecInput>, ctx: RunContext, tool = 'ssh_exec'): Promise<z.infer<typeof sshExecOutput>> {
  return rt.gate.run(
    principal,
    {
      tool,
      target: input.target,
      // INVARIANT: stdin and env are judged with the command (a shell reads its script from stdin;
      // env can hijack what runs), and cwd and the timeout are bound into the approval.
      guard: { kind: 'command', command: input.command, stdin: input.stdin, env: input.env },
      bound: boundInputs({ cwd: input.cwd, timeout_s: input.timeout_s }),
      summary: `${input.target}$ ${clip(input.command)}`,
      client: ctx.client,
    },
    async () => {
      const { spec, creds, host } = await sshTarget(rt, input.target);
      // INVARIANT: env handles fill only for items bound to this exact command (issue 13.8).
      const env = await fillShellEnv({ runtime: rt, principal, output: ctx.output }, input.env, { target: input.target, host }, { command: input.command, hasStdin: !!input.stdin, cwd: input.cwd });
      const pool = await rt.sshPool();
      return pool.exec(spec, creds, {
        command: input.command,
        timeoutS: input.timeout_s,
        cwd: input.cwd,
        env: { ...env.values, ...env.secrets },
        stdin: input.stdin,
        signal: ctx.signal,
        // Scrubbed, then cut at the output limit (a secret straddling the cut never shows).
        output: ctx.output,
        onProgress: ctx.progress ? (bytes) => void ctx.progress!(bytes, undefined, `${bytes} bytes of output so far`) : undefined,
      });
    },
    {
      channel: ctx.channel,
      approvalId: input.approval_id,
      describe: (r) => {
        const x = r as z.infer<typeof sshExecOutput>;
        return { outcome: x.timedOut ? 'timeout' : x.cancelled ? 'cancelled' : 'ok', status: x.exitCode ?? undefined };
      },
    },
  );
}

export const sshExecTool = defineTool({
  name: 'ssh_exec',
  title: 'Run a command on an SSH server',
  description:
    'Runs one shell command on an SSH target over a pooled connection with a pinned host key; you never hold the SSH key. The command is parsed and judged first: ' +
    'dangerous commands need a person\'s approval and some are refused outright. A timeout or cancellation kills the remote command. Returns exit code, stdout and stderr ' +
    '(capped, secrets scrubbed). Env values may be vault handles bound to the target.',
  inputSchema: sshExecInput,
  inputRoles: { target: 'target', command: 'judged', stdin: 'judged', env: 'judged', cwd: 'bound', timeout_s: 'bound', approval_id: APPROVAL_ID_ROLE },
  outputSchema: sshExecOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  handler: (input, ctx) => runSshExec(ctx.runtime, ctx.principal, input, ctx),
});
