/**
 * The console's pages for what agents read and write beside commands: memory (with the proposals
 * to the team's memory waiting for a person), org skills (published and drafts, with Publish) and
 * the wiki. Agent-written text is shown as text, with control, bidi and zero-width characters made
 * visible (approvals' `visible`), so a page cannot hide part of itself from the person reading it.
 *
 * INVARIANTS: reading is audited for nothing but the decisions; accepting a proposal and
 * publishing a skill put text in front of every agent of the team, so with passkeys required each
 * needs a touch bound to exactly that proposal version or skill digest (and the published version
 * it replaces); rejecting only takes away and needs none; every decision is an audit record.
 */
import { visible } from '../approvals/index.js';
import { GatehouseError } from '../core/index.js';
import {
  ORG_PROPOSALS,
  parseProposalKey,
  type Author,
  type Item,
  type KnowledgeStore,
  type SkillStore,
  type SkillVersion,
  type VersionInfo,
  type WikiPage,
  type WikiStore,
} from '../knowledge/index.js';
import { when } from './approval-pages.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';

/** What these pages need of the process (a Runtime has all three). */
export interface KnowledgePorts {
  knowledge: Pick<KnowledgeStore, 'scopes' | 'list' | 'get' | 'history' | 'applyProposal' | 'delete'>;
  skills: Pick<SkillStore, 'list' | 'current' | 'currentOrNone' | 'diff' | 'publish' | 'publishedVersion'>;
  wiki: Pick<WikiStore, 'namespaces' | 'list' | 'read' | 'history'>;
}

/** Agent-written text, line by line made visible, for a <pre>. */
const lines = (text: string) => text.split('\n').map(visible).join('\n');

/** A proposal's binding for a passkey: its id, version and the digest of its text. */
export function proposalBinding(p: Item): string {
  return `${p.id}\u0000${p.provenance.version}\u0000${p.provenance.sha256}`;
}

/** A skill publication's binding: the skill, the digest published, and the version it replaces. */
export function publishBinding(name: string, digest: string, replaces: number): string {
  return `${name}\u0000${digest}\u0000${replaces}`;
}

