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
import { defineTool } from './types.js';

/** The destination name vault items bind to for local sandboxed exec (`--bind target:local`). */
export const LOCAL_TARGET = 'local';

const output = commandResult.extend({
  limits: z.record(z.string(), z.unknown()),
  limit: z.string().optional().describe('Which limit ended the command, if one did'),
  limitMessage: z.string().optional(),
  sandbox: z.enum(['bwrap', 'bwrap-net', 'none']),
  checkpoint: z
    .object({
      id: z.string(),
      reasons: z.array(z.string()),
      deleted: z.array(z.string()).optional(),
      deletedCount: z.number().optional(),
      restore: z.string(),
    })
    .optional()
    .describe('The workspace checkpoint taken before this destructive command, and how a person restores it'),
});

export const execTool = defineTool({
  name: 'exec',
  title: 'Run a command in the local sandbox',
  description:
    'Runs a shell command on the Gatehouse host inside a bubblewrap sandbox: read-only system, the workspace read-write, private /tmp, no network unless allowlisted, ' +
    "enforced CPU, memory, process, file-size, time and output limits. The command is parsed and judged first: dangerous commands need a person's approval and some are refused outright. " +
    'Env values may hold vault handles bound to target:local. Returns exit code, stdout, stderr (secrets scrubbed) and which limit, if any, stopped it. ' +
    'When the profile takes checkpoints, a destructive command (rm, mv, git reset, `>` …) first gets a workspace checkpoint: `checkpoint` in the result names it and the command a person runs to undo.',
  inputSchema: z
    .object({
      command: z.string().min(1).max(65_536).describe('A shell command line (run by /bin/sh -c)'),
      cwd: z.string().max(4096).optional().describe('Working directory inside the workspace'),
      timeout_s: z
        .number()
        .int()
        .min(1)
        .max(3600)
        .optional()
        .describe('Wall-time limit in seconds (capped by the sandbox profile)'),
      env: envField.describe('Extra environment variables; values may be vault handles bound to target:local'),
      approval_id: approvalIdField,
    })
    .strict(),
  inputRoles: { command: 'judged', env: 'judged', cwd: 'bound', timeout_s: 'bound', approval_id: APPROVAL_ID_ROLE },
  outputSchema: output,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(input, ctx) {
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'exec',
        guard: {
          kind: 'command',
          command: input.command,
          context: 'sandbox',
          env: input.env,
          // INVARIANT: only when the sandbox port checkpoints before every deleting command.
          ...(ctx.ports.sandbox.softDelete() ? { reversibleDeletes: true } : {}),
        },
        bound: boundInputs({ cwd: input.cwd, timeout_s: input.timeout_s }),
        summary: `exec: ${clip(input.command)}`,
        client: ctx.client,
      },
      async () => {
        // INVARIANT: env handles fill only for items bound to this exact command (issue 13.8).
        const env = await fillShellEnv(
          ctx,
          input.env,
          { target: LOCAL_TARGET, host: 'localhost' },
          { command: input.command, hasStdin: false, cwd: input.cwd },
        );
        // The sandbox port hides Gatehouse's own home, store, key and configuration from every run.
        const r = await ctx.ports.sandbox.run({
          command: input.command,
          cwd: input.cwd,
          env: env.values,
          secretEnv: env.secrets,
          timeoutS: input.timeout_s,
          signal: ctx.signal,
          output: ctx.output,
        });
        return { ...r, limits: { ...r.limits } };
      },
      {
        approvalContext: ctx.approvalContext,
        approvalId: input.approval_id,
        auditFields: (r) => ({
          outcome: r.limit ? `limit:${r.limit}` : 'ok',
          status: r.exitCode ?? undefined,
          ...(r.checkpoint
            ? {
                detail: {
                  checkpoint: r.checkpoint.id,
                  checkpointReasons: r.checkpoint.reasons,
                  ...(r.checkpoint.deletedCount !== undefined ? { softDeleted: r.checkpoint.deletedCount } : {}),
                },
              }
            : {}),
        }),
      },
    );
  },
});
