/**
 * Issue 22 item 3: the import graph between module folders has no circle, and a module is imported
 * only through its public face (`index.ts`, or a declared light face), never past it. Every import
 * in src/ is parsed with the TypeScript compiler: static imports, `import type`, `export … from`
 * and `import()` alike (a type-only import still ties two modules together).
 *
 * And the cold-start promise behind the light faces: loading the built tools loads neither undici
 * nor ssh2 (checked in a child process with a module-load hook, against dist/ as users run it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { isPastFace, moduleOf as moduleOfPath } from '../../lint/faces.js';
import { assertBuilt } from '../helpers/cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/**
 * Imports past a face tolerated for now: none (the last ones, from the guard and the vault into
 * core, were fixed). An entry makes the test fail when it appears unlisted AND when it is gone, so
 * the list can only shrink.
 */
const PENDING: ReadonlySet<string> = new Set<string>([]);

interface Edge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file names, with its line and whether only types come through it. */
function importsOf(file: string): { spec: string; line: number; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: { spec: string; line: number; typeOnly: boolean }[] = [];
  const add = (lit: ts.Expression, typeOnly: boolean) => {
    if (ts.isStringLiteralLike(lit))
      out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart()).line + 1, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const typeOnly =
        !!c &&
        (c.isTypeOnly ||
          (!c.name &&
            !!c.namedBindings &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** `src/<module>/…` -> `<module>` (every edge here is between files under src/). */
function moduleOf(rel: string): string {
  return moduleOfPath(rel) ?? rel;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(ROOT, file).split('\\').join('/');
    for (const imp of importsOf(file)) {
      if (!imp.spec.startsWith('.')) continue; // packages and node: builtins
      const to = relative(ROOT, resolve(dirname(file), imp.spec.replace(/\.js$/, '.ts')))
        .split('\\')
        .join('/');
      out.push({ from, to, line: imp.line, typeOnly: imp.typeOnly });
    }
  }
  return out;
}

/** Imports that reach into another module past its faces (the lint rule's own test, lint/faces.js). */
function pastFace(all: readonly Edge[]): Edge[] {
  return all.filter((e) => isPastFace(e.from, e.to));
}

/** The strongly connected module groups of more than one module (Tarjan), each a circle. */
function moduleCycles(all: readonly Edge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of all) {
    const a = moduleOf(e.from);
    const b = moduleOf(e.to);
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    if (a !== b) graph.get(a)!.add(b);
  }
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) cycles.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

const show = (e: Edge) => `${e.from}:${e.line} imports ${e.to}${e.typeOnly ? ' (types only)' : ''}`;

describe('module boundaries in src/', () => {
  const all = edges();

  it('parses imports of every kind (static, type-only, re-export, dynamic)', () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all.some((e) => e.typeOnly)).toBe(true);
    expect(all.some((e) => e.from === 'src/cli/main.ts' && e.to.startsWith('src/cli/commands/'))).toBe(true); // import()
    expect(all.some((e) => e.from === 'src/server/index.ts')).toBe(true); // export … from
  });

  it('no module folder imports another past its public face (index.ts or a declared light face)', () => {
    const found = pastFace(all);
    const unexpected = found.filter((e) => !PENDING.has(`${e.from} -> ${e.to}`));
    expect(unexpected.map(show), "import these through the module's index.ts (or its declared light face)").toEqual([]);
    const gone = [...PENDING].filter((p) => !found.some((e) => `${e.from} -> ${e.to}` === p));
    expect(gone, 'these were fixed: remove them from PENDING').toEqual([]);
  });

  it('the module folders form no circle (type-only imports count)', () => {
    const cycles = moduleCycles(all);
    const why = cycles.map(
      (c) =>
        `${c.join(' <-> ')}: ${all
          .filter(
            (e) => c.includes(moduleOf(e.from)) && c.includes(moduleOf(e.to)) && moduleOf(e.from) !== moduleOf(e.to),
          )
          .map(show)
          .join('; ')}`,
    );
    expect(why).toEqual([]);
  });

  it('the checks can fail: a past-face import and a circle are found in a made-up graph', () => {
    const made: Edge[] = [
      { from: 'src/tools/a.ts', to: 'src/server/runtime.ts', line: 1, typeOnly: true },
      { from: 'src/server/b.ts', to: 'src/tools/index.ts', line: 1, typeOnly: false },
      { from: 'src/tools/c.ts', to: 'src/upstream/light.ts', line: 1, typeOnly: false },
    ];
    expect(pastFace(made).map((e) => e.to)).toEqual(['src/server/runtime.ts']);
    expect(moduleCycles(made)).toEqual([['server', 'tools']]);
  });
});