function historyTable(h: readonly VersionInfo[], now: number): Html {
  return html`<div class="table">
    <table>
      <thead>
        <tr>
          <th>Version</th>
          <th>Op</th>
          <th>Author</th>
          <th>When</th>
          <th>Note</th>
        </tr>
      </thead>
      <tbody>
        ${h.map(
          (v) =>
            html`<tr>
              <td>${v.version}</td>
              <td>${v.op}</td>
              <td>${visible(v.author)} <span class="muted">[${v.trust}]</span></td>
              <td>${when(v.at, now)}</td>
              <td>${v.note ? visible(v.note) : ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function page(c: Call, title: string, current: 'memory' | 'skills' | 'wiki', body: Html): Html {
  return layout({ title, nonce: c.nonce, session: c.page!, current, wide: true, script: PASSKEY_FORMS, body });
}

/** Forms that decide something with passkeys required: a touch bound to what the form names. */
const PASSKEY_FORMS = `
if (document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  for (const form of document.querySelectorAll('form[data-passkey]'))
    form.addEventListener('submit', (e) =>
      signedSubmit(e, form, async (f) => {
        f.elements.namedItem('assertion').value = await passkeyAnswer(f.dataset.passkey, f.dataset.id, f);
      }),
    );
}
`;

function memoryPage(c: Call, items: Item[], proposals: Item[], now: number): Html {
  const csrf = c.page!.csrf;
  return page(
    c,
    'Memory',
    'memory',
    html`<h1>Memory</h1>
      ${notice(noticeOf(c.ctx.url))}
      <h2>Proposals to the team's memory</h2>
      ${
        proposals.length === 0
          ? html`<p class="empty">No proposals wait for a person.</p>`
          : proposals.map((p) => {
              const k = parseProposalKey(p.key);
              return html`<article class="card">
                <div class="meta">
                  <span>Path <strong>${visible(k?.path ?? p.key)}</strong></span>
                  <span>${!k ? '?' : k.base === 0 ? 'new memory' : `changes version ${k.base}`}</span>
                  <span>By <strong>${visible(p.provenance.author)}</strong> ${when(p.provenance.at, now)}</span>
                </div>
                <p><strong>${visible(p.title)}</strong></p>
                <pre>${lines(p.body)}</pre>
                <div class="actions">
                  <form
                    method="post"
                    action="/console/memory/${encodeURIComponent(p.id)}/accept"
                    data-passkey="accept-proposal"
                    data-id="${p.id}"
                  >
                    <input type="hidden" name="csrf" value="${csrf}" />
                    <input type="hidden" name="assertion" value="" />
                    <button class="approve" type="submit">Accept</button>
                  </form>
                  <form method="post" action="/console/memory/${encodeURIComponent(p.id)}/reject">
                    <input type="hidden" name="csrf" value="${csrf}" />
                    <button class="deny" type="submit">Reject</button>
                  </form>
                </div>
              </article>`;
            })
      }
      <h2>Memories</h2>
      ${
        items.length === 0
          ? html`<p class="empty">No memories yet.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Scope</th>
                    <th>Path</th>
                    <th>Title</th>
                    <th>Version</th>
                    <th>Author</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  ${items.map(
                    (i) =>
                      html`<tr>
                        <td>${visible(i.scope)}</td>
                        <td><a href="/console/memory/${encodeURIComponent(i.id)}">${visible(i.key)}</a></td>
                        <td>${visible(i.title)}</td>
                        <td>${i.provenance.version}</td>
                        <td>${visible(i.provenance.author)} <span class="muted">[${i.provenance.trust}]</span></td>
                        <td>${when(i.provenance.at, now)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`,
  );
}

function itemPage(c: Call, i: Item, h: VersionInfo[], now: number): Html {
  return page(
    c,
    `Memory ${i.key}`,
    'memory',
    html`<h1>${visible(i.key)}</h1>
      <div class="card">
        <div class="meta">
          <span>Scope <strong>${visible(i.scope)}</strong></span>
          <span>Version <strong>${i.provenance.version}</strong></span>
          <span>By <strong>${visible(i.provenance.author)}</strong> [${i.provenance.trust}]</span>
          <span>${when(i.provenance.at, now)}</span>
        </div>
        <p><strong>${visible(i.title)}</strong></p>
        <pre>${lines(i.body)}</pre>
      </div>
      <h2>History</h2>
      ${historyTable(h, now)}
      <p><a href="/console/memory">← Memory</a></p>`,
  );
}

function skillsPage(c: Call, published: Item[], drafts: Item[], now: number): Html {
  const row = (i: Item, where: 'published' | 'draft') =>
    html`<tr>
      <td><a href="/console/skills/${encodeURIComponent(i.key)}">${visible(i.key)}</a></td>
      <td>${visible(i.summary || i.title)}</td>
      <td>${where === 'draft' ? 'draft' : i.deleted ? 'deprecated' : `version ${i.provenance.version}`}</td>
      <td>${visible(i.provenance.author)} <span class="muted">[${i.provenance.trust}]</span></td>
      <td>${when(i.provenance.at, now)}</td>
    </tr>`;
  return page(
    c,
    'Skills',
    'skills',
    html`<h1>Org skills</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Skills every agent of the team can read. Agents write drafts; a person publishes them (here, with
        <code>gatehouse skill publish</code>, or by approving an agent's request).
      </p>
      ${
        published.length + drafts.length === 0
          ? html`<p class="empty">No skills yet.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Description</th>
                    <th>State</th>
                    <th>Author</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  ${published.map((i) => row(i, 'published'))} ${drafts.map((i) => row(i, 'draft'))}
                </tbody>
              </table>
            </div>`
      }`,
  );
}

function skillPage(
  c: Call,
  name: string,
  o: { published?: SkillVersion; draft?: SkillVersion; diff?: string; replaces: number },
  now: number,
): Html {
  const csrf = c.page!.csrf;
  const show = (v: SkillVersion, label: string) =>
    html`<div class="card">
      <div class="meta">
        <span><strong>${label}</strong></span>
        <span>Digest <code>${v.digest}</code></span>
        <span
          >By <strong>${visible(v.provenance.author)}</strong> [${v.provenance.trust}]
          ${when(v.provenance.at, now)}</span
        >
        <span>${v.manifest.files.length} files</span>
      </div>
      <pre>${lines(v.skillMd)}</pre>
    </div>`;
  return page(
    c,
    `Skill ${name}`,
    'skills',
    html`<h1>${visible(name)}</h1>
      ${notice(noticeOf(c.ctx.url))}
      ${
        o.draft
          ? html`<h2>Draft</h2>
              ${show(o.draft, 'Draft')}
              ${
                o.diff !== undefined
                  ? html`<p class="muted">What publishing it changes:</p>
                      <pre>${lines(o.diff)}</pre>`
                  : null
              }
              <form
                method="post"
                action="/console/skills/${encodeURIComponent(name)}/publish"
                data-passkey="publish-skill"
                data-id="${name}"
              >
                <input type="hidden" name="csrf" value="${csrf}" />
                <input type="hidden" name="assertion" value="" />
                <input type="hidden" name="digest" value="${o.draft.digest}" />
                <input type="hidden" name="replaces" value="${o.replaces}" />
                <button class="approve" type="submit">Publish this draft</button>
              </form>`
          : null
      }
      ${
        o.published
          ? html`<h2>Published</h2>
              ${show(o.published, o.published.deprecated ? 'Deprecated' : `Version ${o.published.provenance.version}`)}`
          : null
      }
      <p><a href="/console/skills">← Skills</a></p>`,
  );
}

function wikiPage(c: Call, pages: WikiPage[], now: number): Html {
  return page(
    c,
    'Wiki',
    'wiki',
    html`<h1>Wiki</h1>
      ${
        pages.length === 0
          ? html`<p class="empty">No wiki pages yet.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Page</th>
                    <th>Title</th>
                    <th>Status</th>
                    <th>Version</th>
                    <th>Author</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  ${pages.map(
                    (p) =>
                      html`<tr>
                        <td>
                          <a
                            href="/console/wiki/${encodeURIComponent(p.namespace)}/${p.slug.split('/').map(encodeURIComponent).join('/')}"
                            >${visible(`${p.namespace}:${p.slug}`)}</a
                          >
                        </td>
                        <td>${visible(p.title)}</td>
                        <td>${p.status}</td>
                        <td>${p.provenance.version}</td>
                        <td>${visible(p.provenance.author)} <span class="muted">[${p.provenance.trust}]</span></td>
                        <td>${when(p.provenance.at, now)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`,
  );
}

function wikiPageView(c: Call, p: WikiPage, h: VersionInfo[], now: number): Html {
  return page(
    c,
    `Wiki ${p.namespace}:${p.slug}`,
    'wiki',
    html`<h1>${visible(p.title)}</h1>
      <div class="card">
        <div class="meta">
          <span>Page <strong>${visible(`${p.namespace}:${p.slug}`)}</strong></span>
          <span>Status <strong>${p.status}</strong></span>
          <span>Version <strong>${p.provenance.version}</strong></span>
          <span
            >By <strong>${visible(p.provenance.author)}</strong> [${p.provenance.trust}]
            ${when(p.provenance.at, now)}</span
          >
        </div>
        <pre>${lines(p.body)}</pre>
        ${
          p.sources.length
            ? html`<p class="muted">Sources: ${p.sources.map((s) => visible(JSON.stringify(s))).join(' · ')}</p>`
            : null
        }
      </div>
      <h2>History</h2>
      ${historyTable(h, now)}
      <p><a href="/console/wiki">← Wiki</a></p>`,
  );
}

/** The memory, skills and wiki pages, with accepting or rejecting proposals and publishing drafts. */
export function knowledgeRoutes(kit: ConsoleKit, k: KnowledgePorts): ConsoleRoute[] {
  const me = (c: Call): Author => ({ name: `console:${c.session!.label}`, trust: 'operator' });
  const memoryScopes = async () => (await k.knowledge.scopes('memory')).filter((s) => s !== ORG_PROPOSALS);
  const proposal = async (id: string): Promise<Item> => {
    const p = await k.knowledge.get(id, [ORG_PROPOSALS]);
    if (p.deleted) throw new GatehouseError('not_found', 'this proposal was already decided');
    return p;
  };

  const memory = kit.route('GET', '/console/memory', true, async (c) => {
    const items = await k.knowledge.list('memory', await memoryScopes());
    const proposals = await k.knowledge.list('memory', [ORG_PROPOSALS]);
    send(c.res, 200, c.nonce, memoryPage(c, items, proposals, kit.now()));
  });

  const memoryItem = kit.route('GET', '/console/memory/:id', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const scopes = [...(await memoryScopes()), ORG_PROPOSALS];
    const i = await k.knowledge.get(id, scopes);
    send(c.res, 200, c.nonce, itemPage(c, i, await k.knowledge.history(id, scopes), kit.now()));
  });

  const decide = kit.route('POST', '/console/memory/:id/:action', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const action = c.ctx.params.action;
    const p = await proposal(id);
    const path = parseProposalKey(p.key)?.path ?? p.key;
    if (action === 'reject') {
      await k.knowledge.delete(id, [ORG_PROPOSALS], {
        author: me(c),
        expectedVersion: p.provenance.version,
        note: 'rejected in the console',
      });
      await kit.audit(c, 'memory_proposal_rejected', { proposal: id, path, proposer: p.provenance.author });
      return redirect(c.res, c.nonce, '/console/memory?n=proposal-rejected');
    }
    if (action !== 'accept') throw new GatehouseError('not_found', 'no such action');
    const gate = await kit.passkeyGate(c, 'accept-proposal', proposalBinding(p), '/console/memory');
    if (typeof gate === 'string') {
      await kit.audit(c, 'memory_proposal_refused', { proposal: id, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    const applied = await k.knowledge.applyProposal(id, me(c));
    await kit.audit(c, 'memory_proposal_accepted', {
      proposal: id,
      item: applied.id,
      path: applied.key,
      version: applied.provenance.version,
      proposer: p.provenance.author,
      ...(gate ? { passkey: gate.passkey } : {}),
    });
    redirect(c.res, c.nonce, '/console/memory?n=proposal-accepted');
  });

  const skills = kit.route('GET', '/console/skills', true, async (c) => {
    const published = await k.skills.list('published', { includeDeleted: true });
    const drafts = await k.skills.list('draft');
    send(c.res, 200, c.nonce, skillsPage(c, published, drafts, kit.now()));
  });

  const skill = kit.route('GET', '/console/skills/:name', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const published = await k.skills.currentOrNone(name, 'published');
    const draft = await k.skills.currentOrNone(name, 'draft');
    if (!published && !draft) throw new GatehouseError('not_found', `no skill ${JSON.stringify(name)}`);
    const diff = draft ? await k.skills.diff(name, draft.digest) : undefined;
    const replaces = await k.skills.publishedVersion(name);
    send(
      c.res,
      200,
      c.nonce,
      skillPage(
        c,
        name,
        {
          ...(published ? { published } : {}),
          ...(draft ? { draft } : {}),
          ...(diff !== undefined ? { diff } : {}),
          replaces,
        },
        kit.now(),
      ),
    );
  });

  const publish = kit.route('POST', '/console/skills/:name/publish', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const digest = c.form.get('digest') ?? '';
    // INVARIANT: what the person saw is what is published: the digest from the page, over the
    // published version the page showed (a publication in between refuses this one: conflict).
    const replaces = Number(c.form.get('replaces'));
    if (!/^[0-9a-f]{64}$/.test(digest) || !Number.isInteger(replaces) || replaces < 0)
      throw new GatehouseError('invalid_input', 'publish needs the draft digest and the version it replaces');
    const back = `/console/skills/${encodeURIComponent(name)}`;
    const gate = await kit.passkeyGate(c, 'publish-skill', publishBinding(name, digest, replaces), back);
    if (typeof gate === 'string') {
      await kit.audit(c, 'skill_publish_refused', { skill: name, digest, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    const v = await k.skills.publish(name, digest, { author: me(c), expectedVersion: replaces });
    await kit.audit(c, 'skill_published', {
      skill: name,
      digest,
      version: v.provenance.version,
      ...(gate ? { passkey: gate.passkey } : {}),
    });
    redirect(c.res, c.nonce, `${back}?n=skill-published`);
  });

  const wiki = kit.route('GET', '/console/wiki', true, async (c) => {
    const pages = await k.wiki.list(await k.wiki.namespaces());
    send(c.res, 200, c.nonce, wikiPage(c, pages, kit.now()));
  });

  // A slug has segments (`runbooks/deploy`): the rest of the path, each segment decoded.
  const wikiOne = kit.route('GET', '/console/wiki/:ns/*', true, async (c) => {
    const ns = c.ctx.params.ns ?? '';
    let slug: string;
    try {
      slug = (c.ctx.params['*'] ?? '').slice(1).split('/').map(decodeURIComponent).join('/');
    } catch {
      throw new GatehouseError('invalid_input', 'the page name is not valid URL encoding');
    }
    const p = await k.wiki.read(ns, slug);
    send(c.res, 200, c.nonce, wikiPageView(c, p, await k.wiki.history(ns, slug), kit.now()));
  });

  return [memory, memoryItem, decide, skills, skill, publish, wiki, wikiOne];
}
