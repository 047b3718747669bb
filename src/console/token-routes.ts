import { GatehouseError } from '../core/index.js';
import { formatGrant, type TokenInfo } from '../gate/index.js';
import { CONNECT_FORM_SCRIPT } from './client-scripts.js';
import { scopeFields, specBinding, specOf } from './connect-routes.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';

/** What the tokens page needs of the token service beyond creating one (ConsolePorts has that). */
export interface TokenAdminPorts {
  list(): Promise<TokenInfo[]>;
  removeAddedGrants(tokenId: string, grant?: string): Promise<number>;
  rotate(idOrName: string): Promise<{ token: string; info: TokenInfo }>;
  revoke(idOrName: string): Promise<TokenInfo>;
}

function stateOf(t: TokenInfo, now: number): string {
  if (!t.verified) return 'tampered';
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

function tokenRow(c: Call, t: TokenInfo, client: string | undefined, now: number): Html {
  const s = c.page!;
  const state = stateOf(t, now);
  const name = encodeURIComponent(t.name);
  return html`<tr>
    <td><strong>${t.name}</strong>${t.admin ? html` <span class="status denied">admin</span>` : null}</td>
    <td class="action">
      ${t.grants.map(formatGrant).join(' ') || '(none)'}
      ${t.addedGrants.map(
        (g) =>
          html`<form class="inline" method="post" action="/console/tokens/${name}/ungrant">
            <input type="hidden" name="csrf" value="${s.csrf}" />
            <input type="hidden" name="grant" value="${g.grant}" />
            <span class="muted">+ ${g.grant}${g.until ? ` until ${g.until}` : ''}</span>
            <button class="link" type="submit">remove</button>
          </form>`,
      )}
    </td>
    <td>${t.approvalMode ?? 'default'}</td>
    <td><span class="status ${state === 'active' ? 'approved' : 'denied'}">${state}</span></td>
    <td>${t.lastUsedAt ?? 'never'}${client ? html`<br /><span class="muted">${client}</span>` : null}</td>
    <td>${t.expiresAt ?? 'never'}</td>
    <td>
      ${
        state === 'active' && !t.admin
          ? html`<form method="post" action="/console/tokens/${name}/rotate" data-rotate="${t.name}">
                <input type="hidden" name="csrf" value="${s.csrf}" />
                <input type="hidden" name="assertion" value="" />
                <button type="submit">Rotate</button>
              </form>
              <form method="post" action="/console/tokens/${name}/revoke">
                <input type="hidden" name="csrf" value="${s.csrf}" />
                <button class="deny" type="submit">Revoke</button>
              </form>`
          : null
      }
    </td>
  </tr>`;
}

function createForm(c: Call): Html {
  const s = c.page!;
  return html`<form
    id="connect"
    class="card connect"
    method="post"
    action="/console/tokens"
    data-purpose="create-token"
  >
    <input type="hidden" name="csrf" value="${s.csrf}" />
    <input type="hidden" name="assertion" value="" />
    <input type="hidden" name="client" value="claude-code" />
    ${scopeFields('e.g. ci-deployer')}
    <div class="buttons">
      <button class="approve" type="submit">${s.passkeys ? 'Create token with passkey' : 'Create token'}</button>
      <span class="muted"
        >The token is shown once. To keep it off screens and shell histories, use
        <a href="/console/connect">Connect</a> instead.</span
      >
    </div>
  </form>`;
}

function tokensPage(c: Call, tokens: TokenInfo[], clients: Map<string, string>, now: number): Html {
  return layout({
    title: 'Tokens',
    nonce: c.nonce,
    session: c.page!,
    current: 'tokens',
    wide: true,
    script: CONNECT_FORM_SCRIPT + ROTATE_SCRIPT,
    body: html`<h1>Tokens</h1>
      ${notice(noticeOf(c.ctx.url))}
      <div class="table">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Grants</th>
              <th>Approvals</th>
              <th>State</th>
              <th>Last used</th>
              <th>Expires</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${tokens.map((t) => tokenRow(c, t, clients.get(t.id), now))}
          </tbody>
        </table>
      </div>
      <h2>Create an agent token</h2>
      ${createForm(c)}
      <p class="muted">Admin tokens are made on the server only: <code>gatehouse token create --admin</code>.</p>`,
  });
}

/** Rotating makes a new secret: with passkeys required, a touch bound to that token. */
const ROTATE_SCRIPT = `
if (document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  for (const form of document.querySelectorAll('form[data-rotate]'))
    form.addEventListener('submit', (e) =>
      signedSubmit(e, form, async (f) => {
        f.elements.namedItem('assertion').value = await passkeyAnswer('rotate-token', f.dataset.rotate);
      }),
    );
}
`;

function secretPage(c: Call, what: string, info: TokenInfo, token: string): Html {
  return layout({
    title: 'Token',
    nonce: c.nonce,
    session: c.page!,
    current: 'tokens',
    body: html`<h1>${what} ${info.name}</h1>
      <div class="card">
        <p>Copy the token now: it is shown this once and cannot be shown again.</p>
        <pre>${token}</pre>
        <p class="muted">Grants: ${info.grants.map(formatGrant).join(' ') || '(none)'}</p>
      </div>
      <p><a href="/console/tokens">← Tokens</a></p>`,
  });
}

/**
 * The tokens page: list (state, grants, last use and client), create (agent tokens only), rotate
 * and revoke. INVARIANTS: a cookie alone never mints a secret once passkeys are required (create
 * and rotate need a touch bound to the exact scope or token); revoking needs none (it only takes
 * power away); admin tokens are neither made nor rotated here; every change is audited.
 */
export function tokenRoutes(kit: ConsoleKit, tokens: TokenAdminPorts): ConsoleRoute[] {
  const rt = kit.rt;

  const page = kit.route('GET', '/console/tokens', true, async (c) => {
    const all = await tokens.list();
    const seen = await rt.clients.lastSeen(all.map((t) => t.id));
    const clients = new Map([...seen].map(([id, s]) => [id, `${s.name} ${s.version} (${s.transport})`]));
    send(c.res, 200, c.nonce, tokensPage(c, all, clients, kit.now()));
  });

  const passkeyGate = kit.passkeyGate.bind(kit);

  const create = kit.route('POST', '/console/tokens', true, async (c) => {
    const spec = specOf(c.form);
    const gate = await passkeyGate(c, 'create-token', specBinding(spec), '/console/tokens');
    if (typeof gate === 'string') {
      await kit.audit(c, 'token_create_refused', { token: spec.name, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    const made = await rt.tokens.create({
      name: spec.name,
      grants: spec.grants,
      ...(spec.approvalMode ? { approvalMode: spec.approvalMode } : {}),
      ...(spec.expiresInMs ? { expiresInMs: spec.expiresInMs } : {}),
    });
    await kit.audit(c, 'token_created', {
      tokenId: made.info.id,
      token: made.info.name,
      grants: spec.grants,
      ...(gate ? { passkey: gate.passkey } : {}),
    });
    send(c.res, 200, c.nonce, secretPage(c, 'Created', made.info, made.token));
  });

  const rotate = kit.route('POST', '/console/tokens/:name/rotate', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const t = (await tokens.list()).find((x) => x.name === name);
    if (!t) throw new GatehouseError('not_found', `no token ${JSON.stringify(name)}`);
    if (t.admin)
      throw new GatehouseError('not_granted', 'admin tokens are rotated on the server: gatehouse token rotate');
    const gate = await passkeyGate(c, 'rotate-token', t.id, '/console/tokens');
    if (typeof gate === 'string') {
      await kit.audit(c, 'token_rotate_refused', { tokenId: t.id, token: t.name, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    const made = await tokens.rotate(t.id);
    await kit.audit(c, 'token_rotated', { tokenId: t.id, token: t.name, ...(gate ? { passkey: gate.passkey } : {}) });
    send(c.res, 200, c.nonce, secretPage(c, 'Rotated', made.info, made.token));
  });

  const revoke = kit.route('POST', '/console/tokens/:name/revoke', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const t = (await tokens.list()).find((x) => x.name === name);
    if (!t) throw new GatehouseError('not_found', `no token ${JSON.stringify(name)}`);
    if (t.admin)
      throw new GatehouseError('not_granted', 'admin tokens are revoked on the server: gatehouse token revoke');
    await tokens.revoke(t.id);
    await kit.audit(c, 'token_revoked', { tokenId: t.id, token: t.name });
    redirect(c.res, c.nonce, '/console/tokens?n=token-revoked');
  });

  /** Removes a grant an approved access request added (it only takes power away: no passkey). */
  const ungrant = kit.route('POST', '/console/tokens/:name/ungrant', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const t = (await tokens.list()).find((x) => x.name === name);
    if (!t) throw new GatehouseError('not_found', `no token ${JSON.stringify(name)}`);
    const grant = c.form.get('grant') ?? '';
    const n = await tokens.removeAddedGrants(t.id, grant);
    await kit.audit(c, 'grant_removed', { tokenId: t.id, token: t.name, grant, removed: n });
    redirect(c.res, c.nonce, '/console/tokens?n=grant-removed');
  });

  return [page, create, rotate, revoke, ungrant];
}
