/**
 * Workspace checkpoints on a real filesystem: byte-for-byte rollback (content, modes, links,
 * empty directories), in-place writes that must not reach a checkpoint, the size limit, unchanged
 * files not copied twice, and a workspace that swaps a directory for a link out of it.
 */
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { treeDigest } from '../helpers/tree.js';
import { CheckpointStore, describeChange, renderDiff } from '../../src/checkpoints/index.js';

const base = mkdtempSync(join(tmpdir(), 'gh-cp-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

function fresh(limits: ConstructorParameters<typeof CheckpointStore>[2] = {}) {
  const ws = join(base, `ws${++n}`);
  const root = join(base, `store${n}`);
  mkdirSync(join(ws, 'src', 'deep', 'er'), { recursive: true });
  mkdirSync(join(ws, 'empty'));
  writeFileSync(join(ws, 'README.md'), '# project\n');
  writeFileSync(join(ws, 'src', 'app.ts'), 'export const a = 1;\n');
  writeFileSync(join(ws, 'src', 'deep', 'er', 'data.bin'), Buffer.from([0, 1, 2, 255, 254, 0, 7]));
  writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  chmodSync(join(ws, 'empty'), 0o750);
  symlinkSync('src/app.ts', join(ws, 'link'));
  symlinkSync('/nonexistent/elsewhere', join(ws, 'dangling'));
  return { ws, root, store: new CheckpointStore(root, ws, limits) };
}

/** Every path with its type, mode, and content digest or link text: equal trees, equal strings. */
const tree = (dir: string) => treeDigest(dir);

describe('checkpoint store', () => {
  it('rolls back rm -rf of the whole workspace byte for byte', () => {
    const { ws, store } = fresh();
    const before = tree(ws);
    const cp = store.create({ trigger: 'manual', reason: 'test' });
    expect(cp.files).toBe(4);
    for (const e of readdirSync(ws)) rmSync(join(ws, e), { recursive: true, force: true });
    writeFileSync(join(ws, 'new.txt'), 'added after\n');
    const changes = store.diff(cp.id);
    expect(changes.map(describeChange)).toContain('A  new.txt');
    expect(changes.map(describeChange)).toContain('D  src/app.ts');
    const dry = store.rollback(cp.id, { dryRun: true });
    expect(dry.changes.length).toBe(changes.length);
    expect(existsSync(join(ws, 'README.md'))).toBe(false);
    const r = store.rollback(cp.id);
    expect(tree(ws)).toBe(before);
    expect(store.diff(cp.id)).toEqual([]);
    // The rollback is itself undoable: the safety checkpoint holds the state before it.
    expect(r.safety?.trigger).toBe('rollback');
    store.rollback(r.safety!.id);
    expect(readFileSync(join(ws, 'new.txt'), 'utf8')).toBe('added after\n');
    expect(existsSync(join(ws, 'README.md'))).toBe(false);
  });

  it('an in-place write after the checkpoint does not change the checkpoint (no shared inodes)', () => {
    const { ws, store } = fresh();
    const cp = store.create({ trigger: 'manual', reason: 'test' });
    appendFileSync(join(ws, 'README.md'), 'appended in place\n');
    truncateSync(join(ws, 'src', 'app.ts'), 3);
    chmodSync(join(ws, 'run.sh'), 0o600);
    const kinds = store.diff(cp.id).map(describeChange);
    expect(kinds).toEqual(['M  README.md', 'm  run.sh 0755 -> 0600', 'M  src/app.ts']);
    const d = renderDiff(store, store.diff(cp.id)[0]!);
    expect(d).toContain('+appended in place');
    store.rollback(cp.id);
    expect(readFileSync(join(ws, 'README.md'), 'utf8')).toBe('# project\n');
    expect(readFileSync(join(ws, 'src', 'app.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(lstatSync(join(ws, 'run.sh')).mode & 0o777).toBe(0o755);
  });

  it('restores only the paths asked for', () => {
    const { ws, store } = fresh();
    const cp = store.create({ trigger: 'manual', reason: 'test' });
    rmSync(join(ws, 'README.md'));
    rmSync(join(ws, 'src'), { recursive: true });
    store.rollback(cp.id, { paths: ['src/deep'] });
    expect(existsSync(join(ws, 'src', 'deep', 'er', 'data.bin'))).toBe(true);
    expect(existsSync(join(ws, 'src', 'app.ts'))).toBe(false);
    expect(existsSync(join(ws, 'README.md'))).toBe(false);
    expect(() => store.rollback(cp.id, { paths: ['../etc'] })).toThrow(/leaves the workspace/);
  });

  it('reads an unchanged file once: a second checkpoint adds nothing to the store', () => {
    const { ws, store } = fresh();
    const first = store.create({ trigger: 'manual', reason: 'one' });
    expect(first.newBytes).toBeGreaterThan(0);
    const second = store.create({ trigger: 'manual', reason: 'two' });
    expect(second.newBytes).toBe(0);
    writeFileSync(join(ws, 'README.md'), '# changed\n');
    const third = store.create({ trigger: 'manual', reason: 'three' });
    expect(third.newBytes).toBe('# changed\n'.length);
  });

  it('refuses a checkpoint past the size limit and leaves nothing half-made', () => {
    const { ws, root, store } = fresh({ maxBytes: 4096 });
    writeFileSync(join(ws, 'big.bin'), Buffer.alloc(8192, 1));
    expect(() => store.create({ trigger: 'auto', reason: 'too big' })).toThrow(/past 4096 bytes/);
    expect(store.list()).toEqual([]);
    const objects = join(root, readdirSync(root)[0]!, 'objects');
    const stored = readdirSync(objects).flatMap((d) => readdirSync(join(objects, d)));
    expect(stored).toEqual([]);
  });

  it('refuses a tree with more entries than the limit', () => {
    const { store } = fresh({ maxFiles: 3 });
    expect(() => store.create({ trigger: 'manual', reason: 'x' })).toThrow(/more than 3 entries/);
  });

  it('keeps only the newest automatic checkpoints and collects their content', () => {
    const { ws, store } = fresh({ keep: 2 });
    const manual = store.create({ trigger: 'manual', reason: 'kept' });
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(ws, 'README.md'), `version ${i}\n`);
      store.create({ trigger: 'auto', reason: `auto ${i}` });
    }
    const list = store.list();
    expect(list.map((c) => c.reason)).toEqual(['kept', 'auto 2', 'auto 3']);
    expect(list[0]!.id).toBe(manual.id);
    const purged = store.purge({ keep: 1 });
    expect(purged.length).toBe(2);
    expect(store.list().map((c) => c.reason)).toEqual(['auto 3']);
    expect(() => store.purge({ ids: ['cp-20260101-000000-000000'] })).toThrow(/no checkpoint/);
    store.purge({ all: true });
    expect(store.list()).toEqual([]);
  });

  it('never copies in, nor writes through, a link that leaves the workspace', () => {
    const { ws, store } = fresh();
    const outside = join(base, `outside${n}`);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'host secret\n');
    // A link to an outside file is recorded as a link; its target's content is never read.
    symlinkSync(join(outside, 'secret.txt'), join(ws, 'leak'));
    const cp = store.create({ trigger: 'manual', reason: 'test' });
    const leak = store.get(cp.id).entries.find((e) => e.path === 'leak');
    expect(leak).toMatchObject({ type: 'symlink', target: join(outside, 'secret.txt') });
    expect(leak?.hash).toBeUndefined();
    // The agent deletes src and puts a link to an outside directory in its place: a rollback
    // replaces the link with the directory and writes nothing into the outside one.
    rmSync(join(ws, 'src'), { recursive: true });
    symlinkSync(outside, join(ws, 'src'));
    store.rollback(cp.id);
    expect(lstatSync(join(ws, 'src')).isDirectory()).toBe(true);
    expect(readdirSync(outside)).toEqual(['secret.txt']);
    expect(readFileSync(join(ws, 'src', 'app.ts'), 'utf8')).toBe('export const a = 1;\n');
  });

  it('skips names excluded by the profile, and rollback leaves them alone', () => {
    const { ws, store } = fresh({ exclude: ['node_modules'] });
    mkdirSync(join(ws, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(ws, 'node_modules', 'x', 'index.js'), 'module.exports = 1;\n');
    const cp = store.create({ trigger: 'manual', reason: 'test' });
    expect(store.get(cp.id).entries.some((e) => e.path.startsWith('node_modules'))).toBe(false);
    writeFileSync(join(ws, 'node_modules', 'x', 'index.js'), 'module.exports = 2;\n');
    store.rollback(cp.id);
    expect(readFileSync(join(ws, 'node_modules', 'x', 'index.js'), 'utf8')).toBe('module.exports = 2;\n');
  });
});
