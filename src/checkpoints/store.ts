/**
 * Checkpoints of a workspace: what every file, directory and link was at a moment, and the means
 * to show what changed since and to put it back byte for byte.
 *
 * Layout, under Gatehouse's home (hidden from every sandbox, so an agent can neither read nor
 * forge a checkpoint): `checkpoints/<workspace id>/` holds `workspace` (the real path),
 * `manifests/<id>.json` (one per checkpoint: every entry with mode, owner, times and, for files,
 * the content's sha256) and `objects/<2 hex>/<sha256>` (content, stored once however many
 * checkpoints and paths share it).
 *
 * Why copies and not hard links of the workspace's files: a hard link shares the inode, so an
 * in-place write (`>>`, `truncate`, an editor that rewrites in place) would change the checkpoint
 * too and rollback would restore the damage. Objects are instead copied once, with a reflink
 * where the filesystem has them (free until either side changes), and a file whose size, mtime,
 * inode and ctime are unchanged since the last checkpoint is not read again: a checkpoint of a
 * big tree with few changes costs a walk of lstat calls plus the changed files.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lchownSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { cutText, GatehouseError } from '../core/index.js';
import { assertRealParents, copyOut, hashInside, restoreDirMeta, restoreFile } from './safe-io.js';
import { sameIdentity, scanWorkspace, type Entry } from './scan.js';

export type CheckpointTrigger = 'manual' | 'auto' | 'soft-delete' | 'rollback' | 'run';

export interface CheckpointLimits {
  /** Bytes of content the store of one workspace may hold (objects shared by checkpoints count once). */
  maxBytes: number;
  /** Entries (files, directories, links) a workspace may have to be checkpointed. */
  maxFiles: number;
  /** Automatic checkpoints kept per workspace; older ones are purged when a new one is made. */
  keep: number;
  /** Names (at any depth) left out, e.g. `node_modules`. A rollback leaves them alone too. */
  exclude: readonly string[];
}

export const DEFAULT_CHECKPOINT_LIMITS: Readonly<CheckpointLimits> = Object.freeze({
  maxBytes: 2 * 1024 * 1024 * 1024,
  maxFiles: 200_000,
  keep: 20,
  exclude: Object.freeze([]) as readonly string[],
});

export interface CheckpointSummary {
  id: string;
  workspace: string;
  createdAt: string;
  trigger: CheckpointTrigger;
  reason: string;
  /** The command that an automatic checkpoint was taken before. */
  command?: string;
  files: number;
  bytes: number;
  /** Content this checkpoint added to the store (the rest was already there). */
  newBytes: number;
  /** Sockets, FIFOs and devices, which are not recorded. */
  skipped: number;
}

export interface Checkpoint extends CheckpointSummary {
  entries: Entry[];
}

export type ChangeKind = 'added' | 'removed' | 'modified' | 'type' | 'mode';

/** How the workspace now differs from a checkpoint (rollback undoes exactly these). */
export interface Change {
  path: string;
  kind: ChangeKind;
  /** What the checkpoint has, and what is there now. */
  then?: Entry;
  now?: Entry;
}

export interface CreateOptions {
  trigger: CheckpointTrigger;
  reason: string;
  command?: string;
}

export interface RollbackResult {
  changes: Change[];
  /** The checkpoint taken just before the rollback (so a rollback can itself be undone). */
  safety?: CheckpointSummary;
}

/** The object directory of a sha256 (hex only, so a code-unit cut is exact). */
function hexPrefix(hash: string): string {
  return cutText(hash, 2);
}

