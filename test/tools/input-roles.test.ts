/**
 * INVARIANT under test (ARCHITECTURE.md): every input a tool accepts is judged, bound into the
 * approval and audited, or declared irrelevant with a reason.
 *
 * Derived from the input schemas: for every tool and every field of its schema, the test sends two
 * calls that differ only in that field, through the real gate, with a guard that asks for approval
 * on everything and an approver that records what it was asked and refuses. A field that is judged,
 * bound or the target must change the approval digest (when the tool can be approved at all), what
 * the person is shown, and the attempt's audit record; a field declared irrelevant must change none
 * of them. A field with no declared role, or with no sample values here, fails the test: adding an
 * input means deciding what it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeForHuman, type ApprovalService } from '../../src/approvals/index.js';
import { searchAudit } from '../../src/audit/index.js';
import type { Action, ActionGuard, Principal } from '../../src/gate/index.js';
import type { GuardDecision } from '../../src/guard/index.js';
import { bootRuntime, createApprover, type Runtime } from '../../src/server/index.js';
import { allTools, CallScrub, type InputRole, type ToolContext, type ToolDefinition } from '../../src/tools/index.js';
import { tempHome } from '../helpers/home.js';

const APPROVE: GuardDecision = {
  decision: 'approve',
  rule: 'test.approve-everything',
  reason: 'the test asks for approval on every action',
  matched: '',
};
const everythingNeedsApproval: ActionGuard = {
  checkCommand: () => APPROVE,
  checkHttp: () => APPROVE,
  checkPath: () => APPROVE,
};

interface Asked {
  digest: string;
  action: Action;
  /** What the person is shown (without the lines that differ for every approval: id, expiry). */
  shown: string;
}

/** Base arguments per tool (the required fields) and two different values for every field. */
const BASE: Record<string, Record<string, unknown>> = {
  discover: {},
  vault_search: {},
  api_request: { target: 'api', method: 'POST', path: '/v1/things' },
  ssh_exec: { target: 'box', command: 'ls' },
  ssh_session_open: { target: 'box', reason: 'debugging' },
  ssh_session_send: { id: 'sess_aaaaaaaaaaaa', input: 'ls\n' },
  ssh_session_read: { id: 'sess_aaaaaaaaaaaa' },
  ssh_session_signal: { id: 'sess_aaaaaaaaaaaa', signal: 'INT' },
  ssh_session_close: { id: 'sess_aaaaaaaaaaaa' },
  ssh_session_handoff: { id: 'sess_aaaaaaaaaaaa', message: 'please type the sudo password' },
  file_read: { target: 'box', path: '/srv/a.txt' },
  file_write: { target: 'box', path: '/srv/a.txt', content: 'hello' },
  exec: { command: 'ls' },
  memory_list: {},
  memory_read: { path: 'notes/a.md' },
  memory_search: { query: 'deploy' },
  memory_add: { path: 'notes/a.md', content: 'hello' },
  memory_update: { path: 'notes/a.md', expected_version: 1 },
  memory_delete: { path: 'notes/a.md' },
  memory_history: { path: 'notes/a.md' },
  memory_revert: { path: 'notes/a.md', version: 1, expected_version: 2 },
  memory: { command: 'view', path: '/memories/token' },
  org_skill_list: {},
  org_skill_read: { name: 'deploy-web' },
  org_skill_upsert: { name: 'deploy-web' },
  org_skill_publish: { name: 'deploy-web', digest: 'a'.repeat(64) },
  org_skill_delete: { name: 'deploy-web', reason: 'obsolete' },
  org_skill_history: { name: 'deploy-web' },
  wiki_list_pages: {},
  wiki_read_page: { namespace: 'ops', slug: 'deploy' },
  wiki_upsert_page: { namespace: 'ops', slug: 'deploy', title: 'Deploy', body: 'make ship' },
  wiki_rename_page: { namespace: 'ops', slug: 'deploy', new_slug: 'deploying' },
  wiki_delete_page: { namespace: 'ops', slug: 'deploy', reason: 'obsolete' },
  wiki_search: { query: 'deploy' },
  wiki_history: { namespace: 'ops', slug: 'deploy' },
  wiki_revert: { namespace: 'ops', slug: 'deploy', version: 1, expected_version: 2 },
  wiki_backlinks: { namespace: 'ops', slug: 'deploy' },
  wiki_lint_page: { namespace: 'ops', slug: 'deploy' },
  wiki_lint: { namespace: 'ops' },
  request_access: {
    kind: 'ssh',
    host: 'db1.example',
    user: 'deploy',
    base_url: 'https://api.example.com',
    reason: 'restart the queue worker',
  },
  webhook_poll: {},
  webhook_ack: { items: [{ id: 'whe_aaaaaaaaaaaa', lease_token: 'wl_aaaaaaaaaaaaaaaa', outcome: 'done' }] },
  webhook_extend: { items: [{ id: 'whe_aaaaaaaaaaaa', lease_token: 'wl_aaaaaaaaaaaaaaaa' }] },
};

