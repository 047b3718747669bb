import { createHash } from 'node:crypto';
import { z } from 'zod';
import { GatehouseError, truncateText } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import type { CallScrub } from './call-scrub.js';
import type { FillDestination, HandlesPort, ShellUse } from './ports.js';
import type { ToolContext } from './types.js';

/**
 * `approval_id`: the one approval-related argument an agent may send: the id of an out-of-band
 * approval a person decided. It is checked against the exact action, token and expiry; it can
 * never approve anything by itself.
 */
export const approvalIdField = z
  .string()
  .regex(/^ap_[A-Za-z0-9_-]{10,64}$/)
  .optional()
  .describe(
    'Only when retrying after an approval_required result: the approval id it gave you, once a person approved it.',
  );

/** Environment variables for a command; values may be vault handles bound to the destination. */
export const envField = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), z.string().max(32_768)).optional();

/** What every command-running tool returns first (ssh_exec and exec add their own fields). */
export const commandResult = z.object({
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  durationMs: z.number(),
});

/**
 * Who fills and for which call: the handles port, the principal whose vault grants apply, and the
 * call's scrubbing, which every filled value joins before anything is sent. A ToolContext is one.
 */
export interface FillContext {
  ports: { handles: HandlesPort };
  principal: Principal;
  output: CallScrub;
}

/** Fills vault handles in a map of values (env, headers, query) for one destination. */
export async function fillValues(
  fc: FillContext,
  values: Record<string, string> | undefined,
  destination: FillDestination,
): Promise<{ values: Record<string, string>; secrets: Record<string, string> }> {
  const plain: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) {
    if (!v.includes('{{vault:')) {
      plain[k] = v;
      continue;
    }
    const r = await fc.ports.handles.fillText(fc.principal, v, destination);
    fc.output.filled(r.filled);
    if (r.handles > 0) secrets[k] = r.text;
    else plain[k] = r.text;
  }
  return { values: plain, secrets };
}

/**
 * Fills vault handles in the environment of a command (`ssh_exec`, `exec`). Only items bound to
 * this exact command line and env name on this target fill (src/vault/bindings.ts); the whole
 * env, stdin and cwd are part of the decision, and every filled value is registered for scrubbing.
 */
export async function fillShellEnv(
  fc: FillContext,
  env: Record<string, string> | undefined,
  destination: { target: string; host?: string },
  shell: ShellUse,
): Promise<{ values: Record<string, string>; secrets: Record<string, string> }> {
  const r = await fc.ports.handles.fillShellEnv(fc.principal, env, destination, shell);
  fc.output.filled(r.filled);
  return { values: r.values, secrets: r.secrets };
}

/** Fills vault handles in one text (a request body). */
export async function fillText(fc: FillContext, text: string, destination: FillDestination): Promise<string> {
  if (!text.includes('{{vault:')) return text;
  const r = await fc.ports.handles.fillText(fc.principal, text, destination);
  fc.output.filled(r.filled);
  return r.text;
}

/** Why `approval_id` is never part of an action: it names the approval the action must match. */
export const APPROVAL_ID_ROLE = {
  irrelevant: 'names an approval a person decided; it is checked against this exact action and never changes it',
} as const;

/** SHA-256 of a text's UTF-8 bytes (or of bytes), in hex: how a tool binds a long input into its approval digest. */
export function sha256Hex(text: string | Buffer): string {
  return typeof text === 'string'
    ? createHash('sha256').update(text, 'utf8').digest('hex')
    : createHash('sha256').update(text).digest('hex');
}

/** Bound inputs as the digest, the person and the audit record see them: text, undefined dropped. */
export function boundInputs(
  values: Record<string, string | number | boolean | undefined>,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = String(v);
  return Object.keys(out).length ? out : undefined;
}

/** One-line, secret-free summary of a command for audit and approval prompts. */
export function clip(text: string, max = 500): string {
  return truncateText(text, max + 1);
}

/**
 * Runs what a tool must read before its gate run (what an approval shows and binds depends on
 * it). When that fails nothing can be approved, but the call is still an attempt in the audit log
 * like every call: it goes through the gate with its inputs bound and a verdict that says why,
 * and fails there with the error the caller gets (nothing runs).
 */
export async function preflight<T>(
  ctx: ToolContext,
  tool: string,
  inputs: Record<string, string | number | boolean | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e instanceof GatehouseError ? e : new GatehouseError('internal', 'preparing the action failed');
    return ctx.gate.run(
      ctx.principal,
      {
        tool,
        fixedVerdict: {
          decision: 'allow',
          rule: `${tool}.refused`,
          reason: `nothing to approve: ${err.code}`,
          matched: '',
        },
        bound: boundInputs(inputs),
        summary: `${tool} refused: ${err.code}`,
        client: ctx.client,
      },
      () => Promise.reject(e),
    );
  }
}

/**
 * One gate run for a call with nothing for the guard to judge (the knowledge tools): audited,
 * attempt and result, with its inputs bound (and full texts for the record only).
 */
export function boundRun<T>(
  ctx: ToolContext,
  tool: string,
  summary: string,
  bound: Record<string, string | number | boolean | undefined>,
  fn: () => Promise<T>,
  record?: Record<string, string>,
): Promise<T> {
  return ctx.gate.run(
    ctx.principal,
    { tool, summary, bound: boundInputs(bound), ...(record ? { record } : {}), client: ctx.client },
    fn,
  );
}