const ID_RE = /^cp-[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;

function newId(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const d = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const t = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `cp-${d}-${t}-${randomBytes(3).toString('hex')}`;
}

function summary(c: Checkpoint): CheckpointSummary {
  const { entries: _entries, ...rest } = c;
  return rest;
}

/** One workspace's checkpoints. Operations hold a lock file, so two processes never interleave. */
export class CheckpointStore {
  readonly workspace: string;
  private readonly dir: string;
  private readonly limits: CheckpointLimits;

  /** `root`: Gatehouse's `checkpoints` directory; `workspace`: the directory to checkpoint. */
  constructor(root: string, workspace: string, limits: Partial<CheckpointLimits> = {}) {
    try {
      this.workspace = realpathSync(workspace);
    } catch {
      throw new GatehouseError('not_found', `workspace ${workspace} does not exist`, {
        hint: 'name an existing directory with --workspace (default: the sandbox profile workspace)',
      });
    }
    if (!statSync(this.workspace).isDirectory()) {
      throw new GatehouseError('invalid_input', `workspace ${workspace} is not a directory`);
    }
    this.limits = { ...DEFAULT_CHECKPOINT_LIMITS, ...limits };
    const id = createHash('sha256').update(this.workspace).digest('hex');
    this.dir = join(root, cutText(id, 16));
  }

  private ensureDirs(): void {
    for (const d of [this.dir, join(this.dir, 'manifests'), join(this.dir, 'objects'), join(this.dir, 'tmp')]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    const ws = join(this.dir, 'workspace');
    if (!existsSync(ws)) writeFileSync(ws, this.workspace + '\n', { mode: 0o600 });
  }

  /** Runs `fn` holding the workspace's lock; a lock left by a dead process is taken over. */
  private locked<T>(fn: () => T): T {
    this.ensureDirs();
    const lock = join(this.dir, 'lock');
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(readFileSyncSafe(lock));
        if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
          rmSync(lock, { force: true });
          continue;
        }
        if (attempt > 200) {
          throw new GatehouseError(
            'conflict',
            `another process (pid ${pid}) is working on this workspace's checkpoints`,
            {
              hint: 'wait for it to finish and retry',
            },
          );
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
      }
    }
    try {
      return fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  private objectPath(hash: string): string {
    return join(this.dir, 'objects', hexPrefix(hash), hash);
  }

  private manifestPath(id: string): string {
    return join(this.dir, 'manifests', `${id}.json`);
  }

  /** Every checkpoint of this workspace, oldest first. */
  list(): CheckpointSummary[] {
    return this.all().map(summary);
  }

  private all(): Checkpoint[] {
    const dir = join(this.dir, 'manifests');
    if (!existsSync(dir)) return [];
    const out: Checkpoint[] = [];
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Checkpoint);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  get(id: string): Checkpoint {
    if (!ID_RE.test(id) || !existsSync(this.manifestPath(id))) {
      throw new GatehouseError('not_found', `no checkpoint ${id} for workspace ${this.workspace}`, {
        hint: '`gatehouse checkpoint list` shows the checkpoints of a workspace',
      });
    }
    return JSON.parse(readFileSync(this.manifestPath(id), 'utf8')) as Checkpoint;
  }

  /** Bytes the objects take (logical sizes: a reflinked object counts in full). */
  private storedBytes(): number {
    const root = join(this.dir, 'objects');
    let n = 0;
    for (const sub of readdirSync(root)) {
      for (const f of readdirSync(join(root, sub))) n += statSync(join(root, sub, f)).size;
    }
    return n;
  }

  create(opts: CreateOptions): CheckpointSummary {
    return this.locked(() => summary(this.createLocked(opts)));
  }

  private createLocked(opts: CreateOptions): Checkpoint {
    const now = new Date();
    const prior = this.all().at(-1);
    const known = new Map((prior?.entries ?? []).map((e) => [e.path, e]));
    const { entries, skipped } = scanWorkspace(this.workspace, {
      maxEntries: this.limits.maxFiles,
      exclude: this.limits.exclude,
    });
    let used = this.storedBytes();
    let newBytes = 0;
    let bytes = 0;
    const added: string[] = [];
    const kept: Entry[] = [];
    try {
      for (const e of entries) {
        if (e.type === 'file') {
          const before = known.get(e.path);
          if (before?.hash !== undefined && sameIdentity(before, e) && existsSync(this.objectPath(before.hash))) {
            e.hash = before.hash;
          } else {
            const tmp = join(this.dir, 'tmp', randomBytes(8).toString('hex'));
            const got = copyOut(this.workspace, e.path, tmp);
            // Gone or no longer a file since the walk: it is not part of this moment.
            if (got === undefined) continue;
            e.hash = got.hash;
            e.size = got.size;
            const obj = this.objectPath(got.hash);
            if (existsSync(obj)) {
              unlinkSync(tmp);
            } else {
              if (used + got.size > this.limits.maxBytes) {
                unlinkSync(tmp);
                throw new GatehouseError(
                  'limit_exceeded',
                  `the checkpoint would take the workspace's checkpoint store past ${this.limits.maxBytes} bytes`,
                  {
                    hint: 'purge old checkpoints (`gatehouse checkpoint purge --keep 5`), exclude generated trees (checkpoints.exclude), or raise checkpoints.max_bytes',
                    details: { maxBytes: this.limits.maxBytes, stored: used },
                  },
                );
              }
              mkdirSync(join(this.dir, 'objects', hexPrefix(got.hash)), { recursive: true, mode: 0o700 });
              chmodSync(tmp, 0o400);
              renameSync(tmp, obj);
              added.push(obj);
              used += got.size;
              newBytes += got.size;
            }
          }
          bytes += e.size;
        }
        kept.push(e);
      }
    } catch (err) {
      // A checkpoint is whole or absent: objects only this attempt added are removed.
      for (const o of added) rmSync(o, { force: true });
      throw err;
    }
    const cp: Checkpoint = {
      id: newId(now),
      workspace: this.workspace,
      createdAt: now.toISOString(),
      trigger: opts.trigger,
      reason: opts.reason,
      ...(opts.command !== undefined ? { command: opts.command } : {}),
      files: kept.filter((e) => e.type === 'file').length,
      bytes,
      newBytes,
      skipped,
      entries: kept,
    };
    const tmp = join(this.dir, 'tmp', `${cp.id}.json`);
    writeFileSync(tmp, JSON.stringify(cp), { mode: 0o600 });
    renameSync(tmp, this.manifestPath(cp.id));
    if (opts.trigger !== 'manual') this.pruneLocked();
    return cp;
  }

  /** Automatic checkpoints past `keep` (oldest first) are dropped; manual ones stay until purged. */
  private pruneLocked(): void {
    const auto = this.all().filter((c) => c.trigger !== 'manual');
    const drop = auto.slice(0, Math.max(0, auto.length - this.limits.keep));
    if (drop.length === 0) return;
    for (const c of drop) rmSync(this.manifestPath(c.id), { force: true });
    this.gcLocked();
  }

  /** Objects no remaining checkpoint refers to are deleted. */
  private gcLocked(): void {
    const live = new Set<string>();
    for (const c of this.all()) for (const e of c.entries) if (e.hash) live.add(e.hash);
    const root = join(this.dir, 'objects');
    for (const sub of readdirSync(root)) {
      for (const f of readdirSync(join(root, sub))) if (!live.has(f)) rmSync(join(root, sub, f), { force: true });
    }
    rmSync(join(this.dir, 'tmp'), { recursive: true, force: true });
    mkdirSync(join(this.dir, 'tmp'), { mode: 0o700 });
  }

  /** How the workspace now differs from checkpoint `id`, in path order; `paths` limits it to those paths and below. */
  diff(id: string, paths: readonly string[] = []): Change[] {
    return this.changesSince(this.get(id), paths);
  }

  private changesSince(cp: Checkpoint, paths: readonly string[]): Change[] {
    const wanted = paths.map(normaliseRel);
    const within = (p: string) => wanted.length === 0 || wanted.some((w) => p === w || p.startsWith(w + '/'));
    // Directories on the way to a wanted path come back too when they are gone (but a rollback of
    // `a/b` never deletes `a`'s other contents, so only their removal or change of type counts).
    const onTheWay = (p: string) => wanted.some((w) => w.startsWith(p + '/'));
    const then = new Map(cp.entries.map((e) => [e.path, e]));
    const { entries: current } = scanWorkspace(this.workspace, {
      maxEntries: this.limits.maxFiles,
      exclude: this.limits.exclude,
    });
    const now = new Map(current.map((e) => [e.path, e]));
    const out: Change[] = [];
    for (const p of [...new Set([...then.keys(), ...now.keys()])].sort()) {
      const a = then.get(p);
      const b = now.get(p);
      if (!within(p)) {
        if (onTheWay(p) && a?.type === 'dir' && b?.type !== 'dir') {
          out.push(
            b === undefined ? { path: p, kind: 'removed', then: a } : { path: p, kind: 'type', then: a, now: b },
          );
        }
        continue;
      }
      if (a === undefined && b !== undefined) out.push({ path: p, kind: 'added', now: b });
      else if (a !== undefined && b === undefined) out.push({ path: p, kind: 'removed', then: a });
      else if (a !== undefined && b !== undefined) {
        if (a.type !== b.type) out.push({ path: p, kind: 'type', then: a, now: b });
        else if (a.type === 'symlink' && a.target !== b.target)
          out.push({ path: p, kind: 'modified', then: a, now: b });
        else if (a.type === 'file' && !sameIdentity(a, b) && hashInside(this.workspace, p) !== a.hash) {
          out.push({ path: p, kind: 'modified', then: a, now: b });
        } else if (a.mode !== b.mode) out.push({ path: p, kind: 'mode', then: a, now: b });
      }
    }
    return out;
  }

  /** The content of a file as checkpoint `id` holds it. */
  readObject(entry: Entry): Buffer {
    if (entry.hash === undefined) throw new GatehouseError('invalid_input', `${entry.path} is not a file`);
    return readFileSync(this.objectPath(entry.hash));
  }

  /**
   * Puts the workspace (or `paths` within it) back as checkpoint `id` recorded it. Unless
   * `dryRun`, a checkpoint of the current state is taken first, so the rollback can be undone.
   */
  rollback(id: string, opts: { dryRun?: boolean; paths?: readonly string[] } = {}): RollbackResult {
    return this.locked(() => {
      const cp = this.get(id);
      const changes = this.changesSince(cp, opts.paths ?? []);
      if (opts.dryRun || changes.length === 0) return { changes };
      for (const c of changes) {
        if (c.then?.hash !== undefined && !existsSync(this.objectPath(c.then.hash))) {
          throw new GatehouseError('integrity_failed', `checkpoint ${id} is missing the content of ${c.path}`, {
            hint: 'the checkpoint store was changed outside Gatehouse; nothing was rolled back',
          });
        }
      }
      const safety = summary(this.createLocked({ trigger: 'rollback', reason: `before rollback to ${id}` }));
      this.apply(changes);
      return { changes, safety };
    });
  }

  private apply(changes: readonly Change[]): void {
    const ws = this.workspace;
    // Removals deepest first, so a directory's contents go before the directory.
    for (const c of [...changes].reverse()) {
      if (c.kind === 'added' || c.kind === 'type') {
        assertRealParents(ws, c.path);
        rmSync(join(ws, c.path), { recursive: true, force: true });
      }
    }
    // Creations and restorations parents first.
    for (const c of changes) {
      const e = c.then;
      if (e === undefined) continue;
      const abs = join(ws, c.path);
      if (e.type === 'dir') {
        if (c.kind === 'removed' || c.kind === 'type') {
          assertRealParents(ws, c.path);
          mkdirSync(abs, { mode: 0o700 });
        }
      } else if (e.type === 'symlink') {
        if (c.kind !== 'mode') {
          assertRealParents(ws, c.path);
          rmSync(abs, { force: true });
          symlinkSync(e.target ?? '', abs);
          if (process.getuid?.() === 0) lchownSync(abs, e.uid, e.gid);
        }
      } else if (e.hash !== undefined) {
        restoreFile(ws, c.path, this.objectPath(e.hash), e);
      }
    }
    // Directory modes and times last (deepest first), after their contents stopped changing.
    for (const c of [...changes].reverse()) {
      if (c.then?.type === 'dir') restoreDirMeta(ws, c.path, c.then);
    }
  }

  /**
   * Deletes checkpoints: `ids`, or those older than `olderThanMs`, always keeping the newest
   * `keep`; `all` deletes every one. Content no remaining checkpoint uses is deleted with them.
   */
  purge(opts: { ids?: readonly string[]; olderThanMs?: number; keep?: number; all?: boolean }): CheckpointSummary[] {
    return this.locked(() => {
      for (const id of opts.ids ?? []) this.get(id);
      const all = this.all();
      // The newest `keep` are never purged (slice(-0) would be all of them, hence the guard).
      const protectedIds = new Set(opts.keep ? all.slice(-opts.keep).map((c) => c.id) : []);
      const cutoff = opts.olderThanMs === undefined ? undefined : Date.now() - opts.olderThanMs;
      const onlyKeep = !opts.all && opts.ids === undefined && cutoff === undefined;
      const drop = all.filter(
        (c) =>
          !protectedIds.has(c.id) &&
          (opts.all === true ||
            (opts.ids?.includes(c.id) ?? false) ||
            (cutoff !== undefined && Date.parse(c.createdAt) < cutoff) ||
            (onlyKeep && opts.keep !== undefined)),
      );
      for (const c of drop) rmSync(this.manifestPath(c.id), { force: true });
      this.gcLocked();
      return drop.map(summary);
    });
  }
}

function readFileSyncSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A path the user names, relative to the workspace: no leading `./` or `/`, no `..`. */
export function normaliseRel(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) {
    throw new GatehouseError('invalid_input', `path ${p} leaves the workspace`, {
      hint: 'name paths inside the workspace',
    });
  }
  return parts.join('/');
}
