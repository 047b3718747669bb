/**
 * Checkpoints around a sandboxed `exec` (issue 20 item 4): before a command the guard marks
 * destructive in the workspace (profile `checkpoints.auto`), or before any deleting command when
 * the profile makes deletes soft (`checkpoints.softDelete`), and afterwards, for a soft delete,
 * which paths the command removed and how to restore them.
 *
 * INVARIANT: when the profile asks for a checkpoint and it cannot be taken (too large, store
 * unwritable), the command does not run: the caller gets the error, never an unprotected run.
 */
import { join } from 'node:path';
import { loadBashParser, workspaceChange } from '../guard/index.js';

import type { CheckpointPolicy } from '../sandbox/index.js';
import { CheckpointStore } from './store.js';

/** What the agent's result says about a checkpoint taken for its command. */
export interface CheckpointNote {
  id: string;
  /** Why the command was checkpointed (`rm`, `git reset`, `> file`…). */
  reasons: string[];
  /** Soft delete: paths the command removed (up to 50), restorable from the checkpoint. */
  deleted?: string[];
  deletedCount?: number;
  /** What a person runs to undo the command. */
  restore: string;
}

export interface CheckpointGuard {
  /** Call after the command ran: fills in what a soft delete removed. */
  after(): CheckpointNote;
}

const SHOWN_DELETES = 50;

/** Takes the checkpoint the profile asks for before `command`, or returns undefined when none is due. */
export async function checkpointBefore(
  policy: CheckpointPolicy,
  workspace: string,
  home: string,
  command: string,
): Promise<CheckpointGuard | undefined> {
  if (!policy.auto && !policy.softDelete) return undefined;
  const change = workspaceChange(await loadBashParser(), command);
  const due = (policy.auto && change.destructive) || (policy.softDelete && change.deletes);
  if (!due) return undefined;
  const store = openCheckpoints(home, workspace, policy);
  const cp = store.create({ trigger: 'auto', reason: `before ${change.reasons.join(', ')}`, command });
  return {
    after() {
      const note: CheckpointNote = {
        id: cp.id,
        reasons: change.reasons,
        restore: `gatehouse checkpoint rollback ${cp.id} --workspace ${store.workspace}`,
      };
      if (policy.softDelete && change.deletes) {
        const removed = store
          .diff(cp.id)
          .filter((c) => c.kind === 'removed' || (c.kind === 'type' && c.then?.type !== 'dir'));
        note.deletedCount = removed.length;
        note.deleted = removed.slice(0, SHOWN_DELETES).map((c) => c.path);
        if (removed.length > 0) {
          note.restore = `gatehouse checkpoint rollback ${cp.id} --workspace ${store.workspace} --path PATH (restores only PATH)`;
        }
      }
      return note;
    },
  };
}

/** A workspace's checkpoints, kept inside Gatehouse's home (which no sandbox can see), with the profile's limits. */
export function openCheckpoints(
  home: string,
  workspace: string,
  policy: Partial<CheckpointPolicy> = {},
): CheckpointStore {
  return new CheckpointStore(join(home, 'checkpoints'), workspace, policy);
}
