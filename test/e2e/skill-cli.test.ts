/**
 * `gatehouse skill` for operators, through the built CLI: import a folder or a ZIP (made by the
 * system's `zip` and by Gatehouse's own writer), export it back byte for byte, publish, roll back,
 * deprecate and purge, each an audit record; archives that climb out, link elsewhere, lie about
 * their sizes or hold a secret are refused with nothing stored.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZip, writeZip } from '../../src/cli/zip.js';
import { assertBuilt, auditAfter, auditSeq, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { requires } from '../helpers/requires.js';

const SECRET = 'skillcli-canary-M4pX9qL2wZ7v';
const SKILL_MD = `---\nname: rotate-keys\ndescription: Rotates service keys. Use when a key is due or leaked.\n---\n# Rotate\n\n1. Create the new key.\n2. Deploy it.\n3. Revoke the old one.\n`;

function makeSkill(root: string): string {
  const dir = join(root, 'rotate-keys');
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'SKILL.md'), SKILL_MD);
  writeFileSync(join(dir, 'scripts', 'rotate.sh'), '#!/bin/sh\necho rotating\n');
  writeFileSync(join(dir, 'assets', 'diagram.bin'), Buffer.from([0, 1, 2, 250, 251, 252]));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  return dir;
}

const haveZip = await requires('zip', 'skill import from an archive made by zip(1)');
const limits = { entries: 1000, bytes: 256 * 1024, total: 16 * 1024 * 1024 };

describe('the ZIP reader', () => {
  it('reads what it writes, and deflated entries', () => {
    const files = [
      { name: 'a/SKILL.md', data: Buffer.from('hello') },
      { name: 'a/b/c.bin', data: Buffer.from([0, 255]) },
    ];
    expect(readZip(writeZip(files), limits)).toEqual(files);
  });

  /** An archive with one deflated entry whose header states `size` (a zip bomb lies about it). */
  function deflated(name: string, data: Buffer, size = data.length): Buffer {
    const z = writeZip([{ name, data }]);
    const comp = deflateRawSync(data);
    const local = Buffer.from(z.subarray(0, 30 + Buffer.byteLength(name)));
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(size, 22);
    const cdStart = 30 + Buffer.byteLength(name) + data.length;
    const central = Buffer.from(z.subarray(cdStart, z.length - 22));
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(comp.length, 20);
    central.writeUInt32LE(size, 24);
    const end = Buffer.from(z.subarray(z.length - 22));
    end.writeUInt32LE(local.length + comp.length, 16);
    return Buffer.concat([local, comp, central, end]);
  }

  it('inflates deflated entries and refuses one that inflates past its stated size', () => {
    expect(readZip(deflated('x.txt', Buffer.from('abc'.repeat(1000))), limits)[0]!.data.toString()).toBe(
      'abc'.repeat(1000),
    );
    const bomb = deflated('bomb.txt', Buffer.alloc(10 * 1024 * 1024), 100);
    expect(() => readZip(bomb, limits)).toThrow(/does not inflate to its stated size|fails its size/);
    expect(() => readZip(deflated('big.txt', Buffer.alloc(300 * 1024)), limits)).toThrow(/over 262144/);
  });

  it.each([
    ['../evil.sh', /climbs out/],
    ['/etc/passwd', /absolute/],
    ['a\\..\\b', /climbs out/],
    ['C:/x', /absolute/],
  ])('refuses the name %s', (name, re) => {
    expect(() => readZip(writeZip([{ name, data: Buffer.from('x') }]), limits)).toThrow(re);
  });

  it('refuses a symbolic link, a bad CRC and garbage', () => {
    const link = writeZip([{ name: 'l', data: Buffer.from('/etc/passwd') }]);
    const cd = link.length - 22 - 46 - 1;
    link.writeUInt32LE((0o120777 << 16) >>> 0, cd + 38);
    expect(() => readZip(link, limits)).toThrow(/symbolic link/);
    const crc = writeZip([{ name: 'f', data: Buffer.from('abc') }]);
    crc.writeUInt8(crc.readUInt8(30 + 1) ^ 1, 30 + 1);
    expect(() => readZip(crc, limits)).toThrow(/CRC/);
    expect(() => readZip(Buffer.from('not a zip at all, not at all'), limits)).toThrow(/end of central directory/);
  });
});

