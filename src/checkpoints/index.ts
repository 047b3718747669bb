/**
 * Workspace checkpoints (issue 20 item 4): snapshots before destructive commands, diffs, and
 * byte-for-byte rollback. The store lives under Gatehouse's home, which no sandbox can see.
 */
export {
  CheckpointStore,
  DEFAULT_CHECKPOINT_LIMITS,
  type Change,
  type ChangeKind,
  type Checkpoint,
  type CheckpointLimits,
  type CheckpointSummary,
  type CheckpointTrigger,
  type CreateOptions,
  type RollbackResult,
} from './store.js';
export type { Entry, EntryType } from './scan.js';
export { readInside } from './safe-io.js';
export { describeChange, renderDiff } from './render.js';
export { checkpointBefore, openCheckpoints, type CheckpointGuard, type CheckpointNote } from './auto.js';
