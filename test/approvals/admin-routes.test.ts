import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  adminRoutes,
  createApprovalService,
  type ApprovalEvent,
  type ApprovalService,
} from '../../src/approvals/index.js';
import { adminHttpRoutes, bootRuntime, startHttpServer, type Runtime } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { DIGEST_A, sampleRequest } from './helpers.js';

// The real `gatehouse serve` HTTP server (bearer auth, admin check, routing) on 127.0.0.1, with
// the approval routes mounted the way the lead mounts them.
describe('admin HTTP API for approvals', () => {
  const home = tempHome();
  let rt: Runtime;
  let service: ApprovalService;
  let srv: { url: string; close(): Promise<void> };
  let admin: string;
  let adminTokenId: string;
  let agent: string;
  let agentAdmin: string;
  let agentAdminId: string;
  const events: ApprovalEvent[] = [];

  beforeAll(async () => {
    rt = await bootRuntime({ env: home.env });
    service = await createApprovalService({ store: rt.store, keys: rt.keyring, onEvent: (e) => void events.push(e) });
    const a = await rt.tokens.create({ name: 'ops-admin', admin: true });
    admin = a.token;
    adminTokenId = a.info.id;
    agent = (await rt.tokens.create({ name: 'agent-plain', grants: ['tool:*'] })).token;
    const aa = await rt.tokens.create({ name: 'agent-admin', admin: true });
    agentAdmin = aa.token;
    agentAdminId = aa.info.id;
    srv = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: adminHttpRoutes(adminRoutes(service)) });
  });
  afterAll(async () => {
    await srv?.close();
    await rt?.close();
    home.cleanup();
  });

  async function call(method: string, path: string, token: string | undefined, body?: unknown) {
    const r = await request(srv.url + path, {
      method: method as 'GET' | 'POST',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.body.text();
    return { status: r.statusCode, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
  }

  it('issue 24: a page counts every token and says when it is cut; cursors and ?token= reach a buried approval', async () => {
    const noisy: string[] = [];
    for (let i = 0; i < 5; i++)
      noisy.push(
        (
          await service.request(
            sampleRequest({ tokenId: 'tok_noisy', tokenName: 'noisy', digest: `${i}`.padStart(64, 'c') }),
          )
        ).id,
      );
    const quiet = await service.request(
      sampleRequest({ tokenId: 'tok_quiet', tokenName: 'quiet', digest: 'd'.repeat(64) }),
    );
    try {
      const first = await call('GET', '/admin/approvals?limit=2', admin);
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ total: 6, truncated: true });
      expect(first.json.byToken).toEqual([
        { tokenId: 'tok_noisy', tokenName: 'noisy', count: 5 },
        { tokenId: 'tok_quiet', tokenName: 'quiet', count: 1 },
      ]);
      const seen: string[] = [];
      for (let page = first.json; ;) {
        seen.push(...page.approvals.map((a: { id: string }) => a.id));
        if (!page.nextCursor) break;
        page = (await call('GET', `/admin/approvals?limit=2&cursor=${encodeURIComponent(page.nextCursor)}`, admin))
          .json;
      }
      expect(new Set(seen)).toEqual(new Set([...noisy, quiet.id]));
      const mine = await call('GET', '/admin/approvals?token=tok_quiet', admin);
      expect(mine.json.approvals.map((a: { id: string }) => a.id)).toEqual([quiet.id]);
      expect((await call('GET', '/admin/approvals?limit=0', admin)).status).toBe(400);
      expect((await call('GET', '/admin/approvals?cursor=nope', admin)).status).toBe(400);
    } finally {
      for (const id of [...noisy, quiet.id]) await service.decide(id, 'denied', { by: 'test', channel: 'cli' });
    }
  });

  it('lists pending approvals with the human description, and approves with a note as api:<token name>', async () => {
    const { id } = await service.request(sampleRequest({ tokenId: 'tok_x' }));
    const l = await call('GET', '/admin/approvals', admin);
    expect(l.status).toBe(200);
    const item = l.json.approvals.find((x: { id: string }) => x.id === id);
    expect(item).toMatchObject({ id, status: 'pending', tool: 'ssh_exec', target: 'prod-db', rule: 'fs.rm-recursive' });
    expect(item.description).toContain('Command:  rm -rf /var/tmp/cache');

    const r = await call('POST', `/admin/approvals/${id}/approve`, admin, { note: 'cache only' });
    expect(r.status).toBe(200);
    expect(r.json.approval).toMatchObject({
      id,
      status: 'approved',
      decidedBy: 'api:ops-admin',
      channel: 'api',
      note: 'cache only',
    });
    expect(events.find((e) => e.kind === 'decide' && e.approvalId === id)).toMatchObject({
      by: 'api:ops-admin',
      channel: 'api',
      note: 'cache only',
      outcome: 'approved',
    });
    expect(await service.consume(id, { tokenId: 'tok_x', digest: DIGEST_A })).toEqual({
      approver: 'api:ops-admin',
      channel: 'api',
    });

    // status filter
    const used = await call('GET', '/admin/approvals?status=used', admin);
    expect(used.json.approvals.map((x: { id: string }) => x.id)).toContain(id);
    expect((await call('GET', '/admin/approvals?status=bogus', admin)).status).toBe(400);
  });

  it('denies (no body needed); a denied approval cannot then be approved', async () => {
    const { id } = await service.request(sampleRequest({ tokenId: 'tok_x' }));
    expect((await call('POST', `/admin/approvals/${id}/deny`, admin)).json.approval).toMatchObject({
      status: 'denied',
      decidedBy: 'api:ops-admin',
    });
    const again = await call('POST', `/admin/approvals/${id}/approve`, admin, {});
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('conflict');
  });

  it("refuses non-admin and missing tokens, and the agent's own admin token on its own approval", async () => {
    const { id } = await service.request(sampleRequest({ tokenId: agentAdminId, tokenName: 'agent-admin' }));
    expect((await call('GET', '/admin/approvals', undefined)).status).toBe(401);
    expect((await call('GET', '/admin/approvals', agent)).status).toBe(403);
    expect((await call('POST', `/admin/approvals/${id}/approve`, agent, {})).status).toBe(403);
    const own = await call('POST', `/admin/approvals/${id}/approve`, agentAdmin, {});
    expect(own.status).toBe(403);
    expect(own.json.error.code).toBe('not_granted');
    expect((await service.get(id))!.status).toBe('pending');
    expect(adminTokenId).not.toBe(agentAdminId);
    expect((await call('POST', `/admin/approvals/${id}/approve`, admin, {})).status).toBe(200);
  });

  it('unknown ids, bad paths and bad bodies get clear errors', async () => {
    const unknown = await call('POST', `/admin/approvals/ap_${'a'.repeat(26)}/approve`, admin, {});
    expect(unknown.status).toBe(404);
    expect((await call('POST', '/admin/approvals/not-an-id/approve', admin, {})).status).toBe(404);
    expect((await call('POST', '/admin/approvals/whatever', admin, {})).status).toBe(404);
    expect((await call('GET', '/admin/approvalsX', admin)).status).toBe(404);
    const { id } = await service.request(sampleRequest({ tokenId: 'tok_x' }));
    expect((await call('POST', `/admin/approvals/${id}/approve`, admin, 'not json')).status).toBe(400);
    expect((await call('POST', `/admin/approvals/${id}/approve`, admin, { note: 5 })).status).toBe(400);
    expect((await call('POST', `/admin/approvals/${id}/approve`, admin, { note: 'x'.repeat(20_000) })).status).toBe(
      413,
    );
    expect((await service.get(id))!.status).toBe('pending');
  });

  it('a row a database writer approved in SQL is listed as tampered and cannot be approved through the API', async () => {
    const { id } = await service.request(sampleRequest({ tokenId: 'tok_x' }));
    await rt.store.db
      .updateTable('approvals')
      .set({ digest: 'b'.repeat(64) })
      .where('id', '=', id)
      .execute();
    const listed = (await call('GET', '/admin/approvals', admin)).json.approvals.find(
      (x: { id: string }) => x.id === id,
    );
    expect(listed).toMatchObject({ status: 'tampered', decidedBy: null });
    expect(
      (await call('GET', '/admin/approvals?status=tampered', admin)).json.approvals.map((x: { id: string }) => x.id),
    ).toEqual([id]);
    const r = await call('POST', `/admin/approvals/${id}/approve`, admin, {});
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'approval_invalid', details: { reason: 'tampered' } });
    expect(events.filter((e) => e.approvalId === id).map((e) => `${e.kind}:${e.outcome}`)).toEqual([
      'request:pending',
      'decide:refused:tampered',
    ]);
  });
});