/**
 * Loads one built module in a child Node process whose load hook writes down every module URL
 * loaded (synchronously, in the hooks thread, so the list is complete when the import settles).
 */
function modulesLoadedBy(entry: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'gh-loads-'));
  try {
    const log = join(dir, 'loaded.txt');
    writeFileSync(log, '');
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';\nlet file;\nexport function initialize(d) { file = d.log; }\n` +
        `export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return next(url, context); }\n`,
    );
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { log: ${JSON.stringify(log)} } });\n`,
    );
    writeFileSync(join(dir, 'main.mjs'), `await import(${JSON.stringify(pathToFileURL(entry).href)});\n`);
    const r = spawnSync(
      process.execPath,
      ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'main.mjs')],
      { encoding: 'utf8', timeout: 30_000, cwd: ROOT },
    );
    if (r.status !== 0) throw new Error(`loading ${entry} failed: ${r.stderr}`);
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The built file of a source file, refusing a build older than its source (a stale dist would test old code). */
function built(srcRel: string): string {
  assertBuilt();
  const js = join(ROOT, 'dist', srcRel.replace(/\.ts$/, '.js'));
  const srcDir = join(ROOT, dirname(srcRel));
  for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts'))) {
    const out = join(ROOT, 'dist', dirname(srcRel), f.replace(/\.ts$/, '.js'));
    if (
      statSync(out, { throwIfNoEntry: false }) === undefined ||
      statSync(out).mtimeMs < statSync(join(srcDir, f)).mtimeMs
    ) {
      throw new Error(`dist is older than ${join(dirname(srcRel), f)}: run \`npm run build\``);
    }
  }
  return js;
}

const HEAVY = ['undici', 'ssh2'];
const heavyIn = (urls: string[]) => HEAVY.filter((pkg) => urls.some((u) => u.includes(`/node_modules/${pkg}/`)));

describe('cold start: the tools load no HTTP client and no SSH library', () => {
  it('loading dist/src/tools/index.js loads neither undici nor ssh2', () => {
    const loaded = modulesLoadedBy(built('src/tools/index.ts'));
    expect(loaded.some((u) => u.endsWith('/dist/src/tools/api-request.js'))).toBe(true);
    expect(heavyIn(loaded)).toEqual([]);
  });

  it('the check can fail: loading the upstream index does load undici', () => {
    expect(heavyIn(modulesLoadedBy(built('src/upstream/index.ts')))).toContain('undici');
  });
});

describe('cold start: migrations load no package', () => {
  // Every start imports every migration file (applied or not) from dist/migrations, beside the
  // bundle: a runtime import of a package there loads it unbundled. One `import { sql } from
  // 'kysely'` cost `gatehouse mcp` 70 ms (MigrationKit passes `sql` in instead).
  const outsidePackages = (urls: string[]) => urls.filter((u) => u.includes('/node_modules/'));

  it('loading each built migration loads nothing from node_modules', () => {
    const files = readdirSync(join(ROOT, 'migrations')).filter((f) => /^\d{4}_.*\.ts$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) expect(outsidePackages(modulesLoadedBy(built(`migrations/${f}`))), f).toEqual([]);
  });

  it('the check can fail: loading the store loads kysely from node_modules', () => {
    expect(outsidePackages(modulesLoadedBy(built('src/store/index.ts'))).some((u) => u.includes('kysely'))).toBe(true);
  });
});
