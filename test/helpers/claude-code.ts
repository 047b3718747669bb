/**
 * The real Claude Code CLI, for the end-to-end tests that drive Gatehouse through it. `.ci/run`
 * installs a pinned release (a native binary from the npm registry) and points
 * GATEHOUSE_CLAUDE_CODE at it; on a laptop, set it to any `claude` binary.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The release `.ci/run` installs (keep the two in step). */
export const CLAUDE_CODE_VERSION = '2.1.332';

export function claudeCodeBinary(): string | undefined {
  const given = process.env.GATEHOUSE_CLAUDE_CODE;
  if (given) return existsSync(given) ? given : undefined;
  const cached = join(
    process.env.GATEHOUSE_CI_CACHE ?? join(homedir(), '.cache', 'gatehouse-ci'),
    `claude-code-${CLAUDE_CODE_VERSION}`,
    'node_modules',
    '.bin',
    'claude',
  );
  return existsSync(cached) ? cached : undefined;
}

export function claudeCodeMissing(): string | null {
  return claudeCodeBinary()
    ? null
    : `Claude Code is not installed (set GATEHOUSE_CLAUDE_CODE, or run .ci/run, which installs @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION})`;
}

export interface ClaudeRun {
  code: number | null;
  /** The `--output-format json` result. */
  result: { result?: string; is_error?: boolean } | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs `claude -p PROMPT` in print mode in a throwaway home, against `modelUrl` (a fake model) and
 * the MCP servers in `mcpServers`, with `allowedTools` pre-approved (Claude Code's own permission
 * prompt is not what is tested) and optional settings (hooks).
 */
export async function runClaude(opts: {
  dir: string;
  prompt: string;
  modelUrl: string;
  mcpServers: Record<string, unknown>;
  allowedTools: string[];
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
}): Promise<ClaudeRun> {
  const bin = claudeCodeBinary();
  if (!bin) throw new Error(claudeCodeMissing() ?? 'no claude');
  const home = join(opts.dir, 'home');
  const work = join(opts.dir, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(work, { recursive: true });
  const mcp = join(opts.dir, 'mcp.json');
  writeFileSync(mcp, JSON.stringify({ mcpServers: opts.mcpServers }));
  const args = ['-p', opts.prompt, '--mcp-config', mcp, '--strict-mcp-config', '--output-format', 'json'];
  args.push('--allowedTools', opts.allowedTools.join(','));
  if (opts.settings) {
    const file = join(opts.dir, 'settings.json');
    writeFileSync(file, JSON.stringify(opts.settings));
    args.push('--settings', file);
  }
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: opts.modelUrl,
    ANTHROPIC_API_KEY: 'sk-ant-fake-for-tests',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // MCP tools are otherwise held back behind a tool-search tool the scripted model does not use.
    ENABLE_TOOL_SEARCH: 'false',
    MCP_CONNECTION_NONBLOCKING: 'false',
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let result: ClaudeRun['result'];
      try {
        result = JSON.parse(stdout) as ClaudeRun['result'];
      } catch {
        result = undefined;
      }
      resolve({ code, result, stdout, stderr });
    });
  });
}
