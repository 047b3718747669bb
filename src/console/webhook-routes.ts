/**
 * The console's webhooks pages: every endpoint with its inbox counts, and one endpoint's recent
 * events (metadata only: type, state, attempts, outcome), with Replay for an event that was
 * handled, failed or died. Bodies stay out of the browser (`gatehouse webhook event ID --body`
 * shows one, scrubbed); so do URLs and secrets, which are shown once, at creation, on the server.
 *
 * INVARIANT: replaying only offers an event again to the agents that may read the endpoint (it
 * adds nothing an agent could not already have been given), so it needs no passkey; it is audited
 * as `webhook_replay`, as from the CLI.
 */
import { visible } from '../approvals/index.js';
import { GatehouseError } from '../core/index.js';
import type { EndpointRepository, InboxStats, StoredEvent, WebhookQueue } from '../webhooks/index.js';
import { when } from './approval-pages.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';

export interface WebhookPorts {
  webhookEndpoints: Pick<EndpointRepository, 'listChecked' | 'get'>;
  webhookQueue: Pick<WebhookQueue, 'stats' | 'events' | 'replay'>;
}

/** Events shown per endpoint page. */
const EVENTS_SHOWN = 100;
/** States an event can be replayed from. */
const REPLAYABLE = new Set(['acked', 'failed', 'dead']);

function listPage(
  c: Call,
  endpoints: { name: string; provider: string; description?: string | undefined; stats: InboxStats | undefined }[],
  rejected: string[],
  now: number,
): Html {
  return layout({
    title: 'Webhooks',
    nonce: c.nonce,
    session: c.page!,
    current: 'webhooks',
    wide: true,
    body: html`<h1>Webhooks</h1>
      ${
        rejected.length
          ? html`<p class="notice" role="alert">
              ${rejected.length} endpoint row(s) fail their integrity check and receive nothing: ${rejected.join(', ')}
            </p>`
          : null
      }
      ${
        endpoints.length === 0
          ? html`<p class="empty">No webhook endpoints. Add one on the server: <code>gatehouse webhook add</code>.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Endpoint</th>
                    <th>Provider</th>
                    <th>Ready</th>
                    <th>Leased</th>
                    <th>Dead</th>
                    <th>Oldest waiting</th>
                  </tr>
                </thead>
                <tbody>
                  ${endpoints.map(
                    (e) =>
                      html`<tr>
                        <td>
                          <a href="/console/webhooks/${encodeURIComponent(e.name)}">${e.name}</a>
                          ${e.description ? html`<br /><span class="muted">${visible(e.description)}</span>` : null}
                        </td>
                        <td>${e.provider}</td>
                        <td>${e.stats?.ready ?? 0}</td>
                        <td>${e.stats?.leased ?? 0}</td>
                        <td>${e.stats?.dead ?? 0}</td>
                        <td>${e.stats?.oldest ? when(e.stats.oldest, now) : '—'}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`,
  });
}

function eventsPage(c: Call, name: string, events: StoredEvent[], now: number): Html {
  const csrf = c.page!.csrf;
  return layout({
    title: `Webhook ${name}`,
    nonce: c.nonce,
    session: c.page!,
    current: 'webhooks',
    wide: true,
    body: html`<h1>Webhook ${name}</h1>
      ${notice(noticeOf(c.ctx.url))}
      ${
        events.length === 0
          ? html`<p class="empty">No events in retention.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Event</th>
                    <th>Type</th>
                    <th>State</th>
                    <th>Attempts</th>
                    <th>Received</th>
                    <th>Outcome</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${events.map(
                    (e) =>
                      html`<tr>
                        <td>
                          <code>${e.id}</code> #${e.seq}${e.intact ? null : html` <strong>integrity failed</strong>`}
                        </td>
                        <td>${visible(e.type ?? '—')}</td>
                        <td>${e.state}</td>
                        <td>${e.attempts}/${e.maxAttempts}</td>
                        <td>${when(e.receivedAt, now)}</td>
                        <td>
                          ${visible(e.outcome ?? '—')}${e.note ? html`<br /><span class="muted">${visible(e.note)}</span>` : null}
                        </td>
                        <td>
                          ${
                            REPLAYABLE.has(e.state) && e.intact
                              ? html`<form
                                  method="post"
                                  action="/console/webhooks/events/${encodeURIComponent(e.id)}/replay"
                                >
                                  <input type="hidden" name="csrf" value="${csrf}" />
                                  <button type="submit">Replay</button>
                                </form>`
                              : null
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      <p class="muted">
        Bodies are not shown here: <code>gatehouse webhook event ID --body</code> shows one, scrubbed.
      </p>
      <p><a href="/console/webhooks">← Webhooks</a></p>`,
  });
}

export function webhookRoutes(kit: ConsoleKit, w: WebhookPorts): ConsoleRoute[] {
  const list = kit.route('GET', '/console/webhooks', true, async (c) => {
    const now = kit.now();
    const { endpoints, rejected } = await w.webhookEndpoints.listChecked();
    const stats = await w.webhookQueue.stats(
      endpoints.map((e) => e.name),
      now,
    );
    const rows = endpoints.map((e) => ({
      name: e.name,
      provider: e.config.provider,
      description: e.config.description,
      stats: stats.get(e.name),
    }));
    send(c.res, 200, c.nonce, listPage(c, rows, rejected, now));
  });

  const events = kit.route('GET', '/console/webhooks/:name', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    await w.webhookEndpoints.get(name);
    const now = kit.now();
    send(
      c.res,
      200,
      c.nonce,
      eventsPage(c, name, await w.webhookQueue.events(name, { limit: EVENTS_SHOWN }, now), now),
    );
  });

  const replay = kit.route('POST', '/console/webhooks/events/:id/replay', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw new GatehouseError('invalid_input', 'not a webhook event id');
    const e = await w.webhookQueue.replay(id, kit.now());
    await kit.rt.audit.append({
      phase: 'event',
      tool: 'webhook_replay',
      target: e.endpoint,
      outcome: 'ok',
      approver: `console:${c.session!.label}`,
      client: c.ctx.client,
      detail: { event: id, by: `console:${c.session!.label}` },
    });
    redirect(c.res, c.nonce, `/console/webhooks/${encodeURIComponent(e.endpoint)}?n=event-replayed`);
  });

  return [list, events, replay];
}
