import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totpCode, type ApprovalService } from '../../src/approvals/index.js';
import { bootRuntime } from '../../src/server/boot.js';
import type { Runtime } from '../../src/server/runtime.js';
import { assertBuilt, cli, type CliResult } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { DIGEST_A, rejection, sampleRequest } from './helpers.js';

const T = { tokenId: 'tok_agent1' };

const COMMANDS = fileURLToPath(new URL('../../dist/src/cli/commands/', import.meta.url));
// Where each subcommand lives in the build, for when main.js does not register it yet.
const MODULES: Record<string, [string, string]> = {
  approvals: ['approvals.js', 'run'],
  approve: ['approve.js', 'run'],
  deny: existsSync(COMMANDS + 'deny.js') ? ['deny.js', 'run'] : ['approve.js', 'runDeny'],
  approver: ['approver.js', 'run'],
};
const RUNNER = `
const [file, name, ...args] = process.argv.slice(1);
const m = await import(file);
try {
  process.exitCode = await m[name](args, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
} catch (e) {
  process.stderr.write('error [' + e.code + ']: ' + e.message + '\\n' + (e.hint ? 'hint: ' + e.hint + '\\n' : ''));
  process.exitCode = e.code === 'usage' ? 2 : 1;
}`;

/**
 * Runs a subcommand of the BUILT CLI in its own process: through `gatehouse` (main.js) once the
 * command is registered there, otherwise by loading the built command module directly.
 */
const registered = new Map<string, boolean>();
function gh(args: string[], env: NodeJS.ProcessEnv): CliResult {
  const cmd = args[0];
  if (!registered.has(cmd)) {
    const probe = cli([cmd, '--help'], env);
    registered.set(cmd, !/unknown command/.test(probe.stderr));
    if (!registered.get(cmd)) console.warn(`[approvals cli test] \`gatehouse ${cmd}\` is not registered in src/cli/main.ts yet; running the built module directly`);
  }
  if (registered.get(cmd)) return cli(args, env);
  const [file, fn] = MODULES[cmd];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER, COMMANDS + file, fn, ...args.slice(1)], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface AuditRow {
  phase: string;
  tool: string | null;
  outcome: string | null;
  token_id: string | null;
  approver: string | null;
  detail: string | null;
}

