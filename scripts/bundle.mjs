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
import { rmSync, writeFileSync } from 'node:fs';
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

const outdir = join(root, 'dist/src/bundle');
rmSync(outdir, { recursive: true, force: true });
// The launcher is `main.js` (package.json bin); the CLI it loads is `cli.js`, and its commands are
// chunks of their own.
const entryPoints = { main: join(root, 'dist/src/cli/launch.js'), cli: join(root, 'dist/src/cli/main.js') };
await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
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
  // Bundled CommonJS dependencies call require(); ESM output has none unless it is made.
  banner: {
    js: "import { createRequire as __ghCreateRequire } from 'node:module';\nconst require = __ghCreateRequire(import.meta.url);",
  },
});

// The same CLI as one CommonJS file, `cli.cjs`, which `gatehouse mcp` runs with V8's code cache
// (src/cli/code-cache.ts: vm.Script takes cached data for a script, not for an ES module).
// import.meta.url becomes the file's own URL, so the paths the code resolves from it (migrations,
// tool-schemas.json, the policies folder) are the ones the ES module build resolves.
await build({
  entryPoints: [entryPoints.cli],
  outfile: join(outdir, 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  external: EXTERNAL,
  define: { 'import.meta.url': '__ghImportMetaUrl' },
  banner: { js: "const __ghImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// Every tool's JSON Schemas, converted now instead of at the first tools/list of every start
// (src/server/tool-schemas.ts reads this file beside the bundle; test/server/tool-schemas.test.ts
// checks it equals a fresh conversion).
const { allTools } = await import(join(root, 'dist/src/tools/index.js'));
const { convertToolSchemas, TOOL_SCHEMAS_FILE } = await import(join(root, 'dist/src/server/tool-schemas.js'));
writeFileSync(join(outdir, TOOL_SCHEMAS_FILE), JSON.stringify(convertToolSchemas(allTools())));
