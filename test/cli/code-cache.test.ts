import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { codeCacheDir, runWithCodeCache } from '../../src/cli/code-cache.js';

// INVARIANT (src/cli/code-cache.ts): a code cache is code. It is kept only in a private home, read
// only when it is this user's own and closed to others, and used only for the exact file it was
// made from; a damaged one is refused and replaced, never run.
const roots: string[] = [];
afterAll(() => roots.forEach((d) => rmSync(d, { recursive: true, force: true })));
afterEach(() => void vi.useRealTimers());

function place(homeMode = 0o700): { home: string; bundle: string } {
  const root = mkdtempSync(join(tmpdir(), 'gh-code-cache-'));
  roots.push(root);
  const home = join(root, 'home');
  mkdirSync(home);
  chmodSync(home, homeMode);
  return { home, bundle: join(root, 'bundle.cjs') };
}

/** A CommonJS file with some functions to compile; `answer` tells which version ran. */
function writeBundle(file: string, answer: string, mtime: number): void {
  const body = Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i}; }`).join('\n');
  writeFileSync(file, `${body}\nmodule.exports = { answer: ${JSON.stringify(answer)}, sum: f199(2) + f3(1) };\n`);
  utimesSync(file, mtime, mtime);
}

/** Runs the bundle and lets the delayed cache write happen. */
function run(bundle: string, dir: string): { answer: string; cache: string } {
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  try {
    const r = runWithCodeCache<{ answer: string }>(bundle, dir);
    vi.runAllTimers();
    return { answer: r.exports.answer, cache: r.cache };
  } finally {
    vi.useRealTimers();
  }
}

const caches = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.v8'));

/** A private home whose bundle has run once, so its cache is written: the bundle, the cache folder and file. */
function cachedOnce(): { bundle: string; dir: string; file: string } {
  const { home, bundle } = place();
  const dir = codeCacheDir(home)!;
  writeBundle(bundle, 'v1', 1_700_000_000);
  expect(run(bundle, dir)).toEqual({ answer: 'v1', cache: 'none' });
  return { bundle, dir, file: join(dir, caches(dir)[0]!) };
}

describe('the code cache of `gatehouse mcp`', () => {
  it('is kept only in a private home, in a private folder', () => {
    expect(codeCacheDir(place(0o755).home)).toBeNull();
    expect(codeCacheDir(place(0o750).home)).toBeNull();
    expect(codeCacheDir(join(place().home, 'missing'))).toBeNull();
    const ok = place();
    const dir = codeCacheDir(ok.home)!;
    expect(dir).toBe(join(ok.home, 'code-cache'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // A cache folder someone else could write to is not used.
    chmodSync(dir, 0o777);
    expect(codeCacheDir(ok.home)).toBeNull();
  });

  it('is written after the first run and read back by the next, as a private file', () => {
    const { bundle, dir, file } = cachedOnce();
    expect(caches(dir)).toHaveLength(1);
    expect(file).toMatch(/[/\\]cli-[0-9a-f]{32}\.v8$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run(bundle, dir)).toEqual({ answer: 'v1', cache: 'accepted' });
  });

  it('is never used for other code, even of the same length (V8 itself only compares lengths)', () => {
    const { bundle, dir } = cachedOnce();
    const before = caches(dir);
    writeBundle(bundle, 'v2', 1_700_000_100); // same length, other code
    expect(readFileSync(bundle).length).toBe(statSync(bundle).size);
    expect(run(bundle, dir)).toEqual({ answer: 'v2', cache: 'none' });
    // The new build's cache replaced the old one.
    const after = caches(dir);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    expect(run(bundle, dir)).toEqual({ answer: 'v2', cache: 'accepted' });
  });

  it('a damaged cache is refused before V8 sees it, the code runs compiled as usual, and the cache is written again', () => {
    const { bundle, dir, file } = cachedOnce();
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    for (let i = 64; i < bad.length; i += 97) bad[i] ^= 0xff;
    writeFileSync(file, bad, { mode: 0o600 });
    expect(run(bundle, dir)).toEqual({ answer: 'v1', cache: 'rejected' });
    expect(readFileSync(file).equals(bad)).toBe(false);
    expect(run(bundle, dir)).toEqual({ answer: 'v1', cache: 'accepted' });
  });

  it('a cache file others may write is not read, and is replaced by a private one', () => {
    const { bundle, dir, file } = cachedOnce();
    chmodSync(file, 0o666);
    expect(run(bundle, dir)).toEqual({ answer: 'v1', cache: 'none' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(file)).toBe(true);
  });
});
