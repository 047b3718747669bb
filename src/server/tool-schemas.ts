import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ToolDefinition } from '../tools/index.js';

type Io = 'input' | 'output';
export type ToolSchemas = Record<string, Record<Io, Record<string, unknown>>>;

/**
 * The file the build writes beside the bundle (scripts/bundle.mjs): every tool's JSON Schemas,
 * converted once at build time. Converting 21 tools' zod schemas took ~8-10 ms of the first
 * tools/list, which Claude Code waits for at every session start.
 */
export const TOOL_SCHEMAS_FILE = 'tool-schemas.json';

/** JSON Schema for a zod schema, as MCP tool listings carry it (input or output side). */
export function convertSchema(schema: z.ZodType, io: Io): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

/** Every tool's schemas, converted: what the build writes and what a test compares it with. */
export function convertToolSchemas(tools: readonly ToolDefinition[]): ToolSchemas {
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      { input: convertSchema(t.inputSchema, 'input'), output: convertSchema(t.outputSchema, 'output') },
    ]),
  );
}

let built: ToolSchemas | null | undefined;
/** The build's conversions when this code runs from the bundle; null elsewhere (tsc output, vitest). */
function builtSchemas(): ToolSchemas | null {
  if (built !== undefined) return built;
  try {
    built = JSON.parse(readFileSync(new URL(`./${TOOL_SCHEMAS_FILE}`, import.meta.url), 'utf8')) as ToolSchemas;
  } catch {
    built = null; // not built, or unreadable: convert at run time (slower, same result)
  }
  return built;
}

// A tool's schemas never change while the process runs, and converting them is the costliest part
// of answering tools/list (the HTTP door builds a server per request): convert each once.
const CACHE: Record<Io, WeakMap<z.ZodType, Record<string, unknown>>> = { input: new WeakMap(), output: new WeakMap() };

/** A tool's input or output JSON Schema: from the build when it has the tool, else converted once. */
export function toolJsonSchema(tool: ToolDefinition, io: Io): Record<string, unknown> {
  const zodSchema = io === 'input' ? tool.inputSchema : tool.outputSchema;
  let s = CACHE[io].get(zodSchema);
  if (!s) {
    s = builtSchemas()?.[tool.name]?.[io] ?? convertSchema(zodSchema, io);
    CACHE[io].set(zodSchema, s);
  }
  return s;
}
