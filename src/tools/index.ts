/**
 * The tools: one definition per MCP tool (schemas, annotations, handler), and the pieces the plain
 * HTTP routes share with them. This file is the module's complete public surface; other modules
 * import only from here. Tools reach the process only through the ports they declare
 * (./ports.ts, implemented by src/server), and loading this module loads neither undici, ssh2 nor
 * the sandbox (test/structure/imports.test.ts checks the built file).
 */
import { apiRequestTool } from './api-request.js';
import { discoverTool } from './discover.js';
import { execTool } from './exec.js';
import { fileReadTool, fileWriteTool } from './files.js';
import { memoryFileTool } from './memory-file.js';
import { memoryTools } from './memory.js';
import { orgSkillTools } from './org-skills.js';
import { wikiTools } from './wiki.js';
import { sshExecTool } from './ssh-exec.js';
import {
  sshSessionCloseTool,
  sshSessionHandoffTool,
  sshSessionOpenTool,
  sshSessionReadTool,
  sshSessionSendTool,
  sshSessionSignalTool,
} from './ssh-sessions.js';
import type { ToolDefinition } from './types.js';
import { vaultSearchTool } from './vault-search.js';
import { requestAccessTool } from './access.js';
import { webhookTools } from './webhooks.js';

export {
  defineTool,
  type InputRole,
  type InputRoles,
  type ToolDefinition,
  type ToolContext,
  type ToolAnnotationsSpec,
} from './types.js';
export type {
  FillDestination,
  GatePort,
  HandlesPort,
  KnowledgePort,
  SkillsPort,
  WikiPort,
  SandboxPort,
  ShellUse,
  SshPort,
  TargetsPort,
  TrafficPort,
  WebhooksPort,
  ToolPorts,
} from './ports.js';
export { CallScrub } from './call-scrub.js';
export { fillText, type FillContext } from './common.js';
export {
  afterSend,
  beforeSend,
  fillsBodyHandles,
  dropForgedHeaders,
  httpTarget,
  targetCallAudit,
  FORGED_APPROVAL_HEADER,
  type HttpTargetUse,
  type OutgoingBody,
  type TrafficCheck,
  type TrafficCounts,
} from './http-target.js';
export { sshTarget } from './ssh-target.js';
export { runSshExec, sshExecInput, sshExecOutput, type RunContext } from './ssh-exec.js';
export { LOCAL_TARGET } from './exec.js';
export { memoryScopeLabel, memoryScopes, type MemoryScopeLabel } from './memory-scopes.js';
export { readableNamespaces } from './wiki.js';
export { ackWebhooks, pollWebhooks, webhookAckInput, webhookPollInput, type WebhookCall } from './webhooks.js';

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
    sshSessionHandoffTool,
    fileReadTool,
    fileWriteTool,
    execTool,
    ...memoryTools,
    memoryFileTool,
    ...orgSkillTools,
    ...wikiTools,
    ...webhookTools,
    requestAccessTool,
  ];
}
