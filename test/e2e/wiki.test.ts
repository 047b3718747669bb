/**
 * The wiki end to end with the official MCP client (stdio on 2026-07-28, Streamable HTTP on
 * 2025-11-25): namespaces need grants and an unreadable one answers like one that does not exist
 * in every tool (search results and counts included); a protected namespace makes a page active
 * only after a person approved exactly that content; renames redirect; secrets are refused;
 * resources follow the same grants; operators list, lint, delete, restore and purge; every change
 * is audited.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, auditAfter, auditSeq, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { httpClient, stdioClient } from '../helpers/mcp-client.js';

const SECRET = 'wiki-canary-T7mQ2xV9pL4zK8rB';
const WIKI_TOOLS = [
  'wiki_list_pages',
  'wiki_read_page',
  'wiki_upsert_page',
  'wiki_rename_page',
  'wiki_delete_page',
  'wiki_search',
  'wiki_history',
  'wiki_revert',
  'wiki_backlinks',
  'wiki_lint_page',
  'wiki_lint',
].map((t) => `tool:${t}`);

interface ToolText {
  isError?: boolean;
  content: { type: string; text?: string }[];
}
const call = async (c: Client, name: string, args: Record<string, unknown>) =>
  (await c.callTool({ name, arguments: args })) as ToolText;
const textOf = (r: ToolText) => r.content.map((c) => c.text ?? '').join('\n');
const json = <T>(r: ToolText): T => JSON.parse(textOf(r)) as T;

describe('wiki over MCP', () => {
  const home = tempHome();
  let editor: string;
  let reader: string;
  let outsider: string;
  let writer: string;
  beforeAll(() => {
    assertBuilt();
    const config = join(home.dir, 'config.yaml');
    writeFileSync(config, 'wiki:\n  protected: [policies]\n');
    home.env.GATEHOUSE_CONFIG = config;
    expect(cli(['vault', 'create', 'ops'], home.env).code).toBe(0);
    expect(cli(['vault', 'set', 'ops/db.password'], home.env, SECRET).code).toBe(0);
    editor = createToken(
      home.env,
      'editor',
      [...WIKI_TOOLS, 'wiki:ops:publish', 'wiki:ops:write', 'wiki:policies:*'],
      ['--approval', 'out-of-band'],
    );
    reader = createToken(home.env, 'reader', [...WIKI_TOOLS, 'wiki:ops:read']);
    outsider = createToken(home.env, 'outsider', [...WIKI_TOOLS, 'wiki:dev:write']);
    writer = createToken(home.env, 'writer', [...WIKI_TOOLS, 'wiki:ops:write']);
  });
  afterAll(() => home.cleanup());

  it('keeps namespaces apart, asks a person in a protected one, and audits every change', async () => {
    const seq = auditSeq(home.env);
    const e = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: editor }, 'modern');
    const r = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: reader }, 'modern');
    const serve = await startServe(home.env);
    const o = await httpClient(serve.url, outsider, 'legacy');
    const r2 = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: writer }, 'legacy');
    try {
      const deploy = await call(e.client, 'wiki_upsert_page', {
        namespace: 'ops',
        slug: 'runbooks/deploy',
        title: 'Deploying the web app',
        summary: 'How we ship',
        body: 'Run make ship. If it fails, see [[runbooks/rollback]].',
        owner: 'web-team',
        status: 'active',
        review_by: '2099-01-01',
        sources: [{ type: 'url', url: 'https://docs.example.com/ship', retrieved_at: '2026-12-01' }],
      });
      expect(deploy.isError, textOf(deploy)).toBeFalsy();
      expect(textOf(deploy)).toContain('broken-link'); // the rollback page does not exist yet
      await call(e.client, 'wiki_upsert_page', {
        namespace: 'ops',
        slug: 'runbooks/rollback',
        title: 'Rolling back',
        body: 'Revert the tag; then [[runbooks/deploy]] again.',
      });

      // The reader reads ops; the outsider sees nothing of it anywhere, not even a count.
      expect(
        json<{ page: { title: string } }>(
          await call(r.client, 'wiki_read_page', { namespace: 'ops', slug: 'runbooks/deploy' }),
        ).page.title,
      ).toBe('Deploying the web app');
      expect(json<{ results: unknown[] }>(await call(r.client, 'wiki_search', { query: 'ship' })).results).toHaveLength(
        1,
      );
      expect(json<{ results: unknown[] }>(await call(o.client, 'wiki_search', { query: 'ship' })).results).toEqual([]);
      expect(json<{ pages: unknown[] }>(await call(o.client, 'wiki_list_pages', {})).pages).toEqual([]);
      for (const [tool, args] of [
        ['wiki_read_page', { namespace: 'ops', slug: 'runbooks/deploy' }],
        ['wiki_search', { query: 'ship', namespace: 'ops' }],
        ['wiki_list_pages', { namespace: 'ops' }],
        ['wiki_history', { namespace: 'ops', slug: 'runbooks/deploy' }],
        ['wiki_backlinks', { namespace: 'ops', slug: 'runbooks/deploy' }],
        ['wiki_lint', { namespace: 'ops' }],
        ['wiki_delete_page', { namespace: 'ops', slug: 'runbooks/deploy', reason: 'x' }],
        ['wiki_upsert_page', { namespace: 'ops', slug: 'runbooks/deploy', title: 't', body: 'b' }],
      ] as const) {
        const res = await call(o.client, tool, args);
        expect(textOf(res), tool).toMatch(/^not_found: no wiki namespace ops/);
        expect(textOf(res)).not.toContain('ship');
      }
      // A namespace the outsider does not read never shows in backlinks either.
      expect(
        json<{ pages: unknown[] }>(await call(o.client, 'wiki_backlinks', { namespace: 'dev', slug: 'x' })).pages,
      ).toEqual([]);
      // The reader may not write.
      expect(
        textOf(await call(r.client, 'wiki_upsert_page', { namespace: 'ops', slug: 'x', title: 't', body: 'b' })),
      ).toMatch(/^not_granted/);
      expect(
        json<{ pages: { slug: string }[] }>(
          await call(r.client, 'wiki_backlinks', { namespace: 'ops', slug: 'runbooks/deploy' }),
        ).pages.map((p) => p.slug),
      ).toEqual(['runbooks/rollback']);

      // A secret is refused, in any form.
      for (const leak of [SECRET, Buffer.from(SECRET).toString('base64')]) {
        const res = await call(e.client, 'wiki_upsert_page', {
          namespace: 'ops',
          slug: 'leak',
          title: 'x',
          body: `pw ${leak}`,
        });
        expect(textOf(res)).toMatch(/^secret_detected/);
      }

      // A protected namespace: a draft is free; making it active waits for a person, bound to the content.
      const draft = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'access',
        title: 'Access',
        body: 'Least privilege.',
      });
      expect(draft.isError, textOf(draft)).toBeFalsy();
      const ask = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'access',
        title: 'Access',
        body: 'Least privilege.',
        status: 'active',
        expected_version: 1,
      });
      expect(textOf(ask)).toMatch(/approval_required/);
      const id = /\bap_[A-Za-z0-9_-]+/.exec(textOf(ask))![0];
      const shown = cli(['approvals', 'list'], home.env).stdout;
      expect(shown).toContain('wiki.protected');
      // The person reads the text itself, not only its digest.
      expect(shown).toContain('Least privilege.');
      // A secret is refused before a person is ever asked (and never shown to one).
      const secretAsk = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'secret-policy',
        title: 'x',
        body: `db password ${SECRET}`,
        status: 'active',
      });
      expect(textOf(secretAsk)).toMatch(/^secret_detected/);
      expect(cli(['approvals', 'list'], home.env).stdout).not.toContain(SECRET);
      expect(cli(['approve', id], home.env).code).toBe(0);
      // The approval covers that content only.
      const other = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'access',
        title: 'Access',
        body: 'Everyone is admin.',
        status: 'active',
        expected_version: 1,
        approval_id: id,
      });
      expect(other.isError).toBe(true);
      const ok = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'access',
        title: 'Access',
        body: 'Least privilege.',
        status: 'active',
        expected_version: 1,
        approval_id: id,
      });
      expect(ok.isError, textOf(ok)).toBeFalsy();
      expect(json<{ page: { status: string } }>(ok).page.status).toBe('active');
      // Changing the active page needs a person again.
      const edit = await call(e.client, 'wiki_upsert_page', {
        namespace: 'policies',
        slug: 'access',
        title: 'Access',
        body: 'Everyone is admin.',
        expected_version: 2,
      });
      expect(textOf(edit)).toMatch(/approval_required/);

      // The rights are judged on the version written: naming a version other than the current
      // one is a conflict before anything else (it cannot dodge the publish check).
      expect(
        textOf(
          await call(r2.client, 'wiki_upsert_page', {
            namespace: 'ops',
            slug: 'runbooks/deploy',
            title: 't',
            body: 'b',
            status: 'draft',
            expected_version: 9,
          }),
        ),
      ).toMatch(/^conflict/);
      // Write without publish: no un-activating, no moving an active page, no writing over a redirect.
      expect(
        textOf(
          await call(r2.client, 'wiki_upsert_page', {
            namespace: 'ops',
            slug: 'runbooks/deploy',
            title: 't',
            body: 'b',
            status: 'draft',
            expected_version: 1,
          }),
        ),
      ).toMatch(/^not_granted/);
      expect(
        textOf(await call(r2.client, 'wiki_rename_page', { namespace: 'ops', slug: 'runbooks/deploy', new_slug: 'x' })),
      ).toMatch(/^not_granted/);
      // In a protected namespace an active page moves only with a person's approval.
      expect(
        textOf(
          await call(e.client, 'wiki_rename_page', { namespace: 'policies', slug: 'access', new_slug: 'access-v2' }),
        ),
      ).toMatch(/approval_required/);

      // A rename keeps the page id and leaves a redirect.
      const before = json<{ page: { page_id: string } }>(
        await call(r.client, 'wiki_read_page', { namespace: 'ops', slug: 'runbooks/rollback' }),
      );
      const mv = await call(e.client, 'wiki_rename_page', {
        namespace: 'ops',
        slug: 'runbooks/rollback',
        new_slug: 'runbooks/undo',
      });
      expect(mv.isError, textOf(mv)).toBeFalsy();
      const via = json<{ page: { slug: string; page_id: string; redirected_from: string } }>(
        await call(r.client, 'wiki_read_page', { namespace: 'ops', slug: 'runbooks/rollback' }),
      );
      expect(via.page).toMatchObject({
        slug: 'runbooks/undo',
        page_id: before.page.page_id,
        redirected_from: 'runbooks/rollback',
      });

      // Resources follow the same grants.
      const res = await r.client.readResource({ uri: 'gatehouse://wiki/ops/runbooks/deploy' });
      expect((res.contents[0] as { text: string }).text).toContain('Run make ship.');
      await expect(o.client.readResource({ uri: 'gatehouse://wiki/ops/runbooks/deploy' })).rejects.toThrow();
      expect((await o.client.listResources()).resources.map((x) => x.uri)).not.toContain(
        'gatehouse://wiki/ops/runbooks/deploy',
      );

      // Operators: list, lint, delete, restore, purge.
      expect(cli(['wiki', 'list'], home.env).stdout).toContain('ops:runbooks/deploy');
      expect(cli(['wiki', 'lint', 'ops'], home.env).stdout).toMatch(/findings in \d+ pages/);
      expect(cli(['wiki', 'rm', 'ops:runbooks/undo'], home.env).code).toBe(0);
      expect(textOf(await call(r.client, 'wiki_read_page', { namespace: 'ops', slug: 'runbooks/undo' }))).toMatch(
        /^not_found/,
      );
      expect(cli(['wiki', 'restore', 'ops:runbooks/undo'], home.env).code).toBe(0);
      expect(cli(['wiki', 'purge', 'ops:runbooks/undo'], home.env).code).toBe(0);
      expect(cli(['wiki', 'show', 'ops:runbooks/undo'], home.env).code).not.toBe(0);
      // The redirect that led to the purged page went with it: its old slug is free and empty,
      // not a door to whatever is written at the purged slug later.
      expect(cli(['wiki', 'show', 'ops:runbooks/rollback'], home.env).code).not.toBe(0);
      // A write over a redirect takes the publish right.
      await call(e.client, 'wiki_upsert_page', { namespace: 'ops', slug: 'old-name', title: 'O', body: 'o' });
      await call(e.client, 'wiki_rename_page', { namespace: 'ops', slug: 'old-name', new_slug: 'new-name' });
      expect(
        textOf(
          await call(r2.client, 'wiki_upsert_page', { namespace: 'ops', slug: 'old-name', title: 'Evil', body: 'x' }),
        ),
      ).toMatch(/^not_granted/);

      const records = auditAfter(home.env, seq).map((x) => `${x.tool}:${x.phase}`);
      expect(records).toEqual(
        expect.arrayContaining([
          'wiki_upsert_page:attempt',
          'wiki_rename_page:result',
          'cli:wiki.rm:event',
          'cli:wiki.purge:event',
          'resources/read:event',
        ]),
      );
    } finally {
      await e.close();
      await r.close();
      await o.close();
      await r2.close();
      await serve.stop();
    }
  });
});
