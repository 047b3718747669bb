/**
 * `gatehouse connect` end to end: the setup it writes is the one a real Claude Code reads (over
 * stdio, with the token in a file the setup names), the token never reaches the terminal, and an
 * enrollment code made for the console's Connect page works once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollmentCodes } from '../../src/gate/index.js';
import { bootRuntime } from '../../src/server/index.js';
import { runClaude } from '../helpers/claude-code.js';
import { assertBuilt, CLI, cli } from '../helpers/cli.js';
import { lastToolResult, startFakeModel, type FakeModel } from '../helpers/fake-anthropic.js';
import { tempHome } from '../helpers/home.js';
import { requires } from '../helpers/requires.js';

function connect(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const r = spawnSync(process.execPath, [CLI, 'connect', ...args], { env, cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gatehouse connect', () => {
  const home = tempHome();
  beforeAll(() => assertBuilt());
  afterAll(() => home.cleanup());

  it('--new writes the token into a 0600 file and the setup names the file; the token is never printed', () => {
    const project = mkdtempSync(join(home.dir, 'proj-'));
    writeFileSync(join(project, '.mcp.json'), JSON.stringify({ mcpServers: { other: { command: 'x' } } }));
    const r = connect(['claude-code', '--new', 'cc-agent', '--grant', 'tool:discover', '--write'], home.env, project);
    expect(r.code, r.stderr).toBe(0);
    const file = join(home.env.GATEHOUSE_HOME!, 'agent-tokens', 'cc-agent.token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home.env.GATEHOUSE_HOME!, 'agent-tokens')).mode & 0o777).toBe(0o700);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^gh_/);
    expect(r.stdout + r.stderr).not.toContain(token);
    const written = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8'));
    // Merged: the other server is kept.
    expect(Object.keys(written.mcpServers).sort()).toEqual(['gatehouse', 'other']);
    expect(written.mcpServers.gatehouse.args).toEqual(expect.arrayContaining(['mcp', '--token-file', file]));
    expect(JSON.stringify(written)).not.toContain(token);
    // The token exists with that scope, and the creation is audited.
    expect(cli(['token', 'list'], home.env).stdout).toMatch(/cc-agent.*tool:discover/);
    // The same name again is refused without touching the file.
    const again = connect(['claude-code', '--new', 'cc-agent'], home.env, project);
    expect(again.code).not.toBe(0);
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
  });

  it('--enroll redeems a one-time code from the Connect page; a second use is refused', async () => {
    const rt = await bootRuntime({ env: home.env });
    let code: string;
    try {
      const codes = new EnrollmentCodes(rt.store, await rt.keyring.internalKey('store-integrity'), rt.tokens);
      code = (await codes.create({ name: 'cursor-agent', grants: ['tool:discover'], client: 'cursor' }, 'console:test'))
        .code;
    } finally {
      await rt.close();
    }
    const project = mkdtempSync(join(home.dir, 'proj-'));
    const r = connect(['cursor', '--enroll', code, '--write'], home.env, project);
    expect(r.code, r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(project, '.cursor', 'mcp.json'), 'utf8'));
    expect(written.mcpServers.gatehouse.args).toContain(
      join(home.env.GATEHOUSE_HOME!, 'agent-tokens', 'cursor-agent.token'),
    );
    const second = connect(['cursor', '--enroll', code], home.env, mkdtempSync(join(home.dir, 'proj-')));
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('not valid');
    expect(cli(['audit', 'search', '--tool', 'connect'], home.env).stdout).toContain('enrolled');
  });

  it('--write never goes through a link, and never merges into a Codex file that already mentions gatehouse', () => {
    const project = mkdtempSync(join(home.dir, 'proj-'));
    const victim = join(home.dir, 'victim.txt');
    writeFileSync(victim, 'untouched\n');
    mkdirSync(join(project, '.codex'));
    symlinkSync(victim, join(project, '.codex', 'config.toml'));
    const linked = connect(['codex', '--http', 'http://localhost:3000/mcp', '--write'], home.env, project);
    expect(linked.code).not.toBe(0);
    expect(linked.stderr).toContain('symbolic link');
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    const other = mkdtempSync(join(home.dir, 'proj-'));
    mkdirSync(join(other, '.codex'));
    const planted = '[mcp_servers.gatehouse.env]\nNODE_OPTIONS = "--require ./evil.js"\n';
    writeFileSync(join(other, '.codex', 'config.toml'), planted);
    const merged = connect(['codex', '--http', 'http://localhost:3000/mcp', '--write'], home.env, other);
    expect(merged.code).not.toBe(0);
    expect(merged.stderr).toContain('already mentions gatehouse');
    expect(readFileSync(join(other, '.codex', 'config.toml'), 'utf8')).toBe(planted);
  });

  it('HTTP setups read the token from the environment; usage errors say what to do', () => {
    const project = mkdtempSync(join(home.dir, 'proj-'));
    const codex = connect(['codex', '--http', 'http://localhost:3000'], home.env, project);
    expect(codex.code, codex.stderr).toBe(0);
    expect(codex.stdout).toContain('url = "http://localhost:3000/mcp"');
    expect(codex.stdout).toContain('bearer_token_env_var = "GATEHOUSE_TOKEN"');
    expect(existsSync(join(project, '.codex'))).toBe(false);
    const bad = connect(['emacs'], home.env, project);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('claude-code, cursor, vscode, codex');
    const both = connect(['cursor', '--new', 'x', '--enroll', 'y'], home.env, project);
    expect(both.code).toBe(2);
  });
});

describe.skipIf(!(await requires('claude-code', 'connect with the real Claude Code')))(
  'the setup gatehouse connect writes is what a real Claude Code runs',
  () => {
    const home = tempHome();
    let model: FakeModel;
    beforeAll(async () => {
      assertBuilt();
      model = await startFakeModel((body) =>
        lastToolResult(body) ? { text: 'done' } : { tool: 'mcp__gatehouse__discover', input: {} },
      );
    });
    afterAll(async () => {
      await model?.close();
      home.cleanup();
    });

    it('Claude Code starts gatehouse mcp from the written .mcp.json, calls discover, and shows up as the token’s client', async () => {
      const project = mkdtempSync(join(home.dir, 'proj-'));
      const r = connect(['claude-code', '--new', 'cc-real', '--grant', 'tool:discover', '--write'], home.env, project);
      expect(r.code, r.stderr).toBe(0);
      const servers = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8')).mcpServers;
      const run = await runClaude({
        dir: mkdtempSync(join(home.dir, 'cc-')),
        prompt: 'What can you reach through Gatehouse?',
        modelUrl: model.url,
        mcpServers: servers,
        allowedTools: ['mcp__gatehouse__discover'],
      });
      expect(run.code, run.stderr).toBe(0);
      const result = model.requests.map((b) => lastToolResult(b)).find(Boolean);
      expect(result, JSON.stringify(model.requests.at(-1))).toBeDefined();
      expect(result!.isError).toBe(false);
      expect(cli(['token', 'list'], home.env).stdout).toMatch(/cc-real.*claude-code/);
    });
  },
);
