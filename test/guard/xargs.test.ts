import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import { staticEchoOutput } from '../../src/guard/static-output.js';
import { literalWord, dynamicWord } from '../../src/guard/words.js';
import { xargsRuns } from '../../src/guard/xargs.js';

const words = (...a: string[]) => a.map(literalWord);

describe('static text piped into xargs is followed', () => {
  let g: GuardEngine;
  beforeAll(async () => {
    g = await loadGuard();
  });

  it('a catastrophe spelled through echo, printf or a heredoc into xargs is a deny, not an approve', () => {
    for (const cmd of [
      'echo / | xargs rm -rf',
      "printf '%s\\n' / | xargs rm -rf",
      "printf '/\\0' | xargs -0 rm -rf",
      "echo -e 'x\\n/' | xargs -I{} rm -rf {}",
      'echo / | xargs -i rm -rf {}',
      'echo / | sudo xargs rm -rf',
      'echo / | xargs sudo rm -rf',
      'cat <<EOF | xargs rm -rf\n/\nEOF',
      "echo '/ /home' | xargs -n 1 rm -rf",
    ]) {
      expect(g.checkCommand(cmd), cmd).toMatchObject({ decision: 'deny', rule: 'fs.rm-root' });
    }
  });

  it('what the guard cannot read stays an unknown argument (approve), and harmless pipes stay allowed', () => {
    expect(g.checkCommand('find /tmp -type f | xargs rm -f').decision).toBe('approve');
    expect(g.checkCommand('echo "$DIR" | xargs rm -rf').decision).toBe('approve');
    expect(g.checkCommand('echo \'"/"\' | xargs rm -rf').decision).toBe('approve'); // xargs quoting: not modelled
    expect(g.checkCommand('echo build dist | xargs rm -rf').decision).toBe('approve');
    expect(g.checkCommand('echo a b | xargs -n1 echo').decision).toBe('allow');
    expect(g.checkCommand('echo src | xargs ls').decision).toBe('allow');
  });

  it("staticEchoOutput writes what bash's echo and printf write", () => {
    expect(staticEchoOutput(words('echo', 'a', 'b'))).toBe('a b\n');
    expect(staticEchoOutput(words('echo', '-n', 'a'))).toBe('a');
    expect(staticEchoOutput(words('echo', '-e', 'a\\tb\\x41\\0101'))).toBe('a\tbAA\n');
    expect(staticEchoOutput(words('echo', '-e', 'a\\cb'))).toBe('a');
    expect(staticEchoOutput(words('echo', 'a\\nb'))).toBe('a\\nb\n');
    expect(staticEchoOutput(words('printf', '%s-%s\\n', 'a', 'b', 'c'))).toBe('a-b\nc-\n');
    expect(staticEchoOutput(words('printf', '100%%\\101'))).toBe('100%A');
    expect(staticEchoOutput(words('printf', '%b', 'x\\ny'))).toBe('x\ny');
    expect(staticEchoOutput(words('printf', '%d', '5'))).toBeUndefined();
    expect(staticEchoOutput([literalWord('echo'), dynamicWord('$X')])).toBeUndefined();
  });

  it('xargsRuns builds the runs xargs would, or gives up', () => {
    expect(xargsRuns(words('rm', '-rf'), 'a b\nc\n')).toEqual([['rm', '-rf', 'a', 'b', 'c']]);
    expect(xargsRuns(words('-I', 'X', 'mv', 'X', 'X.bak'), '  one\ntwo\n')).toEqual([
      ['mv', 'one', 'one.bak'],
      ['mv', 'two', 'two.bak'],
    ]);
    expect(xargsRuns(words('-0', 'rm'), 'a b\0c\0')).toEqual([['rm', 'a b', 'c']]);
    expect(xargsRuns(words('-d', ',', 'rm'), 'a,b')).toEqual([['rm', 'a', 'b']]);
    expect(xargsRuns(words('-r', 'rm'), '  \n')).toEqual([]);
    expect(xargsRuns(words(), 'x')).toEqual([['echo', 'x']]);
    expect(xargsRuns(words('-E', 'END', 'rm'), 'a END /')).toBeUndefined();
    expect(xargsRuns(words('rm'), "it's")).toBeUndefined();
    expect(xargsRuns([literalWord('rm'), dynamicWord('$X')], 'a')).toBeUndefined();
  });
});
