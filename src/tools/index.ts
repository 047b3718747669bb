import { apiRequestTool } from './api-request.js';
import { discoverTool } from './discover.js';
import { execTool } from './exec.js';
import { fileReadTool, fileWriteTool } from './files.js';
import { sshExecTool } from './ssh-exec.js';
import { sshSessionCloseTool, sshSessionOpenTool, sshSessionReadTool, sshSessionSendTool, sshSessionSignalTool } from './ssh-sessions.js';
import type { ToolDefinition } from './types.js';
import { vaultSearchTool } from './vault-search.js';

export { defineTool, type ToolDefinition, type ToolContext, type ToolAnnotationsSpec } from './types.js';
export { runSshExec, sshExecInput } from './ssh-exec.js';
export { LOCAL_TARGET } from './exec.js';

/** Every tool Gatehouse serves, in listing order (tools/list order is deterministic). */
export function allTools(): ToolDefinition[] {
  return [
    discoverTool,
    vaultSearchTool,
    apiRequestTool,
    sshExecTool,
    sshSessionOpenTool,
    sshSessionSendTool,
    sshSessionReadTool,
    sshSessionSignalTool,
    sshSessionCloseTool,
    fileReadTool,
    fileWriteTool,
    execTool,
  ] as unknown as ToolDefinition[];
}
