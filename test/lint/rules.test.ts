/**
 * Issue 22 item 5: a lint rule for each bug class already fixed once, and the public-face import
 * rule. Each fixture marks the lines that must be reported with a trailing `✗` comment; the test
 * fails when a marked line is not reported (the rule stopped catching its class) and when an
 * unmarked line is (the rule grew noisy). The fixtures are linted with the project's own
 * eslint.config.js, type information included, exactly as `npm run lint` lints src/.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import gatehouse from '../../lint/plugin.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'test/lint/fixtures');

function markedLines(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (/\/\/ ✗\s*$/.test(line) ? [i + 1] : []));
}

async function reported(file: string, rule: string): Promise<number[]> {
  const eslint = new ESLint({ cwd: ROOT, ignore: false });
  const [result] = await eslint.lintFiles([file]);
  const fatal = result?.messages.filter((m) => m.fatal) ?? [];
  expect(fatal.map((m) => m.message)).toEqual([]);
  return [...new Set((result?.messages ?? []).filter((m) => m.ruleId === rule).map((m) => m.line))].sort(
    (a, b) => a - b,
  );
}

describe('lint rules, one per bug class fixed once', () => {
  for (const [fixture, rule] of [
    ['text-cut.ts', 'gatehouse/text-cut'],
    ['header-as-string.ts', 'gatehouse/header-as-string'],
    ['media-type-match.ts', 'gatehouse/media-type-match'],
    ['mixed-operators.ts', 'no-mixed-operators'],
  ] as const) {
    it(`${rule} reports exactly the marked lines of ${fixture}`, async () => {
      const file = join(FIXTURES, fixture);
      const marked = markedLines(file);
      expect(marked.length).toBeGreaterThan(0);
      expect(await reported(file, rule)).toEqual(marked);
    });
  }
});

describe('gatehouse/public-face', () => {
  const linter = new Linter({ cwd: ROOT, configType: 'flat' });
  const config: Linter.Config[] = [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser as Linter.Parser },
      plugins: { gatehouse },
      rules: { 'gatehouse/public-face': 'error' },
    },
  ];
  const lint = (from: string, code: string) =>
    linter.verify(code, config, { filename: join(ROOT, from) }).map((m) => `${m.line}:${m.ruleId}`);

  it('reports imports, type imports, re-exports and import() past another module face', () => {
    const code = [
      "import { a } from '../server/runtime.js';",
      "import type { B } from '../upstream/proxy.js';",
      "export { c } from '../vault/keyring.js';",
      "const d = await import('../ssh/pool.js');",
    ].join('\n');
    expect(lint('src/tools/example.ts', code)).toEqual([
      '1:gatehouse/public-face',
      '2:gatehouse/public-face',
      '3:gatehouse/public-face',
      '4:gatehouse/public-face',
    ]);
  });

  it('accepts a face, a declared light face, the same module, packages, and files outside src/', () => {
    const code = [
      "import { a } from '../server/index.js';",
      "import { b } from '../upstream/light.js';",
      "import { c } from './common.js';",
      "import { z } from 'zod';",
    ].join('\n');
    expect(lint('src/tools/example.ts', code)).toEqual([]);
    expect(lint('test/tools/example.test.ts', "import { x } from '../../src/server/runtime.js';")).toEqual([]);
  });
});
