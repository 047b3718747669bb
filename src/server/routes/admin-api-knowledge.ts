import type { AdminRoute, AdminRouteContext } from '../../approvals/index.js';
import { GatehouseError } from '../../core/index.js';
import { ORG_PROPOSALS, type Author } from '../../knowledge/index.js';
import type { Runtime } from '../runtime.js';
import { adminAudit } from './admin-api.js';

const MAX_BODY = 16 * 1024;
const EVENTS_MAX = 500;

/**
 * The admin JSON API for what the console's memory, skills, wiki and webhooks pages do: list
 * memories and proposals, accept or reject a proposal, list skills and publish a draft by digest
 * over the published version the caller saw, list wiki pages, list webhook endpoints and events
 * (never bodies), replay an event. Admin token only; every change is an audit record with tool
 * `admin_api` (a replay also `webhook_replay`, as from the CLI and the console).
 */
export function adminKnowledgeRoutes(rt: Runtime): AdminRoute[] {
  const audit = adminAudit(rt);
  const me = (ctx: AdminRouteContext): Author => ({ name: `api:${ctx.principal.tokenName}`, trust: 'operator' });
  const memoryScopes = async () => (await rt.knowledge.scopes('memory')).filter((s) => s !== ORG_PROPOSALS);

  return [
    {
      method: 'GET',
      path: '/admin/memory',
      maxBodyBytes: 0,
      handle: async () => ({
        memories: await rt.knowledge.list('memory', await memoryScopes()),
        proposals: await rt.knowledge.list('memory', [ORG_PROPOSALS]),
      }),
    },
    {
      method: 'POST',
      path: '/admin/memory/proposals/:id/:decision',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const id = ctx.params.id ?? '';
        const p = await rt.knowledge.get(id, [ORG_PROPOSALS]);
        if (p.deleted) throw new GatehouseError('not_found', 'this proposal was already decided');
        if (ctx.params.decision === 'reject') {
          await rt.knowledge.delete(id, [ORG_PROPOSALS], {
            author: me(ctx),
            expectedVersion: p.provenance.version,
            note: 'rejected through the admin API',
          });
          await audit(ctx, 'memory_proposal_rejected', { proposal: id, proposer: p.provenance.author });
          return { rejected: id };
        }
        if (ctx.params.decision !== 'accept') throw new GatehouseError('not_found', 'decisions: accept, reject');
        const applied = await rt.knowledge.applyProposal(id, me(ctx));
        await audit(ctx, 'memory_proposal_accepted', {
          proposal: id,
          item: applied.id,
          path: applied.key,
          version: applied.provenance.version,
          proposer: p.provenance.author,
        });
        return { item: applied };
      },
    },
    {
      method: 'GET',
      path: '/admin/skills',
      maxBodyBytes: 0,
      handle: async () => ({
        published: await rt.skills.list('published', { includeDeleted: true }),
        drafts: await rt.skills.list('draft'),
      }),
    },
    {
      method: 'POST',
      path: '/admin/skills/:name/publish',
      maxBodyBytes: MAX_BODY,
      handle: async (ctx) => {
        const name = ctx.params.name ?? '';
        const { digest, replaces } = ctx.body;
        if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))
          throw new GatehouseError('invalid_input', 'digest is the 64-hex digest of the version to publish');
        if (typeof replaces !== 'number' || !Number.isInteger(replaces) || replaces < 0)
          throw new GatehouseError('invalid_input', 'replaces is the published version you read (0: none)');
        const v = await rt.skills.publish(name, digest, { author: me(ctx), expectedVersion: replaces });
        await audit(ctx, 'skill_published', { skill: name, digest, version: v.provenance.version });
        return { published: { name, digest, version: v.provenance.version } };
      },
    },
    {
      method: 'GET',
      path: '/admin/wiki',
      maxBodyBytes: 0,
      handle: async () => ({ pages: await rt.wiki.list(await rt.wiki.namespaces()) }),
    },
    {
      method: 'GET',
      path: '/admin/webhooks',
      maxBodyBytes: 0,
      handle: async () => {
        const { endpoints, rejected } = await rt.webhookEndpoints.listChecked();
        const stats = await rt.webhookQueue.stats(endpoints.map((e) => e.name));
        return {
          endpoints: endpoints.map((e) => ({
            name: e.name,
            provider: e.config.provider,
            description: e.config.description ?? null,
            stats: stats.get(e.name) ?? null,
          })),
          rejected,
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/webhooks/:name/events',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const name = ctx.params.name ?? '';
        await rt.webhookEndpoints.get(name);
        const limit = Number(ctx.query.get('limit') ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > EVENTS_MAX)
          throw new GatehouseError('invalid_input', `limit is 1 to ${EVENTS_MAX}`);
        const events = await rt.webhookQueue.events(name, { limit });
        // Bodies and headers stay out: `gatehouse webhook event ID --body` shows one, scrubbed.
        return { events: events.map(({ body: _body, headers: _headers, ...meta }) => meta) };
      },
    },
    {
      method: 'POST',
      path: '/admin/webhooks/events/:id/replay',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const id = ctx.params.id ?? '';
        const e = await rt.webhookQueue.replay(id);
        await audit(
          ctx,
          'ok',
          { event: id, by: `api:${ctx.principal.tokenName}`, endpoint: e.endpoint },
          'webhook_replay',
        );
        return { event: id, endpoint: e.endpoint, state: 'pending' };
      },
    },
  ];
}
