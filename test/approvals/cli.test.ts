import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totpCode, type ApprovalService } from '../../src/approvals/index.js';
import { bootRuntime } from '../../src/server/boot.js';
import type { Runtime } from '../../src/server/runtime.js';
import { assertBuilt, cli, type CliResult } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { DIGEST_A, rejection, sampleRequest } from './helpers.js';

const T = { tokenId: 'tok_agent1' };

/**
 * Runs a subcommand of the BUILT CLI through `gatehouse` (main.js) in its own process, exactly as
 * a person runs it: a command that src/cli/main.ts does not register fails here.
 */
function gh(args: string[], env: NodeJS.ProcessEnv): CliResult {
  return cli(args, env);
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

  it('approvals, approve, deny and approver are commands of `gatehouse` (registered in src/cli/main.ts)', () => {
    const help = gh(['help'], home.env);
    for (const cmd of ['approvals', 'approve', 'deny', 'approver']) {
      expect(help.stdout, cmd).toMatch(new RegExp(`^  ${cmd} `, 'm'));
      const r = gh([cmd, '--help'], home.env);
      expect(r.stderr, cmd).not.toMatch(/unknown command/);
    }
  });

  it("the CLI's decision is audited with the same event shape as the server's (one ApprovalService per process)", async () => {
    const { id: viaCli } = await service.request(sampleRequest());
    const { id: viaServer } = await service.request(sampleRequest());
    expect(gh(['approve', viaCli, '--note', 'n'], home.env).code).toBe(0);
    // The server's door for the same decision: the service `serve` mounts the admin API on.
    await service.decide(viaServer, 'approved', {
      by: 'api:ops-admin',
      channel: 'api',
      note: 'n',
      notTokenId: 'tok_admin',
    });
    const cliRecords = await auditOf(viaCli);
    const serverRecords = await auditOf(viaServer);
    expect(cliRecords.map(shape)).toEqual(
      serverRecords.map(shape).map((r) => ({ ...r, approver: r.approver === 'api:WHO' ? 'cli:WHO' : r.approver })),
    );
    expect(cliRecords.map((r) => `${r.tool}:${r.outcome}`)).toEqual([
      'approval.request:pending',
      'approval.decide:approved',
    ]);

    // a refused decision is audited the same way too
    expect(gh(['deny', viaCli], home.env).code).toBe(1);
    await service.decide(viaServer, 'denied', { by: 'api:ops-admin', channel: 'api' }).catch(() => undefined);
    const refusedCli = (await auditOf(viaCli, 'approval.decide')).at(-1)!;
    const refusedServer = (await auditOf(viaServer, 'approval.decide')).at(-1)!;
    expect(refusedCli.outcome).toBe('refused:already_decided');
    expect(shape(refusedCli)).toEqual({
      ...shape(refusedServer),
      approver: 'cli:WHO',
      detail: shape(refusedCli).detail,
    });
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

    expect(l.stderr).toMatch(/1 waiting in all, by token: agent-1 \(tok_agent1\): 1\./);

    const j = gh(['approvals', 'list', '--json'], home.env);
    const page = JSON.parse(j.stdout) as {
      approvals: { id: string; status: string; description: string }[];
      total: number;
      truncated: boolean;
    };
    expect(page.approvals.find((a) => a.id === id)).toMatchObject({
      status: 'pending',
      description: expect.stringContaining(id),
    });
    expect(page).toMatchObject({ total: 1, truncated: false });
    expect(gh(['approvals', 'list', 'extra'], home.env).code).toBe(2);
    expect(gh(['approvals', 'list', '--limit', '0'], home.env).code).toBe(2);
    await service.decide(id, 'denied', { by: 'test', channel: 'cli' });
  });

  it("issue 24: under one token's flood the list says it is cut, counts every token, pages to the rest", async () => {
    const noisy = [];
    for (let i = 0; i < 6; i++)
      noisy.push(
        (
          await service.request(
            sampleRequest({ tokenId: 'tok_noisy', tokenName: 'noisy', digest: `${i}`.padStart(64, 'e') }),
          )
        ).id,
      );
    const quiet = await service.request(
      sampleRequest({ tokenId: 'tok_quiet', tokenName: 'quiet', digest: 'f'.repeat(64) }),
    );
    try {
      const l = gh(['approvals', 'list', '--limit', '3'], home.env);
      expect(l.code).toBe(0);
      expect(l.stderr).toContain('7 waiting in all, by token: noisy (tok_noisy): 6, quiet (tok_quiet): 1.');
      expect(l.stderr).toMatch(/This page shows 3 of 7\. Next page: `gatehouse approvals list --cursor '[^']+'`/);
      // Following the cursors reaches every waiting approval once, the quiet token's included.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = JSON.parse(
          gh(['approvals', 'list', '--json', '--limit', '3', ...(cursor ? ['--cursor', cursor] : [])], home.env).stdout,
        ) as { approvals: { id: string }[]; nextCursor?: string };
        seen.push(...page.approvals.map((a) => a.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(seen)).toEqual(new Set([...noisy, quiet.id]));
      const mine = gh(['approvals', 'list', '--token', 'tok_quiet'], home.env);
      expect(mine.stdout).toContain(`Approval ${quiet.id} (pending)`);
      expect(mine.stdout).not.toContain(noisy[0]);
      expect(gh(['approvals', 'list', '--cursor', 'nonsense'], home.env).code).not.toBe(0);
    } finally {
      for (const id of [...noisy, quiet.id]) await service.decide(id, 'denied', { by: 'test', channel: 'cli' });
    }
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
    expect(await service.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A })).toMatchObject({
      channel: 'cli',
      approver: a.decidedBy,
    });
    expect((await rejection(service.consume(id, { tokenId: 'tok_agent1', digest: DIGEST_A }))).details).toMatchObject({
      reason: 'used',
    });

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
    expect(uri).toMatch(
      /^otpauth:\/\/totp\/Gatehouse:alice\?secret=[A-Z2-7]{32}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30$/,
    );
    expect(add.stderr).toMatch(/never shown again/);
    const secret = new URL(uri).searchParams.get('secret')!;
    // enrolment is audited by the service's own event, with the operator who ran it
    const enrolled = (
      (await rt.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('tool', '=', 'approval.approver')
        .execute()) as AuditRow[]
    ).filter((r) => r.outcome === 'enrolled');
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
