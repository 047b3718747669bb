/**
 * Change notifications (issue 15): a client connected to Gatehouse hears that its prompts or
 * resources changed when a skill is published (by another process: the CLI) or memory it reads
 * changes, on every door and era the official client speaks: stdio and stateful Streamable HTTP
 * on 2025-11-25 (plain list_changed notifications), stdio and HTTP on 2026-07-28
 * (subscriptions/listen). A token hears nothing about what it may not read: another token's
 * memory, a draft, or anything once its token is revoked.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { ERAS, httpClient, stdioClient, type ClientExtras, type Era } from '../helpers/mcp-client.js';

/** Counts of list_changed a client heard, with a way to wait for the next one. */
function listener() {
  const heard = { prompts: 0, resources: 0, lastPrompts: [] as string[] };
  const waiters: (() => void)[] = [];
  const bump = () => waiters.splice(0).forEach((w) => w());
  const extras: ClientExtras = {
    listChanged: {
      prompts: {
        onChanged: (_e, prompts) => {
          heard.prompts++;
          heard.lastPrompts = (prompts ?? []).map((p) => p.name);
          bump();
        },
      },
      resources: {
        onChanged: () => {
          heard.resources++;
          bump();
        },
      },
    },
  };
  const until = async (ok: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end) await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 200)));
    return ok();
  };
  return { heard, extras, until };
}

const skillDir = (root: string, name: string) => {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'SKILL.md'), `---\nname: ${name}\ndescription: Use when testing ${name}.\n---\nSteps.\n`);
  return dir;
};

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('list_changed reaches connected clients, and only for what they may read', () => {
  const home = tempHome();
  let reader: string;
  let writer: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  beforeAll(async () => {
    assertBuilt();
    // Look for other processes' changes often, so the test waits less (the default is 2 s).
    home.env.GATEHOUSE_CHANGE_POLL_MS = '200';
    reader = createToken(home.env, 'reader', ['tool:org_skill_read', 'tool:memory_read', 'tool:memory_add']);
    writer = createToken(home.env, 'writer', ['tool:memory_add', 'memory:write:org']);
    serve = await startServe(home.env);
  });
  afterAll(async () => {
    await serve?.stop();
    home.cleanup();
  });

  let n = 0;
  for (const door of ['stdio', 'http'] as const) {
    for (const era of ERAS as Era[]) {
      it(`${door} ${era}: a publish by the CLI, and org memory, but not another token's memory`, async () => {
        const l = listener();
        const c =
          door === 'stdio'
            ? await stdioClient({ ...home.env, GATEHOUSE_TOKEN: reader }, era, undefined, l.extras)
            : await httpClient(serve.url, reader, era, undefined, l.extras);
        const w = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: writer }, 'legacy');
        try {
          // Let the first look (the summary later changes are compared with) happen.
          await (c.client as Client).listPrompts();
          await settle(800);
          const name = `skill-${door}-${era}-${n++}`.toLowerCase();
          // A draft tells nobody.
          expect(cli(['skill', 'import', skillDir(join(home.dir, 'skills', name), name)], home.env).code).toBe(0);
          await settle(800);
          expect(l.heard.prompts).toBe(0);
          // Publishing does: prompts (and resources) changed.
          expect(cli(['skill', 'publish', name, '--digest', digestOf(home.env, name)], home.env).code).toBe(0);
          // (Each handler runs once the client has listed again, so they can land a moment apart.)
          expect(
            await l.until(() => l.heard.prompts > 0 && l.heard.lastPrompts.includes(name) && l.heard.resources > 0),
          ).toBe(true);

          // Another token's own memory: nothing. The team's memory, which the reader reads: heard.
          const before = l.heard.resources;
          await w.client.callTool({ name: 'memory_add', arguments: { path: `mine/${name}.md`, content: 'x' } });
          await settle(800);
          expect(l.heard.resources).toBe(before);
          await w.client.callTool({
            name: 'memory_add',
            arguments: { path: `team/${name}.md`, content: 'y', scope: 'org' },
          });
          expect(await l.until(() => l.heard.resources > before)).toBe(true);
        } finally {
          await w.close();
          await c.close();
        }
      });
    }
  }
});

function digestOf(env: NodeJS.ProcessEnv, name: string): string {
  const h = cli(['skill', 'history', name, '--json'], env);
  const draft = (JSON.parse(h.stdout) as { draft: { meta?: { digest?: string } }[] }).draft;
  return draft.at(-1)!.meta!.digest!;
}
