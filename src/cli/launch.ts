#!/usr/bin/env node
/**
 * The `gatehouse` command (package.json bin: dist/src/bundle/main.js is this file, bundled).
 *
 * `gatehouse mcp`, which Claude Code starts at every session, runs from `cli.cjs`: everything that
 * command reaches as one CommonJS file (scripts/bundle.mjs), whose compiled code V8 keeps in the
 * private home (code-cache.ts), so a start reads compiled code instead of compiling. Everything else, and `mcp` when there is no
 * private home or no `cli.cjs` (the unbundled build, tests of the sources), runs the ES module
 * build, whose commands load lazily.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gatehouseHome } from '../core/index.js';
import { codeCacheDir, runWithCodeCache } from './code-cache.js';

/** What both builds of the CLI export to this launcher. */
interface Cli {
  start(codeCache?: string): void;
}

/** `gatehouse mcp` from the CommonJS build with its code cache, or null where that cannot be. */
function cachedMcp(): { cli: Cli; cache: string } | null {
  if (process.argv[2] !== 'mcp') return null;
  const bundle = fileURLToPath(new URL('./cli.cjs', import.meta.url));
  if (!existsSync(bundle)) return null;
  const dir = codeCacheDir(gatehouseHome(process.env).home);
  if (dir === null) return null;
  const run = runWithCodeCache<Cli>(bundle, dir);
  return { cli: run.exports, cache: run.cache };
}

const cached = cachedMcp();
if (cached) cached.cli.start(cached.cache);
else (await import('./main.js')).start();
