/**
 * Org skills end to end, with the official MCP client over stdio (both protocol eras) and over
 * Streamable HTTP: a token with `skill:propose` drafts, a token with `skill:publish` publishes only
 * after a person approved exactly that digest (shown the diff), readers see the published skill
 * through the tools, prompts, resources and the Skills extension (whose official client checks
 * every file against its digest), and never a draft; secrets are refused; all of it is audited.
 */
import type { Client } from '@modelcontextprotocol/client';
import { SkillsClient } from '@modelcontextprotocol/client/ext/skills';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, auditAfter, auditSeq, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { httpClient, stdioClient } from '../helpers/mcp-client.js';

const SECRET = 'skill-canary-V3nQ8xL2pW7zR4tB';

interface ToolText {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: unknown;
}
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolText;
const textOf = (r: ToolText) => r.content.map((c) => c.text ?? '').join('\n');
const json = <T>(r: ToolText): T => JSON.parse(textOf(r)) as T;
const approvalIdOf = (r: ToolText): string => {
  const id = /\bap_[A-Za-z0-9_-]+/.exec(textOf(r))?.[0];
  if (!id) throw new Error(`no approval id in ${textOf(r)}`);
  return id;
};

const SKILL_MD = (step: string) =>
  `---\nname: deploy-web\ndescription: Deploys the web app. Use when the user asks to ship the site.\nmetadata:\n  owner: web-team\n---\n# Deploy\n\n1. ${step}\n2. Check https://status.example.com\n`;