describe('gatehouse skill (operators)', () => {
  const home = tempHome();
  const work = join(home.dir, 'work');
  beforeAll(() => {
    assertBuilt();
    mkdirSync(work);
    expect(cli(['vault', 'create', 'ops'], home.env).code).toBe(0);
    expect(cli(['vault', 'set', 'ops/k.v'], home.env, SECRET).code).toBe(0);
  });
  afterAll(() => home.cleanup());
  const run = (args: string[]) => cli(['skill', ...args], home.env);

  it('imports a folder as a draft, publishes, exports byte for byte, rolls back, deprecates and purges', () => {
    const seq = auditSeq(home.env);
    const dir = makeSkill(work);
    const imp = run(['import', dir]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toContain('skipped hidden .git');
    const digest1 = /\(([0-9a-f]{64})\)/.exec(imp.stdout)![1]!;
    expect(run(['list']).stdout).toContain('(no skills)');
    expect(run(['list', '--drafts']).stdout).toContain('rotate-keys');
    expect(run(['diff', 'rotate-keys', digest1]).stdout).toContain('added scripts/rotate.sh');
    expect(run(['publish', 'rotate-keys', '--digest', digest1]).code).toBe(0);
    expect(run(['show', 'rotate-keys']).stdout).toContain('1. Create the new key.');

    // Export and import again: the same digest (the bytes are the bytes).
    const out = join(work, 'out');
    expect(run(['export', 'rotate-keys', '--out', out]).code).toBe(0);
    expect(readFileSync(join(out, 'rotate-keys', 'assets', 'diagram.bin'))).toEqual(
      Buffer.from([0, 1, 2, 250, 251, 252]),
    );
    expect(run(['export', 'rotate-keys', '--out', out]).code, 'never into an existing folder').not.toBe(0);
    const zip = join(work, 'rk.zip');
    expect(run(['export', 'rotate-keys', '--zip', zip]).code).toBe(0);
    expect(
      readZip(readFileSync(zip), limits)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['rotate-keys/SKILL.md', 'rotate-keys/assets/diagram.bin', 'rotate-keys/scripts/rotate.sh']);

    // A second version from a changed folder, then a rollback to the first.
    writeFileSync(join(dir, 'SKILL.md'), SKILL_MD.replace('Deploy it.', 'Deploy it everywhere.'));
    const imp2 = run(['import', dir, '--publish']);
    expect(imp2.code, imp2.stderr).toBe(0);
    expect(imp2.stdout).toContain('published rotate-keys version 2');
    expect(run(['show', 'rotate-keys']).stdout).toContain('Deploy it everywhere.');
    expect(run(['revert', 'rotate-keys', '--version', '1']).code).toBe(0);
    expect(run(['show', 'rotate-keys']).stdout).not.toContain('everywhere');
    const hist = run(['history', 'rotate-keys']).stdout;
    expect(hist.match(new RegExp(digest1, 'g'))?.length).toBeGreaterThanOrEqual(2);

    expect(run(['rm', 'rotate-keys']).code).toBe(0);
    expect(run(['list']).stdout).toContain('(no skills)');
    expect(run(['list', '--deprecated']).stdout).toContain('deprecated');
    expect(run(['purge', 'rotate-keys']).code).toBe(0);
    expect(run(['history', 'rotate-keys']).code).not.toBe(0);

    const events = auditAfter(home.env, seq).map((r) => r.tool);
    for (const e of ['import', 'publish', 'revert', 'deprecate', 'purge']) expect(events).toContain(`cli:skill.${e}`);
  });

  it.skipIf(!haveZip)('imports an archive made by the system zip (folder inside, deflated)', () => {
    const root = join(work, 'z');
    mkdirSync(root);
    makeSkill(root);
    const r = spawnSync('zip', ['-qr', 'rk.zip', 'rotate-keys'], { cwd: root });
    expect(r.status).toBe(0);
    const imp = run(['import', join(root, 'rk.zip')]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toContain('imported rotate-keys as draft');
    expect(run(['show', 'rotate-keys', '--draft', '--file', 'scripts/rotate.sh']).stdout).toContain('echo rotating');
  });

  it('refuses a symbolic link, a secret and a bad name, and stores nothing', () => {
    const root = join(work, 'bad');
    mkdirSync(root);
    const dir = makeSkill(root);
    symlinkSync('/etc/passwd', join(dir, 'references-link'));
    expect(run(['import', dir]).stderr).toMatch(/symbolic link/);

    const d2 = join(work, 'leak', 'leaky-skill');
    mkdirSync(join(d2, 'scripts'), { recursive: true });
    writeFileSync(join(d2, 'SKILL.md'), SKILL_MD.replace('name: rotate-keys', 'name: leaky-skill'));
    writeFileSync(join(d2, 'scripts', 'env.sh'), `export KEY=${Buffer.from(SECRET).toString('base64')}\n`);
    const r = run(['import', d2]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/secret_detected|holds a secret/);
    expect(r.stderr + r.stdout).not.toContain(SECRET);
    expect(run(['history', 'leaky-skill']).code).not.toBe(0);
    expect(run(['import', dir, '--name', 'Bad_Name']).code).not.toBe(0);
  });
});
