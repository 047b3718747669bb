/**
 * `gatehouse report` over a real runtime's audit log: actions decided by the real gate (allowed,
 * refused, redirected, needing a person), a DLP count and a limit in results, a target used for
 * the first time; summary and detailed, Markdown and JSON, by token and by session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, reportMarkdown } from '../../src/audit/index.js';
import { GatehouseError } from '../../src/core/index.js';
import type { Principal } from '../../src/gate/index.js';
import { bootRuntime, type Runtime } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { runCommand } from '../helpers/in-process.js';
import { run as reportCmd } from '../../src/cli/commands/report.js';

describe('audit reports', () => {
  const home = tempHome();
  let rt: Runtime;
  let p: Principal;
  let since: string;
  const verdict = (decision: 'allow' | 'approve') => ({
    decision,
    rule: `test.${decision}`,
    reason: 'test',
    matched: '',
  });
  const act = (decision: 'allow' | 'approve', summary: string, run: () => Promise<unknown> = async () => ({})) =>
    rt.gate
      .run(p, { tool: 'ssh_exec', target: 'box', summary, fixedVerdict: verdict(decision), client: 'test' }, run, {
        auditFields: (r: unknown) => ({ detail: (r as { detail?: Record<string, unknown> }).detail }),
      })
      .catch((e: unknown) => e);

  beforeAll(async () => {
    rt = await bootRuntime({ env: home.env });
    const made = await rt.tokens.create({ name: 'agent', grants: ['tool:*', 'target:*'], approvalMode: 'out-of-band' });
    p = await rt.tokens.authenticate(made.token);
    // Before the window: the token used `old` already.
    await rt.gate.run(
      p,
      { tool: 'ssh_exec', target: 'old', summary: 'uptime', fixedVerdict: verdict('allow') },
      async () => ({}),
    );
    await new Promise((r) => setTimeout(r, 20));
    since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await rt.gate.run(
      p,
      { tool: 'ssh_exec', target: 'old', summary: 'df -h', fixedVerdict: verdict('allow') },
      async () => ({}),
    );
    await act('allow', 'ls sess_ABCDEFGHIJKLMNOPQRSTUVWX', async () => ({
      detail: { dlp: { card: 2, 'vault-or-key': 1 } },
    }));
    // The real guard refuses this one.
    await rt.gate
      .run(
        p,
        {
          tool: 'ssh_exec',
          target: 'box',
          summary: 'rm -rf / `whoami`',
          guard: { kind: 'command', command: 'rm -rf / `whoami`', context: 'ssh' },
        },
        async () => ({}),
      )
      .catch((e: unknown) => e);
    await act('approve', 'sudo reboot');
    await act('allow', 'make', async () => {
      throw new GatehouseError('limit_exceeded', 'budget spent');
    });
  });
  afterAll(async () => {
    await rt?.close();
    home.cleanup();
  });

  it('counts decisions and lists findings, activity and first uses', async () => {
    const r = await buildReport(rt.store, { since, level: 'summary', tokenId: p.tokenId });
    expect(r.decisions).toEqual({ allowed: 3, approved: 0, refused: 1, redirected: 0, notApproved: 1 });
    expect(r.findings.refused.map((x) => x.action)).toEqual(['rm -rf / `whoami`']);
    expect(r.findings.notApproved[0]).toMatchObject({ action: 'sudo reboot', outcome: 'approval_required' });
    expect(r.findings.dlp).toEqual({ card: 2, 'vault-or-key': 1 });
    expect(r.findings.limits).toHaveLength(1);
    expect(r.findings.newHosts).toEqual(['box']);
    expect(r.activity.byTarget).toEqual({ old: 1, box: 4 });
    expect(r.timeline).toBeUndefined();
    const md = reportMarkdown(r, 'Report: token agent');
    expect(md).toContain('- refused: 1');
    expect(md).toContain("(fs.rm-root): `rm -rf / 'whoami'`");
    expect(md).toContain('- DLP: 2 × card kept from leaving');
    expect(md).toContain('- first use of target box');
  });

  it('detailed adds the timeline; a session narrows to its records', async () => {
    const r = await buildReport(rt.store, { since, level: 'detailed', tokenId: p.tokenId });
    expect(r.timeline?.map((t) => [t.decision, t.outcome])).toEqual([
      ['allow', 'ok'],
      ['allow', 'ok'],
      ['deny', 'refused'],
      ['approve', 'approval_required'],
      ['allow', 'limit_exceeded'],
    ]);
    const s = await buildReport(rt.store, { since, level: 'summary', session: 'sess_ABCDEFGHIJKLMNOPQRSTUVWX' });
    expect(s.decisions.allowed).toBe(1);
    expect(s.records).toBe(2);
  });

  it('gatehouse report prints Markdown or JSON, and refuses bad options', async () => {
    const call = (args: string[]) => runCommand(reportCmd, args, home.env);
    const md = await call(['--token', 'agent', '--since', '1h']);
    expect(md.code).toBe(0);
    expect(md.out).toContain('# Report: token agent');
    const json = await call(['--token', 'agent', '--level', 'detailed', '--format', 'json']);
    expect((JSON.parse(json.out) as { timeline: unknown[] }).timeline.length).toBeGreaterThan(4);
    await expect(call(['--level', 'everything'])).rejects.toMatchObject({ code: 'usage' });
    await expect(call(['--session', 'not-a-session'])).rejects.toMatchObject({ code: 'usage' });
  });
});
