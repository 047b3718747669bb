/**
 * File access inside a workspace the agent controls, by a process that may be root.
 *
 * INVARIANT: a checkpoint never copies a file from outside the workspace, and a rollback never
 * writes outside it. The agent can swap any path component for a symbolic link between our check
 * and our use, so paths are not trusted: every file is opened with O_NOFOLLOW (the last component
 * cannot be a link) and then the opened descriptor's real path (/proc/self/fd/N, which names the
 * inode actually opened, whatever the path did meanwhile) must lie inside the workspace's real path;
 * otherwise the descriptor is closed unused. Writes go to a new file created with O_EXCL (never
 * follows a link) that is checked the same way, then renamed over the destination (a rename
 * replaces a link itself, never its target); directory components are checked to be real
 * directories just before use.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, sep } from 'node:path';
import { GatehouseError } from '../core/index.js';

const CHUNK = 1 << 20;

function fdPath(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

function escaped(rel: string): GatehouseError {
  return new GatehouseError('denied', `${rel} resolves outside the workspace`, {
    hint: 'a path in the workspace was replaced by a link that leaves it while the checkpoint ran; nothing was read or written through it',
    details: { path: rel },
  });
}

/** Throws unless every directory on the way to `rel` (not `rel` itself) is a real directory. */
export function assertRealParents(root: string, rel: string): void {
  const parts = rel.split('/');
  let p = root;
  for (let i = 0; i < parts.length - 1; i++) {
    p = join(p, parts[i] as string);
    const st = lstatSync(p);
    if (!st.isDirectory()) throw escaped(rel);
  }
}

/**
 * Copies the workspace file `rel` into `dest` (a new file in the store), hashing as it goes.
 * Uses a reflink where the filesystem has them (btrfs, XFS): the copy then costs no space until
 * either side changes. Returns the content's sha256 and size, or undefined when the file is no
 * longer a regular file (it changed type during the walk).
 */
export function copyOut(root: string, rel: string, dest: string): { hash: string; size: number } | undefined {
  const fd = openFileInside(root, rel);
  if (fd === undefined) return undefined;
  try {
    // The magic link reopens exactly the inode we hold, so the copy cannot be redirected.
    copyFileSync(`/proc/self/fd/${fd}`, dest, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
  } finally {
    closeSync(fd);
  }
  return hashFile(dest);
}

/**
 * Opens the workspace file `rel` for reading, or returns undefined when it is gone or no longer a
 * regular file. Throws when the opened file lies outside the workspace (see the invariant above).
 */
function openFileInside(root: string, rel: string): number | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a path swapped for a FIFO must not hang the checkpoint on open.
    fd = openSync(join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return undefined;
    }
    if (!inside(root, fdPath(fd))) throw escaped(rel);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export function hashFile(path: string): { hash: string; size: number } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
    return { hash: h.digest('hex'), size };
  } finally {
    closeSync(fd);
  }
}

export interface Ownership {
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

/**
 * Writes the store object `src` to the workspace path `rel`, with its recorded mode, owner (when
 * this process may set it) and mtime, replacing whatever is there (a file or a link).
 */
export function restoreFile(root: string, rel: string, src: string, own: Ownership): void {
  assertRealParents(root, rel);
  const dest = join(root, rel);
  const tmp = join(dirname(dest), `.gatehouse-restore-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let done = false;
  try {
    if (!inside(root, fdPath(fd))) throw escaped(rel);
    const from = openSync(src, constants.O_RDONLY);
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const n = readSync(from, buf, 0, CHUNK, null);
        if (n === 0) break;
        let off = 0;
        while (off < n) off += writeSync(fd, buf, off, n - off);
      }
    } finally {
      closeSync(from);
    }
    setOwnership(fd, own);
    closeSync(fd);
    done = true;
    assertRealParents(root, rel);
    renameSync(tmp, dest);
  } catch (e) {
    if (!done) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or never created: nothing to clean.
    }
    throw e;
  }
}

/** Mode, owner and times onto an open file; the owner only when running as root (else it is ours). */
export function setOwnership(fd: number, own: Ownership): void {
  if (process.getuid?.() === 0) fchownSync(fd, own.uid, own.gid);
  fchmodSync(fd, own.mode);
  const t = own.mtimeMs / 1000;
  futimesSync(fd, t, t);
}

/** Opens a directory of the workspace to set its recorded mode, owner and mtime. */
export function restoreDirMeta(root: string, rel: string, own: Ownership): void {
  assertRealParents(root, rel);
  let fd: number;
  try {
    fd = openSync(join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if (!inside(root, fdPath(fd))) throw escaped(rel);
    setOwnership(fd, own);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the workspace file `rel` through the same checks as a copy, hashing it; with `keep`, also
 * returns its first `keep` bytes (for a diff). Undefined when it is no longer a regular file.
 */
export function readInside(
  root: string,
  rel: string,
  keep = 0,
): { hash: string; head: Buffer; size: number } | undefined {
  const fd = openFileInside(root, rel);
  if (fd === undefined) return undefined;
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    const head: Buffer[] = [];
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      if (size < keep) head.push(Buffer.from(buf.subarray(0, Math.min(n, keep - size))));
      size += n;
    }
    return { hash: h.digest('hex'), head: Buffer.concat(head), size };
  } finally {
    closeSync(fd);
  }
}

/** The sha256 of the workspace file `rel`; undefined if it is no longer a regular file. */
export function hashInside(root: string, rel: string): string | undefined {
  return readInside(root, rel)?.hash;
}
