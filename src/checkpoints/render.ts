/**
 * Checkpoint changes as people read them: one line per path, and a unified diff for text files
 * small enough to show. File content shown here is the workspace's own (the agent wrote it); the
 * caller scrubs what it prints like any other output.
 */
import { unifiedDiff } from '../knowledge/index.js';
import { readInside } from './safe-io.js';
import type { Change, CheckpointStore } from './store.js';

const LETTER: Record<Change['kind'], string> = { added: 'A', removed: 'D', modified: 'M', type: 'T', mode: 'm' };

/** `M  src/app.ts`, `D  notes/ (dir)`, `m  run.sh 0644 -> 0755`. */
export function describeChange(c: Change): string {
  const e = c.then ?? c.now;
  const kind = e?.type === 'dir' ? ' (dir)' : e?.type === 'symlink' ? ' (link)' : '';
  let extra = '';
  if (c.kind === 'mode' && c.then && c.now) extra = ` ${oct(c.then.mode)} -> ${oct(c.now.mode)}`;
  if (c.kind === 'type' && c.then && c.now) extra = ` ${c.then.type} -> ${c.now.type}`;
  return `${LETTER[c.kind]}  ${c.path}${kind}${extra}`;
}

function oct(m: number): string {
  return m.toString(8).padStart(4, '0');
}

const MAX_DIFF_BYTES = 256 * 1024;

function text(b: Buffer): string | undefined {
  if (b.includes(0)) return undefined;
  const s = b.toString('utf8');
  return s.includes('\uFFFD') ? undefined : s;
}

/**
 * The diff of one change, checkpoint side first (`---` is the checkpoint, `+++` the workspace now),
 * or a one-line note for binary, large or non-file changes.
 */
export function renderDiff(store: CheckpointStore, c: Change): string {
  const before = c.then?.type === 'file' ? c.then : undefined;
  const after = c.now?.type === 'file' ? c.now : undefined;
  if (before === undefined && after === undefined) return '';
  if ((before?.size ?? 0) > MAX_DIFF_BYTES || (after?.size ?? 0) > MAX_DIFF_BYTES) {
    return `(${c.path}: larger than ${MAX_DIFF_BYTES} bytes, not shown)`;
  }
  const a = before === undefined ? '' : text(store.readObject(before));
  const now = after === undefined ? undefined : readInside(store.workspace, c.path, MAX_DIFF_BYTES);
  const b = after === undefined ? '' : now === undefined ? '' : text(now.head);
  if (a === undefined || b === undefined) return `(${c.path}: binary, not shown)`;
  const d = unifiedDiff(a, b);
  if (d === undefined) return `(${c.path}: too many changes to show)`;
  return `--- ${c.path} (checkpoint)\n+++ ${c.path} (now)\n${d}`;
}