const SAMPLES: Record<string, Record<string, [unknown, unknown]>> = {
  request_access: {
    kind: ['ssh', 'http'],
    host: ['db1.example', 'db2.example'],
    port: [22, 2222],
    user: ['deploy', 'ops'],
    base_url: ['https://a.example', 'https://b.example'],
    reason: ['restart the queue worker', 'rotate the logs'],
  },
  vault_search: { text: ['github', 'gitlab'], target: ['api', 'box'], host: ['a.example', 'b.example'] },
  api_request: {
    target: ['api', 'api2'],
    method: ['POST', 'PUT'],
    path: ['/v1/things', '/v1/other'],
    query: [{ a: '1' }, { a: '2' }],
    headers: [{ 'x-a': '1' }, { 'x-a': '2' }],
    body: ['{"a":1}', '{"a":2}'],
    timeout_ms: [1000, 2000],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  ssh_exec: {
    target: ['box', 'box2'],
    command: ['ls', 'ls -la'],
    stdin: ['a\n', 'b\n'],
    env: [{ A: '1' }, { A: '2' }],
    cwd: ['/srv', '/tmp'],
    timeout_s: [10, 20],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  ssh_session_open: {
    target: ['box', 'box2'],
    reason: ['debugging', 'other reason'],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  ssh_session_send: {
    id: ['sess_aaaaaaaaaaaa', 'sess_bbbbbbbbbbbb'],
    input: ['ls\n', 'pwd\n'],
    wait_for: ['DONE', 'OTHER'],
    timeout_s: [5, 6],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  ssh_session_read: { id: ['sess_aaaaaaaaaaaa', 'sess_bbbbbbbbbbbb'], since: [0, 5], limit: [10, 20] },
  ssh_session_signal: { id: ['sess_aaaaaaaaaaaa', 'sess_bbbbbbbbbbbb'], signal: ['INT', 'TERM'] },
  ssh_session_close: { id: ['sess_aaaaaaaaaaaa', 'sess_bbbbbbbbbbbb'] },
  ssh_session_handoff: {
    id: ['sess_aaaaaaaaaaaa', 'sess_bbbbbbbbbbbb'],
    message: ['please type the sudo password', 'answer the 2FA prompt'],
  },
  file_read: { target: ['box', 'box2'], path: ['/srv/a.txt', '/srv/b.txt'], max_bytes: [10, 20] },
  file_write: {
    target: ['box', 'box2'],
    path: ['/srv/a.txt', '/srv/b.txt'],
    content: ['hello', 'hellp'],
    encoding: ['utf8', 'base64'],
    mode: [0o644, 0o4777],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  exec: {
    command: ['ls', 'ls -la'],
    env: [{ A: '1' }, { A: '2' }],
    cwd: ['/work', '/work/sub'],
    timeout_s: [10, 20],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  memory_list: { scope: ['token', 'org'], prefix: ['notes/', 'runbooks/'] },
  memory_read: { path: ['notes/a.md', 'notes/b.md'], scope: ['token', 'org'] },
  memory_search: { query: ['deploy', 'rollback'], scope: ['token', 'org'], limit: [5, 10] },
  memory_add: {
    path: ['notes/a.md', 'notes/b.md'],
    content: ['hello', 'hellp'],
    scope: ['token', 'org'],
    title: ['A', 'B'],
    summary: ['one', 'two'],
    tags: [['a'], ['b']],
  },
  memory_update: {
    path: ['notes/a.md', 'notes/b.md'],
    expected_version: [1, 2],
    content: ['hello', 'hellp'],
    scope: ['token', 'org'],
    note: ['why', 'because'],
    title: ['A', 'B'],
    summary: ['one', 'two'],
    tags: [['a'], ['b']],
  },
  memory_delete: { path: ['notes/a.md', 'notes/b.md'], scope: ['token', 'org'], expected_version: [1, 2] },
  memory_history: { path: ['notes/a.md', 'notes/b.md'], scope: ['token', 'org'] },
  memory_revert: {
    path: ['notes/a.md', 'notes/b.md'],
    version: [1, 2],
    expected_version: [2, 3],
    scope: ['token', 'org'],
  },
  memory: {
    command: ['view', 'create'],
    path: ['/memories/token/a.md', '/memories/token/b.md'],
    file_text: ['hello', 'hellp'],
    old_str: ['a', 'b'],
    new_str: ['c', 'd'],
    insert_line: [0, 1],
    insert_text: ['x', 'y'],
    view_range: [
      [1, 2],
      [1, 3],
    ],
    old_path: ['/memories/token/a.md', '/memories/token/b.md'],
    new_path: ['/memories/token/c.md', '/memories/token/d.md'],
  },
  org_skill_list: { drafts: [false, true] },
  org_skill_read: {
    name: ['deploy-web', 'lint-docs'],
    file: ['SKILL.md', 'references/a.md'],
    version: [1, 2],
    digest: ['a'.repeat(64), 'b'.repeat(64)],
    draft: [false, true],
  },
  org_skill_upsert: {
    name: ['deploy-web', 'lint-docs'],
    files: [[{ path: 'references/a.md', content: 'a' }], [{ path: 'references/a.md', content: 'b' }]],
    remove: [['references/a.md'], ['references/b.md']],
    expected_version: [1, 2],
    note: ['why', 'because'],
  },
  org_skill_publish: {
    name: ['deploy-web', 'lint-docs'],
    digest: ['a'.repeat(64), 'b'.repeat(64)],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  org_skill_delete: {
    name: ['deploy-web', 'lint-docs'],
    draft: [false, true],
    reason: ['obsolete', 'replaced'],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  org_skill_history: { name: ['deploy-web', 'lint-docs'] },
  wiki_list_pages: { namespace: ['ops', 'dev'], prefix: ['runbooks/', 'guides/'], status: ['draft', 'active'] },
  wiki_read_page: { namespace: ['ops', 'dev'], slug: ['deploy', 'rollback'], version: [1, 2] },
  wiki_upsert_page: {
    namespace: ['ops', 'dev'],
    slug: ['deploy', 'rollback'],
    title: ['Deploy', 'Deploying'],
    body: ['make ship', 'make ship-it'],
    summary: ['one', 'two'],
    tags: [['a'], ['b']],
    status: ['draft', 'stale'],
    owner: ['ops-team', 'web-team'],
    review_by: ['2027-01-01', '2027-02-01'],
    sources: [
      [{ type: 'url', url: 'https://a.example/x', retrieved_at: '2026-12-01' }],
      [{ type: 'url', url: 'https://a.example/y', retrieved_at: '2026-12-01' }],
    ],
    expected_version: [1, 2],
    note: ['why', 'because'],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  wiki_rename_page: {
    namespace: ['ops', 'dev'],
    slug: ['deploy', 'rollback'],
    new_slug: ['deploying', 'shipping'],
    expected_version: [1, 2],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  wiki_delete_page: {
    namespace: ['ops', 'dev'],
    slug: ['deploy', 'rollback'],
    reason: ['obsolete', 'replaced'],
    expected_version: [1, 2],
  },
  wiki_search: { query: ['deploy', 'rollback'], namespace: ['ops', 'dev'], limit: [5, 10] },
  wiki_history: { namespace: ['ops', 'dev'], slug: ['deploy', 'rollback'] },
  wiki_revert: {
    namespace: ['ops', 'dev'],
    slug: ['deploy', 'rollback'],
    version: [1, 2],
    expected_version: [2, 3],
    approval_id: ['ap_aaaaaaaaaaaaaaaa', 'ap_bbbbbbbbbbbbbbbb'],
  },
  wiki_backlinks: { namespace: ['ops', 'dev'], slug: ['deploy', 'rollback'] },
  wiki_lint_page: { namespace: ['ops', 'dev'], slug: ['deploy', 'rollback'] },
  wiki_lint: { namespace: ['ops', 'dev'] },
  webhook_poll: {
    endpoint: ['gh', 'stripe'],
    limit: [5, 10],
    lease_s: [60, 120],
    wait_s: [0, 1],
    types: [['push'], ['issues']],
  },
  webhook_ack: {
    items: [
      [{ id: 'whe_aaaaaaaaaaaa', lease_token: 'wl_aaaaaaaaaaaaaaaa', outcome: 'done' }],
      [{ id: 'whe_aaaaaaaaaaaa', lease_token: 'wl_aaaaaaaaaaaaaaaa', outcome: 'failed', note: 'upstream 500' }],
    ],
  },
  webhook_extend: {
    items: [
      [{ id: 'whe_aaaaaaaaaaaa', lease_token: 'wl_aaaaaaaaaaaaaaaa' }],
      [{ id: 'whe_bbbbbbbbbbbb', lease_token: 'wl_aaaaaaaaaaaaaaaa' }],
    ],
    lease_s: [60, 120],
  },
};

describe('every tool input is judged, bound or declared irrelevant (derived from the input schemas)', () => {
  const home = tempHome();
  let rt: Runtime & { approvals: ApprovalService };
  let principal: Principal;
  const asked: Asked[] = [];

  beforeAll(async () => {
    rt = await bootRuntime({ env: home.env, guard: everythingNeedsApproval });
    // The real approver (out of band for this token), watched: each request leaves a pending
    // approval whose text is exactly what a person reads.
    const real = createApprover(rt.approvals);
    rt.setApprover({
      async obtain(req) {
        try {
          return await real.obtain(req);
        } finally {
          const [pending] = await rt.approvals.list({ status: 'pending', limit: 1 });
          const shown = pending
            ? describeForHuman(pending)
                .split('\n')
                .filter((l) => !/^(Approval |Expires:)/.test(l))
                .join('\n')
            : '';
          asked.push({ action: structuredClone(req.action), digest: req.digest, shown });
        }
      },
    });
    const { token } = await rt.tokens.create({
      name: 'roles',
      grants: ['tool:*', 'target:*', 'vault:*', 'skill:*', 'wiki:*:*'],
      approvalMode: 'out-of-band',
    });
    principal = await rt.tokens.authenticate(token);
  });
  afterAll(async () => {
    await rt?.close();
    home.cleanup();
  });

  /** Runs one call; returns what the approver was asked (if anything) and the attempt's audit record. */
  async function call(tool: ToolDefinition, args: Record<string, unknown>): Promise<{ asked?: Asked; audit: string }> {
    const input = tool.inputSchema.parse(args);
    const before = asked.length;
    const ctx: ToolContext = {
      principal,
      gate: rt.gate,
      ports: rt.ports,
      client: 'test',
      signal: new AbortController().signal,
      progress: async () => {},
      output: new CallScrub(rt.redactor, input),
    };
    await tool.handler(input, ctx).catch(() => undefined);
    // A person says no to what this call asked, so the token stays under its cap of waiting approvals.
    for (const a of await rt.approvals.list({ status: 'pending' }))
      await rt.approvals.decide(a.id, 'denied', { by: 'test', channel: 'cli' });
    const records = await searchAudit(rt.store, { tool: tool.name, limit: 5 });
    const attempt = records.filter((r) => r.phase === 'attempt').at(-1);
    expect(attempt, `${tool.name}: the call left an attempt record`).toBeDefined();
    return {
      asked: asked.length > before ? asked.at(-1) : undefined,
      audit: JSON.stringify([attempt!.target, attempt!.action, attempt!.detail, attempt!.payload]),
    };
  }

  for (const tool of allTools()) {
    const shape = (tool.inputSchema as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
    const roles = tool.inputRoles as Record<string, InputRole>;

    it(`${tool.name}: every schema field has a role and samples, and no role names a field the schema lacks`, () => {
      expect(Object.keys(roles).sort()).toEqual(Object.keys(shape).sort());
      for (const field of Object.keys(shape))
        expect(SAMPLES[tool.name]?.[field], `${tool.name}.${field} needs two sample values in this test`).toBeDefined();
      for (const role of Object.values(roles))
        if (typeof role === 'object') expect(role.irrelevant.length).toBeGreaterThan(20);
    });

    for (const field of Object.keys(shape)) {
      it(`${tool.name}.${field}: ${JSON.stringify(roles[field])}`, async () => {
        const [a, b] = SAMPLES[tool.name]![field]!;
        const base = BASE[tool.name]!;
        const x = await call(tool, { ...base, [field]: a });
        const y = await call(tool, { ...base, [field]: b });
        const role = roles[field]!;
        if (typeof role === 'object') {
          // Irrelevant: nothing that decides, binds or records the action changes.
          if (x.asked && y.asked) {
            expect(y.asked.digest).toBe(x.asked.digest);
            if (field !== 'approval_id') expect(y.asked.shown).toBe(x.asked.shown);
          }
          if (field !== 'approval_id') expect(y.audit).toBe(x.audit);
          return;
        }
        expect(y.audit, `${tool.name}.${field} must be in the audit record`).not.toBe(x.audit);
        if (x.asked || y.asked) {
          expect(x.asked && y.asked, `${tool.name}.${field}: both calls reach the approver`).toBeTruthy();
          expect(y.asked!.digest, `${tool.name}.${field} must be part of the approval digest`).not.toBe(
            x.asked!.digest,
          );
          expect(y.asked!.shown, `${tool.name}.${field} must be shown to the person`).not.toBe(x.asked!.shown);
          if (role === 'judged')
            expect(JSON.stringify(y.asked!.action.guard), `${tool.name}.${field} must reach the guard`).not.toBe(
              JSON.stringify(x.asked!.action.guard),
            );
        }
      });
    }
  }
});
