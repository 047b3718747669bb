import { discoverTool } from './discover.js';
import type { ToolDefinition } from './types.js';

export { defineTool, type ToolDefinition, type ToolContext, type ToolAnnotationsSpec } from './types.js';

/** Every tool Gatehouse serves, in listing order. */
export function allTools(): ToolDefinition[] {
  return [discoverTool as unknown as ToolDefinition];
}
