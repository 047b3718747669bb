/**
 * tools/list answers with JSON Schemas the build converted (dist/src/bundle/tool-schemas.json,
 * written by scripts/bundle.mjs) instead of converting 21 tools' zod schemas at every start. They
 * must be exactly what converting the tools' schemas now gives: a stale or edited file would
 * describe tools wrongly to every client.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convertToolSchemas, TOOL_SCHEMAS_FILE } from '../../src/server/tool-schemas.js';
import { allTools } from '../../src/tools/index.js';
import { assertBuilt } from '../helpers/cli.js';

describe('the tool schemas the build converts', () => {
  it('are exactly a fresh conversion of every tool, and every tool is there', () => {
    assertBuilt();
    const file = fileURLToPath(new URL(`../../dist/src/bundle/${TOOL_SCHEMAS_FILE}`, import.meta.url));
    const built = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const fresh = convertToolSchemas(allTools());
    expect(Object.keys(built).sort()).toEqual(
      allTools()
        .map((t) => t.name)
        .sort(),
    );
    expect(built).toEqual(fresh);
  });
});
