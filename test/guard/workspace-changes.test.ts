/**
 * Which commands get an automatic checkpoint first (src/guard/workspace-changes.ts): everything
 * that can delete or overwrite files, through wrappers and shell strings, and whatever cannot be
 * read; nothing that only reads.
 */
import { describe, expect, it } from 'vitest';
import { loadBashParser, workspaceChange } from '../../src/guard/index.js';

const parser = await loadBashParser();
const of = (c: string) => workspaceChange(parser, c);

describe('workspaceChange', () => {
  it.each([
    ['rm -rf build', true],
    ['rm -r -f ./src', true],
    ['/bin/rm x', true],
    ['sudo rm x', true],
    ['nice -n 5 timeout 10 rm x', true],
    ["bash -c 'rm -rf src'", true],
    ["sh -c 'cd src && rm *.o'", true],
    ['find . -name "*.tmp" -delete', true],
    ['find . -exec rm {} +', true],
    ['ls | xargs rm', true],
    ['git clean -fdx', true],
    ['git rm file', true],
    ['unlink f', true],
    ['shred -u f', true],
    ['$CMD build', true],
    ['eval "$X"', true],
    ['python3 -c "import shutil; shutil.rmtree(\'src\')"', true],
    ['node -e "fs.rmSync(1)"', true],
    ['mv a b', true],
    ['rsync -a --delete src/ dst/', true],
  ])('%s deletes', (cmd, deletes) => {
    const r = of(cmd);
    expect(r.destructive).toBe(true);
    expect(r.deletes).toBe(deletes);
  });

  it.each([
    'git reset --hard HEAD~1',
    'git checkout -- .',
    'git -C sub restore .',
    'git stash',
    'echo x > file.txt',
    'cat a >| b',
    'truncate -s 0 log',
    'sed -i s/a/b/ f',
    'perl -pi -e s/a/b/ f',
    'cp new.txt old.txt',
    'dd if=/dev/zero of=disk.img bs=1M count=1',
    'tee out.txt < in',
    'tar xf archive.tar',
    'chmod -R 000 .',
  ])('%s overwrites', (cmd) => {
    const r = of(cmd);
    expect(r.destructive).toBe(true);
    expect(r.reasons.length).toBeGreaterThan(0);
  });

  it.each([
    'ls -la',
    'cat README.md',
    'git status',
    'git log --oneline',
    'git diff',
    'grep -r foo src',
    'echo hi >> log.txt',
    'echo hi > /dev/null',
    'make 2>&1',
    'npm test',
    'tee -a log < in',
    'tar tf archive.tar',
    'sed s/a/b/ f',
    'find . -name "*.ts"',
  ])('%s leaves files alone', (cmd) => {
    expect(of(cmd)).toEqual({ deletes: false, destructive: false, reasons: [] });
  });

  it('says why', () => {
    expect(of('git reset --hard && echo done > status').reasons).toEqual(['git reset', '> status']);
  });
});
