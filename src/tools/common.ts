import { z } from 'zod';
import type { Principal } from '../gate/index.js';
import type { Runtime } from '../server/runtime.js';

/**
 * `approval_id`: the one approval-related argument an agent may send: the id of an out-of-band
 * approval a person decided. It is checked against the exact action, token and expiry; it can
 * never approve anything by itself.
 */
export const approvalIdField = z
  .string()
  .regex(/^ap_[A-Za-z0-9_-]{10,64}$/)
  .optional()
  .describe('Only when retrying after an approval_required result: the approval id it gave you, once a person approved it.');

/** Environment variables for a command; values may be vault handles bound to the destination. */
export const envField = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), z.string().max(32_768))
  .optional();

/** What every command-running tool returns first (ssh_exec and exec add their own fields). */
export const commandResult = z.object({
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  durationMs: z.number(),
});

/** Fills vault handles in a map of values (env, headers, query) for one destination. */
export async function fillValues(
  rt: Runtime,
  principal: Principal,
  values: Record<string, string> | undefined,
  destination: { target?: string; host?: string },
): Promise<{ values: Record<string, string>; secrets: Record<string, string> }> {
  const plain: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) {
    if (!v.includes('{{vault:')) {
      plain[k] = v;
      continue;
    }
    const r = await rt.vault.fillHandles(v, { destination, grantedVaults: rt.grantedVaults(principal) });
    for (const s of r.filled) rt.redactor.add(s);
    if (r.handles.length > 0) secrets[k] = r.text;
    else plain[k] = r.text;
  }
  return { values: plain, secrets };
}

/** Fills vault handles in one text (a request body). */
export async function fillText(rt: Runtime, principal: Principal, text: string, destination: { target?: string; host?: string }): Promise<string> {
  if (!text.includes('{{vault:')) return text;
  const r = await rt.vault.fillHandles(text, { destination, grantedVaults: rt.grantedVaults(principal) });
  for (const s of r.filled) rt.redactor.add(s);
  return r.text;
}

/** One-line, secret-free summary of a command for audit and approval prompts. */
export function clip(text: string, max = 500): string {
  return text.length <= max ? text : text.slice(0, max) + '…';
}
