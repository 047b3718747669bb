/**
 * Walking a workspace for a checkpoint: every directory, regular file and symbolic link under it,
 * by lstat only (a link is recorded as its text and never followed), in a stable order.
 *
 * Sockets, FIFOs and device nodes are not content and are skipped (counted, so the caller can say
 * so). The walk is bounded: a tree with more entries than the limit is refused rather than
 * snapshotted in part, since a partial checkpoint would roll back to a state that never existed.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { GatehouseError } from '../core/index.js';

export type EntryType = 'file' | 'dir' | 'symlink';

/** One path of a workspace as a checkpoint records it. Paths are relative, `/`-separated, never `..`. */
export interface Entry {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Regular files: byte length. */
  size: number;
  mtimeMs: number;
  /** Identity of the file when scanned: unchanged size, mtime, inode and ctime mean unchanged content. */
  ino: string;
  ctimeMs: number;
  /** Regular files: sha256 of the content (the object's name in the store). */
  hash?: string;
  /** Symbolic links: the link's own text. */
  target?: string;
}

export interface ScanResult {
  entries: Entry[];
  skipped: number;
}

export interface ScanOptions {
  maxEntries: number;
  /** Path names (any depth) left out of checkpoints, e.g. `node_modules`. */
  exclude: readonly string[];
}

function entryOf(path: string, st: Stats, type: EntryType): Entry {
  return {
    path,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: type === 'file' ? st.size : 0,
    mtimeMs: st.mtimeMs,
    ino: String(st.ino),
    ctimeMs: st.ctimeMs,
  };
}

export function typeOf(st: Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
}

/** The workspace (its real path) as a sorted list of entries; the root itself is not listed. */
export function scanWorkspace(root: string, opts: ScanOptions): ScanResult {
  const entries: Entry[] = [];
  let skipped = 0;
  const exclude = new Set(opts.exclude);
  const walk = (rel: string): void => {
    const abs = rel === '' ? root : join(root, rel);
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (e) {
      // A directory that vanished during the walk is simply not there any more.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    names.sort();
    for (const name of names) {
      if (exclude.has(name)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let st: Stats;
      try {
        st = lstatSync(join(root, childRel));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const type = typeOf(st);
      if (type === undefined) {
        skipped++;
        continue;
      }
      if (entries.length >= opts.maxEntries) {
        throw new GatehouseError('limit_exceeded', `the workspace has more than ${opts.maxEntries} entries`, {
          hint: 'raise checkpoints.max_files in the sandbox profile, or exclude generated trees (checkpoints.exclude: [node_modules])',
          details: { maxEntries: opts.maxEntries },
        });
      }
      const e = entryOf(childRel, st, type);
      if (type === 'symlink') e.target = readlinkSync(join(root, childRel));
      entries.push(e);
      if (type === 'dir') walk(childRel);
    }
  };
  walk('');
  return { entries, skipped };
}

/** Same content without reading it: the identity a scan records did not change. */
export function sameIdentity(a: Entry, b: Entry): boolean {
  return (
    a.type === b.type && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.ctimeMs === b.ctimeMs
  );
}
