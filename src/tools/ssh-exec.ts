import { z } from 'zod';
import {
  APPROVAL_ID_ROLE,
  approvalIdField,
  boundInputs,
  clip,
  commandResult,
  envField,
  fillShellEnv,
} from './common.js';
import { refuseWhilePersonHolds, sshTarget } from './ssh-target.js';
import { defineTool, type ToolContext } from './types.js';

export const sshExecInput = z
  .object({
    target: z.string().min(1).max(100).describe('An SSH target name from discover'),
    command: z.string().min(1).max(65_536).describe('A shell command line, run by the remote login shell'),
    timeout_s: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe('Stop the command after this many seconds (default 60)'),
    cwd: z.string().max(4096).optional().describe('Working directory; the command runs only if cd succeeds'),
    env: envField.describe('Environment variables; values may be vault handles bound to this target'),
    stdin: z.string().max(1_048_576).optional().describe("Text written to the command's stdin"),
    approval_id: approvalIdField,
  })
  .strict();

export const sshExecOutput = commandResult.extend({
  timedOut: z.boolean().optional(),
  cancelled: z.boolean().optional(),
});

/** What one ssh_exec needs: a ToolContext, where progress and the approval context are optional (the plain route has neither). */
export type RunContext = Pick<ToolContext, 'principal' | 'gate' | 'ports' | 'client' | 'signal' | 'output'> &
  Partial<Pick<ToolContext, 'progress' | 'approvalContext'>>;

type SshExecOutput = z.infer<typeof sshExecOutput>;

/** ssh_exec as one operation, shared by the MCP tool and `POST /ssh/:target/exec`. */
export async function runSshExec(
  ctx: RunContext,
  input: z.infer<typeof sshExecInput>,
  tool = 'ssh_exec',
): Promise<SshExecOutput> {
  const progress = ctx.progress;
  return ctx.gate.run(
    ctx.principal,
    {
      tool,
      target: input.target,
      // INVARIANT: stdin and env are judged with the command (a shell reads its script from stdin;
      // env can hijack what runs), and cwd and the timeout are bound into the approval.
      guard: { kind: 'command', command: input.command, context: 'ssh', stdin: input.stdin, env: input.env },
      bound: boundInputs({ cwd: input.cwd, timeout_s: input.timeout_s }),
      summary: `${input.target}$ ${clip(input.command)}`,
      client: ctx.client,
    },
    async () => {
      await refuseWhilePersonHolds(ctx.ports.ssh, ctx.principal, input.target);
      const { spec, creds, host } = await sshTarget(ctx.ports.targets, input.target);
      // INVARIANT: env handles fill only for items bound to this exact command (issue 13.8).
      const shell = { command: input.command, hasStdin: !!input.stdin, cwd: input.cwd };
      const env = await fillShellEnv(ctx, input.env, { target: input.target, host }, shell);
      const pool = await ctx.ports.ssh.pool();
      return pool.exec(spec, creds, {
        command: input.command,
        timeoutS: input.timeout_s,
        cwd: input.cwd,
        env: { ...env.values, ...env.secrets },
        stdin: input.stdin,
        signal: ctx.signal,
        // Scrubbed, then cut at the output limit (a secret straddling the cut never shows).
        output: ctx.output,
        onProgress: progress
          ? (bytes) => void progress(bytes, undefined, `${bytes} bytes of output so far`)
          : undefined,
      });
    },
    {
      approvalContext: ctx.approvalContext,
      approvalId: input.approval_id,
      auditFields: (x: SshExecOutput) => ({
        outcome: x.timedOut ? 'timeout' : x.cancelled ? 'cancelled' : 'ok',
        status: x.exitCode ?? undefined,
      }),
    },
  );
}

export const sshExecTool = defineTool({
  name: 'ssh_exec',
  title: 'Run a command on an SSH server',
  description:
    'Runs one shell command on an SSH target over a pooled connection with a pinned host key; you never hold the SSH key. The command is parsed and judged first: ' +
    "dangerous commands need a person's approval and some are refused outright. A timeout or cancellation kills the remote command. Returns exit code, stdout and stderr " +
    '(capped, secrets scrubbed). Env values may be vault handles bound to the target.',
  inputSchema: sshExecInput,
  inputRoles: {
    target: 'target',
    command: 'judged',
    stdin: 'judged',
    env: 'judged',
    cwd: 'bound',
    timeout_s: 'bound',
    approval_id: APPROVAL_ID_ROLE,
  },
  outputSchema: sshExecOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  handler: (input, ctx) => runSshExec(ctx, input),
});
