import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { fastCopyMatches, loadBashParser, treeCopyMode, verifyTreeCopyNow } from '../../src/guard/parser.js';
import { PROP_SEED, PROP_TIMEOUT } from './prop-seed.js';

vi.setConfig({ testTimeout: PROP_TIMEOUT });

/**
 * The fast tree copier (src/guard/parser.ts) calls web-tree-sitter's binding directly instead of
 * through the public TreeCursor. It must produce exactly the public API's tree, node for node,
 * including trees with errors. If an upgrade of web-tree-sitter changes that internal interface,
 * the (deferred) probe check turns the fast path off (safe, but slow), and the first test here
 * fails so the slowdown is noticed.
 */
const corpus = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { cmd: string }).cmd);

beforeAll(async () => {
  await loadBashParser();
});

describe('guard tree copy', () => {
  it('uses the fast copier with the pinned web-tree-sitter (verified on demand or after a few decisions)', () => {
    expect(treeCopyMode()).toBe('pending');
    expect(verifyTreeCopyNow()).toBe('fast');
    expect(treeCopyMode()).toBe('fast');
  });

  it('copies every corpus command (and wrapped forms) exactly as the public API does', () => {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    for (const c of corpus) {
      for (const v of [
        c,
        `sudo ${c}`,
        `bash -c ${q(c)}`,
        `echo "$(${c})"`,
        `f() { ${c}; }`,
        `cat <<EOF | sh\n${c}\nEOF\n`,
      ]) {
        expect(fastCopyMatches(v), v).toBe(true);
      }
    }
  });

  it('agrees with the public API on random text and shell-ish token soup', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => fastCopyMatches(s)),
      { seed: PROP_SEED, numRuns: 1000 },
    );
    const tok = fc.constantFrom(
      'ls',
      'echo',
      '$(',
      ')',
      '`',
      '"',
      "'",
      '|',
      '&&',
      ';',
      '\n',
      '{',
      '}',
      '(',
      '<<EOF',
      'EOF',
      '$x',
      '${',
      '\\',
      ' ',
      '#',
      '<(',
      '>',
      '*',
      'for i in',
      'do',
      'done',
      'case',
      'esac',
      'a=b',
      'é',
      '🎉',
    );
    fc.assert(
      fc.property(
        fc.array(tok, { maxLength: 40 }),
        (ts) => fastCopyMatches(ts.join(' ')) && fastCopyMatches(ts.join('')),
      ),
      { seed: PROP_SEED, numRuns: 1000 },
    );
  });

  it('agrees on large inputs (deep nesting, long scripts)', () => {
    for (const s of [
      '$('.repeat(300) + 'ls' + ')'.repeat(300),
      '{ '.repeat(300) + 'ls; ' + '}; '.repeat(300),
      'ls -la src && git status; grep -rn TODO src | head -n 5 > /tmp/x.txt\n'.repeat(500),
    ]) {
      expect(fastCopyMatches(s)).toBe(true);
    }
  });
});
