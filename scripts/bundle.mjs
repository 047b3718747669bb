/**
 * Bundles the built CLI (dist/src/cli/main.js) into dist/src/bundle/, the entry `gatehouse` runs.
 *
 * Why: `gatehouse mcp` is started by Claude Code at every session, and resolving and reading a few
 * hundred module files was most of its cold start (403 ms to a tools/list answer, against 229 ms
 * bundled and 167 ms for a bare SDK server, measured with the same client). Lazy imports stay lazy:
 * with code splitting every `import()` of the CLI's commands and of heavy modules is its own chunk.
 *
 * Kept outside the bundle: packages that load native addons or WebAssembly from files beside their
 * own code (their paths are relative to the package), and yaml (loaded with require on purpose).
 * The bundle sits two folders below dist/ like every module it replaces, so the paths the code
 * resolves from import.meta.url (../../migrations, the policies folder) are the same.
 */
import { build } from 'esbuild';
import { isAscii } from 'node:buffer';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXTERNAL = [
  'better-sqlite3',
  'pg',
  'ssh2',
  'cpu-features',
  'web-tree-sitter',
  'tree-sitter-bash',
  'libsodium-wrappers-sumo',
  'yaml',
  'ws',
];

/**
 * `cli.cjs` serves `gatehouse mcp` only (src/cli/launch.ts), and one CommonJS file holds every
 * module it can reach: the other commands and the HTTP routes (the browser console, passkeys) would
 * be a third of its text, and the console's templates are not ASCII. They are left out: reaching
 * one from this file fails with an error saying so, where the ES module build loads it.
 */
const mcpOnly = {
  name: 'mcp-only',
  setup(b) {
    const stub = (args) => ({ path: args.path, namespace: 'not-in-cli-cjs' });
    b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) =>
      /[\\/]cli[\\/]main\.js$/.test(args.importer) && args.path !== './commands/mcp.js' ? stub(args) : undefined,
    );
    b.onResolve({ filter: /^\.\/all\.js$/ }, (args) =>
      /[\\/]server[\\/]routes[\\/]load\.js$/.test(args.importer) ? stub(args) : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'not-in-cli-cjs' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in cli.cjs, which serves \`gatehouse mcp\` only: run it through \`gatehouse\``)});`,
      loader: 'js',
    }));
  },
};

const outdir = join(root, 'dist/src/bundle');
rmSync(outdir, { recursive: true, force: true });
// The launcher is `main.js` (package.json bin); the CLI it loads is `cli.js`, and its commands are
// chunks of their own.
const entryPoints = { main: join(root, 'dist/src/cli/launch.js'), cli: join(root, 'dist/src/cli/main.js') };
/** Bundled CommonJS dependencies call require(); ES module output has none unless it is made. */
const esmRequire = {
  js: "import { createRequire as __ghCreateRequire } from 'node:module';\nconst require = __ghCreateRequire(import.meta.url);",
};
/** What every build shares. */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  // Whitespace and syntax only (names are kept, so stack traces and `constructor.name` read the
  // same; the linked source map maps lines back): V8 compiles less text at every start. A/B of
  // 15 interleaved `gatehouse mcp` starts to tools/list: 313 -> 299 ms (bare SDK server 237).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  external: EXTERNAL,
};
await build({
  ...common,
  entryPoints,
  outdir,
  splitting: true,
  format: 'esm',
  banner: esmRequire,
});

// The audit writer thread (src/audit/writer-thread.ts), a file of its own beside the chunks that
// start it: thread-writer.ts finds it as `./writer-thread.js` from its own module, which is this
// folder in the bundle (and in cli.cjs) and dist/src/audit unbundled.
await build({
  ...common,
  entryPoints: { 'writer-thread': join(root, 'dist/src/audit/writer-thread.js') },
  outdir,
  format: 'esm',
  banner: esmRequire,
});

// What `gatehouse mcp` runs, as one CommonJS file, `cli.cjs`, with V8's code cache
// (src/cli/code-cache.ts: vm.Script takes cached data for a script, not for an ES module).
// import.meta.url becomes the file's own URL, so the paths the code resolves from it (migrations,
// tool-schemas.json, the policies folder) are the ones the ES module build resolves.
await build({
  ...common,
  entryPoints: [entryPoints.cli],
  outfile: join(outdir, 'cli.cjs'),
  format: 'cjs',
  define: { 'import.meta.url': '__ghImportMetaUrl' },
  // The file is one function expression over CommonJS's module arguments, so the launcher compiles
  // it as it is (Module.wrap would copy megabytes of source into a new string). Strict, as the ES
  // module build is: the directive must open the function body, before the banner's own line.
  banner: {
    js: "(function (exports, require, module, __filename, __dirname) {'use strict';const __ghImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  footer: { js: '})' },
  // ASCII only (esbuild escapes the rest), so the launcher reads it as Latin-1 into a one-byte string.
  charset: 'ascii',
  // Licence comments (not ASCII: authors' names) go to cli.cjs.LEGAL.txt beside it.
  legalComments: 'linked',
  plugins: [mcpOnly],
});
if (!isAscii(readFileSync(join(outdir, 'cli.cjs')))) {
  process.stderr.write('bundle: cli.cjs is not ASCII, so `gatehouse mcp` reads it as UTF-8 (slower to start)\n');
}

// Every tool's JSON Schemas, converted now instead of at the first tools/list of every start
// (src/server/tool-schemas.ts reads this file beside the bundle; test/server/tool-schemas.test.ts
// checks it equals a fresh conversion).
const { allTools } = await import(join(root, 'dist/src/tools/index.js'));
const { convertToolSchemas, TOOL_SCHEMAS_FILE } = await import(join(root, 'dist/src/server/tool-schemas.js'));
writeFileSync(join(outdir, TOOL_SCHEMAS_FILE), JSON.stringify(convertToolSchemas(allTools())));