describe('approvals CLI (built, separate processes)', () => {
  const home = tempHome();
  let rt: Runtime;
  let service: ApprovalService;

  beforeAll(async () => {
    assertBuilt();
    // This process plays the gateway that asked (its service built exactly as `serve` builds it);
    // the CLI processes are the person deciding.
    const booted = await bootRuntime({ env: home.env });
    rt = booted;
    service = booted.approvals;
  });
  afterAll(async () => {
    await rt?.close();
    home.cleanup();
  });

  /** The audit records of one approval (oldest first), optionally of one event kind. */
  async function auditOf(id: string, tool?: string): Promise<AuditRow[]> {
    const rows = (await rt.store.db.selectFrom('audit_log').selectAll().orderBy('seq').execute()) as AuditRow[];
    return rows.filter((r) => (r.detail ?? '').includes(id) && (tool === undefined || r.tool === tool));
  }

  /** What a record looks like with the values that differ between two decisions taken out. */
  function shape(r: AuditRow): Record<string, unknown> {
    return {
      phase: r.phase,
      tool: r.tool,
      outcome: r.outcome,
      tokenId: r.token_id,
      approver: r.approver?.replace(/^(cli|api):.+$/, '$1:WHO'),
      detail: Object.keys(JSON.parse(r.detail ?? '{}') as object).sort(),
    };
  }

  it("the CLI's decision is audited with the same event shape as the server's (one ApprovalService per process)", async () => {
    const { id: viaCli } = await service.request(sampleRequest());
    const { id: viaServer } = await service.request(sampleRequest());
    expect(gh(['approve', viaCli, '--note', 'n'], home.env).code).toBe(0);
    // The server's door for the same decision: the service `serve` mounts the admin API on.
    await service.decide(viaServer, 'approved', { by: 'api:ops-admin', channel: 'api', note: 'n', notTokenId: 'tok_admin' });
    const cliRecords = await auditOf(viaCli);
    const serverRecords = await auditOf(viaServer);
    expect(cliRecords.map(shape)).toEqual(serverRecords.map(shape).map((r) => ({ ...r, approver: r.approver === 'api:WHO' ? 'cli:WHO' : r.approver })));
    expect(cliRecords.map((r) => `${r.tool}:${r.outcome}`)).toEqual(['approval.request:pending', 'approval.decide:approved']);

    // a refused decision is audited the same way too
    expect(gh(['deny', viaCli], home.env).code).toBe(1);
    await service.decide(viaServer, 'denied', { by: 'api:ops-admin', channel: 'api' }).catch(() => undefined);
    const refusedCli = (await auditOf(viaCli, 'approval.decide')).at(-1)!;
    const refusedServer = (await auditOf(viaServer, 'approval.decide')).at(-1)!;
    expect(refusedCli.outcome).toBe('refused:already_decided');
    expect(shape(refusedCli)).toEqual({ ...shape(refusedServer), approver: 'cli:WHO', detail: shape(refusedCli).detail });
  });

  it('approvals list shows what a person must see; --json gives the records', async () => {
    const empty = gh(['approvals', 'list'], home.env);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('(no pending approvals)');

    const { id } = await service.request(sampleRequest());
    const l = gh(['approvals', 'list'], home.env);
    expect(l.code).toBe(0);
    expect(l.stdout).toContain(`Approval ${id} (pending)`);
    expect(l.stdout).toContain('Command:  rm -rf /var/tmp/cache');
    expect(l.stdout).toContain('Target:   prod-db');
    expect(l.stdout).toContain('Token:    agent-1 (tok_agent1)');
    expect(l.stdout).toContain('Rule:     fs.rm-recursive: recursive delete');
    expect(l.stdout).toMatch(/Expires: {2}\S+ \(in 10 min; no decision means deny\)/);

    const j = gh(['approvals', 'list', '--json'], home.env);
    const list = JSON.parse(j.stdout) as { id: string; status: string; description: string }[];
    expect(list.find((a) => a.id === id)).toMatchObject({ status: 'pending', description: expect.stringContaining(id) });
    expect(gh(['approvals', 'list', 'extra'], home.env).code).toBe(2);
  });

  it('approve ID --note from another process lets the action run once, and is audited', async () => {
    const { id } = await service.request(sampleRequest());
    const r = gh(['approve', id, '--note', 'cache only'], home.env);
    expect(r.stderr + r.stdout).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`approved ${id}`);
    expect(r.stderr).toContain('Command:  rm -rf /var/tmp/cache');
    const a = (await service.get(id))!;
    expect(a).toMatchObject({ status: 'approved', channel: 'cli', note: 'cache only' });
    expect(await service.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A })).toMatchObject({ channel: 'cli', approver: a.decidedBy });
    expect((await rejection(service.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }))).details).toMatchObject({ reason: 'used' });

    const decided = await auditOf(id, 'approval.decide');
    expect(decided).toMatchObject([{ outcome: 'approved', token_id: 'tok_agent1', approver: `cli:${a.decidedBy}` }]);
    expect(JSON.parse(decided[0].detail!)).toMatchObject({ approval: id, channel: 'cli', note: 'cache only' });

    const all = gh(['approvals', 'list', '--all'], home.env);
    expect(all.stdout).toContain(`Approval ${id} (used)`);
  });

  it('deny ID makes the retry fail and can never be approved', async () => {
    const { id } = await service.request(sampleRequest());
    const d = gh(['deny', id, '--note', 'not on prod'], home.env);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`denied ${id}`);
    const c = await rejection(service.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }));
    expect(c).toMatchObject({ code: 'approval_invalid', details: { reason: 'denied' } });
    const again = gh(['approve', id], home.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('[conflict]');
    expect((await service.get(id))!.status).toBe('denied');
  });

  it('approve of an unknown id or with no id fails clearly', async () => {
    const u = gh(['approve', `ap_${'z'.repeat(26)}`], home.env);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('[not_found]');
    expect(gh(['approve'], home.env).code).toBe(2);
    expect(gh(['deny', 'a', 'b'], home.env).code).toBe(2);
  });

  it('approver add prints the otpauth URI once; its codes verify once; list and rm', async () => {
    const add = gh(['approver', 'add', 'alice'], home.env);
    expect(add.code).toBe(0);
    const uri = add.stdout.trim();
    expect(uri).toMatch(/^otpauth:\/\/totp\/Gatehouse:alice\?secret=[A-Z2-7]{32}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30$/);
    expect(add.stderr).toMatch(/never shown again/);
    const secret = new URL(uri).searchParams.get('secret')!;
    // enrolment is audited by the service's own event, with the operator who ran it
    const enrolled = ((await rt.store.db.selectFrom('audit_log').selectAll().where('tool', '=', 'approval.approver').execute()) as AuditRow[]).filter((r) => r.outcome === 'enrolled');
    expect(enrolled).toHaveLength(1);
    expect(enrolled[0].approver).toMatch(/^cli:.+/);
    expect(enrolled[0].approver).not.toBe('cli:alice');

    const list = gh(['approver', 'list', '--json'], home.env);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'alice', locked: false })]);
    expect(list.stdout).not.toContain(secret);
    const human = gh(['approver', 'list'], home.env);
    expect(human.stdout).toMatch(/^NAME\s+CREATED\s+LAST_USED\s+LOCKED/);
    expect(gh(['approver', 'add', 'alice'], home.env).code).toBe(1);

    const code = totpCode(base32Decode(secret), Date.now());
    expect(await service.verifyTotp(code, T)).toBe('alice');
    expect((await rejection(service.verifyTotp(code, T))).details).toMatchObject({ reason: 'reused' });

    expect(gh(['approver', 'rm', 'alice'], home.env).code).toBe(0);
    expect(JSON.parse(gh(['approver', 'list', '--json'], home.env).stdout)).toEqual([]);
    expect(gh(['approver', 'rm', 'alice'], home.env).code).toBe(1);
  });

  it('approvals list shows a row changed in SQL as tampered, loudly; approve refuses it', async () => {
    const { id } = await service.request(sampleRequest());
    await rt.store.db.updateTable('approvals').set({ summary: 'harmless, honest' }).where('id', '=', id).execute();
    const l = gh(['approvals', 'list'], home.env);
    expect(l.code).toBe(0);
    expect(l.stdout).toContain(`Approval ${id} (tampered)`);
    expect(l.stderr).toMatch(/WARNING: 1 approval record\(s\) failed the integrity check/);
    const a = gh(['approve', id], home.env);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('[approval_invalid]');
    expect(a.stderr).toContain('integrity check');
    expect((await auditOf(id, 'approval.decide')).map((r) => r.outcome)).toEqual(['refused:tampered']);
    // leave nothing pending for the tests after this one
    await rt.store.db.deleteFrom('approvals').where('id', '=', id).execute();
  });
});
