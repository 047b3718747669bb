import { z } from 'zod';
import type { VersionInfo } from '../knowledge/index.js';

/** One version as the history tools return it (memory_history, wiki_history). */
export const historyEntry = z.object({
  version: z.number().int(),
  op: z.string(),
  author: z.string(),
  trust: z.enum(['agent', 'operator']),
  at: z.string(),
  note: z.string().optional(),
});

export function historyEntries(versions: readonly VersionInfo[]): z.infer<typeof historyEntry>[] {
  return versions.map((v) => ({
    version: v.version,
    op: v.op,
    author: v.author,
    trust: v.trust,
    at: v.at,
    ...(v.note ? { note: v.note } : {}),
  }));
}
