import { isAscii } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  mkdirSync,
  openSync,
  closeSync,
  fstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

/**
 * Runs a CommonJS bundle with V8's code cache: the compiled code of an earlier start is read back
 * instead of compiling the source again.
 *
 * Why: `gatehouse mcp` starts at every Claude Code session, and compiling its code was the largest
 * part of its start that a bare SDK server does not pay (Node 20, spawn to the first tools/list,
 * medians of 15 interleaved starts: 453 ms from the ES module bundle, 349 ms from this file with
 * its cache, 331 ms for a bare SDK server; callgrind: 1.65 G instructions before, 1.15-1.28 G
 * after, 1.22 G bare). Node 22.1+ has `module.enableCompileCache` for ES modules; Node 20 has
 * nothing, so this keeps one cache by hand, on every version.
 *
 * INVARIANTS (a code cache is code: whoever can write it chooses what this process runs):
 * - the cache lives only in the private home: the directory must exist, be this user's and be
 *   closed to everyone else (mode & 077 = 0), and so must `code-cache/` inside it; otherwise the
 *   bundle runs without a cache and nothing is written;
 * - a cache file that is not this user's own, or is writable by others, is not read;
 * - a cache is used only for the exact file it was made from: its name carries a digest of the
 *   bundle's path, size, modification time and inode, Node's version and architecture. V8's own
 *   check looks only at the source's length, so a cache for other code of the same length would
 *   otherwise be taken;
 * - a cache is read only whole and unchanged: the file starts with the SHA-256 of the rest, checked
 *   before V8 sees any of it. V8 does not check (release builds skip the checksum: a test flips
 *   bytes all through a cache and V8 takes it), so a damaged cache would be run. One that fails the
 *   check is ignored and written again; it is written to a temporary file (mode 0600) and renamed
 *   into place, so a start never reads half a file.
 * The digest is not a key: it catches damage, not someone who can write the private home (whoever
 * can do that can also read the master key beside it, which is the boundary the home already is).
 */

/** The code cache directory in `home`, created if missing, or null when `home` is not private. */
export function codeCacheDir(home: string): string | null {
  try {
    if (!privateDir(home)) return null;
    const dir = join(home, 'code-cache');
    mkdirSync(dir, { mode: 0o700, recursive: true });
    return privateDir(dir) ? dir : null;
  } catch {
    return null; // no home yet, or unreadable: the bundle runs uncached
  }
}

function privateDir(path: string): boolean {
  const st = statSync(path);
  return st.isDirectory() && (st.mode & 0o077) === 0 && st.uid === process.getuid?.();
}

/**
 * How long after the start the cache is written, if the process has not exited first: long enough
 * for the start's code (the first tools/list included) to be compiled even on a slow, busy machine,
 * since the cache holds only what was compiled when it was made and is then kept for the build.
 */
const WRITE_AFTER_MS = 10_000;

export interface CachedRun<T> {
  /** What the bundle exports. */
  exports: T;
  /** `accepted` (read back), `rejected` (damaged, or refused by V8: written again), or `none` (no cache yet: written). */
  cache: 'accepted' | 'rejected' | 'none';
}

/**
 * Runs `file` (a CommonJS bundle) as a module of this process, with the cache kept in `dir`
 * (from codeCacheDir). A missing or refused cache is written WRITE_AFTER_MS later, or when the
 * process exits normally if that is sooner; a failure to write it only costs the next start its
 * speed.
 */
export function runWithCodeCache<T>(file: string, dir: string): CachedRun<T> {
  const st = statSync(file);
  const identity = [file, st.size, st.mtimeMs, st.ino, process.version, process.arch].join('\0');
  const name = `cli-${createHash('sha256').update(identity).digest().subarray(0, 16).toString('hex')}.v8`;
  const cacheFile = join(dir, name);
  const cached = verified(readOwn(cacheFile));
  const script = new vm.Script(source(file), {
    filename: file,
    cachedData: cached ?? undefined,
    // The bundle's own import() calls (drivers loaded on demand, migration files) resolve as they
    // would in any module of this process.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const cache = cached === undefined ? 'none' : cached === null || script.cachedDataRejected ? 'rejected' : 'accepted';
  const mod = { exports: {} as T };
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: T },
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
  if (cache !== 'accepted') {
    // Once: a while after the start (a long session), or at exit if that comes first (a short one).
    let written = false;
    const write = () => {
      if (written) return;
      written = true;
      writeCache(script, dir, name);
    };
    setTimeout(write, WRITE_AFTER_MS).unref();
    process.once('exit', write);
  }
  return { exports: mod.exports, cache };
}

const DIGEST_BYTES = 32;

/** The cache without its digest; null when the digest does not match (damaged), undefined when there is none. */
function verified(file: Buffer | undefined): Buffer | null | undefined {
  if (file === undefined) return undefined;
  if (file.length <= DIGEST_BYTES) return null;
  const data = file.subarray(DIGEST_BYTES);
  const digest = createHash('sha256').update(data).digest();
  return timingSafeEqual(digest, file.subarray(0, DIGEST_BYTES)) ? data : null;
}

/**
 * The bundle's text. The build writes it as one function expression over CommonJS's module
 * arguments, in ASCII; ASCII read as Latin-1 is the same text, copied into a one-byte string
 * without UTF-8 decoding. A file that is not wrapped or not ASCII is read the general way.
 */
function source(file: string): string {
  const bytes = readFileSync(file);
  const text = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  return text.startsWith(WRAPPED) ? text : Module.wrap(text);
}
const WRAPPED = '(function (exports, require, module, __filename, __dirname) {';

/** The file's bytes if it is this user's own and nobody else may write it; else undefined. */
function readOwn(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeCache(script: vm.Script, dir: string, name: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    const data = script.createCachedData();
    writeFileSync(tmp, Buffer.concat([createHash('sha256').update(data).digest(), data]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, name));
    // Caches of earlier builds are never read again.
    for (const f of readdirSync(dir))
      if (f !== name && /^cli-[0-9a-f]{32}\.v8$/.test(f)) rmSync(join(dir, f), { force: true });
  } catch {
    rmSync(tmp, { force: true });
  }
}