describe('org skills over MCP (draft, approve, publish, read four ways)', () => {
  const home = tempHome();
  let author: string;
  let publisher: string;
  let reader: string;
  beforeAll(() => {
    assertBuilt();
    expect(cli(['vault', 'create', 'ops'], home.env).code).toBe(0);
    expect(cli(['vault', 'set', 'ops/deploy.key'], home.env, SECRET).code).toBe(0);
    author = createToken(home.env, 'author', ['tool:*', 'skill:propose']);
    publisher = createToken(home.env, 'publisher', ['tool:*', 'skill:publish'], ['--approval', 'out-of-band']);
    reader = createToken(home.env, 'reader', ['tool:org_skill_read', 'tool:org_skill_list', 'tool:org_skill_history']);
  });
  afterAll(() => home.cleanup());

  it('publishes only what a person approved, and readers see exactly the published bytes', async () => {
    const seq = auditSeq(home.env);
    const a = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: author }, 'legacy');
    const p = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: publisher }, 'modern');
    const r = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: reader }, 'modern');
    try {
      // The author drafts; lint findings and next steps come back in the text a model reads.
      const d1 = await call(a.client, 'org_skill_upsert', {
        name: 'deploy-web',
        files: [
          { path: 'SKILL.md', content: SKILL_MD('Run make deploy.') },
          { path: 'references/checklist.md', content: '- tests green\n' },
          {
            path: 'assets/logo.png',
            content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 7]).toString('base64'),
            encoding: 'base64',
          },
        ],
        note: 'first cut',
      });
      expect(d1.isError, textOf(d1)).toBeFalsy();
      const draft1 = json<{ draft: { digest: string; version: number }; next: string; changes: string }>(d1);
      expect(draft1.draft.version).toBe(1);
      expect(draft1.next).toContain('publish');
      expect(draft1.changes).toContain('added references/checklist.md');

      // Nobody else sees a draft: not in lists, prompts, resources or by its digest.
      expect(textOf(await call(r.client, 'org_skill_list', {}))).not.toContain('deploy-web');
      expect(textOf(await call(r.client, 'org_skill_list', { drafts: true }))).toMatch(/^not_granted/);
      const byDigest = await call(r.client, 'org_skill_read', { name: 'deploy-web', digest: draft1.draft.digest });
      expect(textOf(byDigest)).toMatch(/^not_found/);
      expect((await r.client.listPrompts()).prompts).toEqual([]);
      // The author cannot publish: it needs skill:publish.
      expect(
        textOf(await call(a.client, 'org_skill_publish', { name: 'deploy-web', digest: draft1.draft.digest })),
      ).toMatch(/^not_granted/);

      // The publisher asks; a person sees the diff and the digest, and nothing is published yet.
      const ask = await call(p.client, 'org_skill_publish', { name: 'deploy-web', digest: draft1.draft.digest });
      expect(ask.isError).toBe(true);
      expect(textOf(ask)).toMatch(/approval_required/);
      const id = approvalIdOf(ask);
      const pending = cli(['approvals', 'list'], home.env).stdout;
      expect(pending).toContain(id);
      expect(pending).toContain(draft1.draft.digest);
      expect(pending).toContain('+1. Run make deploy.');
      expect(pending).toContain('skill.publish');
      expect(textOf(await call(r.client, 'org_skill_read', { name: 'deploy-web' }))).toMatch(/^not_found/);

      // Meanwhile the author changes the draft: the approval still covers only the first digest.
      const d2 = await call(a.client, 'org_skill_upsert', {
        name: 'deploy-web',
        files: [{ path: 'SKILL.md', content: SKILL_MD('Run make deploy-all.') }],
        expected_version: 1,
      });
      const draft2 = json<{ draft: { digest: string } }>(d2);
      expect(cli(['approve', id], home.env).code).toBe(0);
      const wrong = await call(p.client, 'org_skill_publish', {
        name: 'deploy-web',
        digest: draft2.draft.digest,
        approval_id: id,
      });
      expect(wrong.isError).toBe(true);
      expect(textOf(wrong)).not.toMatch(/"published"/);
      const ok = await call(p.client, 'org_skill_publish', {
        name: 'deploy-web',
        digest: draft1.draft.digest,
        approval_id: id,
      });
      expect(ok.isError, textOf(ok)).toBeFalsy();
      expect(json<{ published: { version: number; digest: string } }>(ok).published).toMatchObject({
        version: 1,
        digest: draft1.draft.digest,
      });
      // An approval is used once.
      const again = await call(p.client, 'org_skill_publish', {
        name: 'deploy-web',
        digest: draft1.draft.digest,
        approval_id: id,
      });
      expect(again.isError).toBe(true);

      // Readers: the tool, with provenance and the data-not-instructions notice.
      const read = json<{ content: string; notice: string; skill: { author: string; files: unknown[] } }>(
        await call(r.client, 'org_skill_read', { name: 'deploy-web' }),
      );
      expect(read.content).toBe(SKILL_MD('Run make deploy.'));
      expect(read.skill.author).toBe('publisher');
      expect(read.skill.files).toHaveLength(3);
      expect(read.notice).toMatch(/grant nothing/);
      const logo = json<{ encoding: string; content: string }>(
        await call(r.client, 'org_skill_read', { name: 'deploy-web', file: 'assets/logo.png' }),
      );
      expect(logo).toMatchObject({
        encoding: 'base64',
        content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 7]).toString('base64'),
      });

      // Prompts: one per published skill, its text the SKILL.md framed as reference material.
      expect((await r.client.listPrompts()).prompts.map((x) => x.name)).toEqual(['deploy-web']);
      const prompt = await r.client.getPrompt({ name: 'deploy-web', arguments: { request: 'ship v2' } });
      const ptext = (prompt.messages[0]!.content as { text: string }).text;
      expect(ptext).toContain('1. Run make deploy.');
      expect(ptext).toContain('reference material');
      expect(ptext).toContain('skill://deploy-web/references/checklist.md');
      expect(ptext).toContain('The user’s request: ship v2');

      // The Skills extension: the official client checks every file against its digest.
      const sc = new SkillsClient(r.client);
      expect(sc.supported).toBe(true);
      const listing = await sc.list();
      expect(listing.skills.map((s) => s.uri)).toEqual(['skill://deploy-web/SKILL.md']);
      expect(listing.skills[0]!.frontmatter).toMatchObject({ name: 'deploy-web', metadata: { owner: 'web-team' } });
      expect((await sc.get('skill://deploy-web/SKILL.md')).skill.resources).toHaveLength(3);
      await expect(sc.get('skill://no-such/SKILL.md')).rejects.toThrow();
      for (const ref of ['SKILL.md', 'references/checklist.md', 'assets/logo.png']) {
        const f = await sc.read(listing.skills[0]!, ref);
        expect(f.verified).toBe(true);
      }
      // Resources list the SKILL.md; the rest read by URI.
      const res = (await r.client.listResources()).resources.map((x) => x.uri);
      expect(res).toContain('skill://deploy-web/SKILL.md');
      const ref = await r.client.readResource({ uri: 'skill://deploy-web/references/checklist.md' });
      expect((ref.contents[0] as { text: string }).text).toBe('- tests green\n');
      await expect(r.client.readResource({ uri: 'skill://deploy-web/references/none.md' })).rejects.toThrow();
      await expect(r.client.readResource({ uri: 'skill://deploy-web/../../etc/passwd' })).rejects.toThrow();

      // A secret in any file, in any common form, is refused and nothing is stored.
      for (const content of [SECRET, Buffer.from(SECRET).toString('base64'), encodeURIComponent(`k=${SECRET}`)]) {
        const leak = await call(a.client, 'org_skill_upsert', {
          name: 'deploy-web',
          files: [{ path: 'scripts/env.sh', content: `export KEY=${content}\n` }],
          expected_version: 2,
        });
        expect(textOf(leak)).toMatch(/^secret_detected/);
        expect(textOf(leak)).not.toContain(SECRET);
      }

      // Rollback: publish the older digest again (another approval, bound to the published version).
      const history = json<{ published: { digest: string }[]; draft: unknown[] }>(
        await call(p.client, 'org_skill_history', { name: 'deploy-web' }),
      );
      expect(history.published.map((h) => h.digest)).toEqual([draft1.draft.digest]);
      expect(
        json<{ draft: unknown[] }>(await call(r.client, 'org_skill_history', { name: 'deploy-web' })).draft,
      ).toEqual([]);

      // Every change is in the audit log.
      const records = auditAfter(home.env, seq);
      const tools = records.map((x) => `${x.tool}:${x.phase}`);
      expect(tools).toEqual(
        expect.arrayContaining([
          'org_skill_upsert:attempt',
          'org_skill_publish:attempt',
          'org_skill_publish:result',
          'prompts/get:event',
          'resources/read:event',
          'skills/get:event',
        ]),
      );
      expect(JSON.stringify(records)).not.toContain(SECRET);
    } finally {
      await a.close();
      await p.close();
      await r.close();
    }
  });

  it('serves the same skills over Streamable HTTP to both eras', async () => {
    const serve = await startServe(home.env);
    try {
      for (const era of ['legacy', 'modern'] as const) {
        const c = await httpClient(serve.url, reader, era);
        try {
          expect((await c.client.listPrompts()).prompts.map((x) => x.name)).toContain('deploy-web');
          const md = await c.client.readResource({ uri: 'skill://deploy-web/SKILL.md' });
          expect((md.contents[0] as { text: string }).text).toContain('1. Run make deploy.');
          if (era === 'modern') {
            const sc = new SkillsClient(c.client);
            const { skills } = await sc.list();
            expect((await sc.read(skills[0]!, 'references/checklist.md')).verified).toBe(true);
          }
        } finally {
          await c.close();
        }
      }
    } finally {
      await serve.stop();
    }
  });
});
