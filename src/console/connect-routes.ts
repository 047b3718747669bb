import { createHash } from 'node:crypto';
import { clientSetup, CLIENTS, isClientKind, TOKEN_ENV, type ClientKind } from '../connect/index.js';
import { GatehouseError } from '../core/index.js';
import {
  EnrollmentCodes,
  ENROLLMENT_TTL_MS,
  parseTokenSpec,
  type EnrollmentSpec,
  type EnrollmentTokens,
  type ClientRegistry,
} from '../gate/index.js';
import { CONNECT_FORM_SCRIPT, CONNECT_SCRIPT } from './client-scripts.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { openStream, pollWhileOpen } from './live.js';
import { layout, notice, noticeOf, type PageSession } from './pages.js';

/** What the Connect page needs beyond the console's ports: token creation and the clients seen. */
export interface ConnectPorts {
  tokens: EnrollmentTokens;
  clients: Pick<ClientRegistry, 'lastSeen'>;
}

/** The token an enrollment or token form asks for, checked; anything off is `invalid_input`. */
export function specOf(form: URLSearchParams): EnrollmentSpec {
  const client = form.get('client') ?? '';
  if (!isClientKind(client)) throw new GatehouseError('invalid_input', `pick a client: ${CLIENTS.join(', ')}`);
  return parseTokenSpec({
    name: form.get('name'),
    grants: form.get('grants'),
    approval: form.get('approval'),
    expires: form.get('expires'),
    client,
  });
}

/** A token scope's form fields (name, grants, approval mode, expiry): the Connect and tokens pages. */
export function scopeFields(namePlaceholder: string): Html {
  return html`<label
      >Token name<input type="text" name="name" required maxlength="64" placeholder="${namePlaceholder}"
    /></label>
    <label
      >Grants<input
        type="text"
        name="grants"
        placeholder="tool:discover tool:api_request target:github"
        spellcheck="false"
    /></label>
    <label
      >Approvals<select name="approval">
        <option value="">default (ask in the client, else out of band)</option>
        <option value="out-of-band">out of band (console, CLI)</option>
        <option value="elicitation">in the client (elicitation)</option>
        <option value="totp">TOTP code</option>
      </select></label
    >
    <label>Expires after<input type="text" name="expires" placeholder="30d (empty: never)" /></label>`;
}

/** What a passkey touch for creating this token is bound to: the exact scope, as JSON. */
export function specBinding(spec: EnrollmentSpec): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        spec.name,
        spec.grants,
        spec.approvalMode ?? null,
        spec.expiresInMs ?? null,
        spec.client ?? null,
      ]),
    )
    .digest('hex');
}

function connectForm(s: PageSession): Html {
  return html`<form id="connect" class="card connect" method="post" action="/console/connect" data-purpose="enroll">
    <input type="hidden" name="csrf" value="${s.csrf}" />
    <input type="hidden" name="assertion" value="" />
    <label
      >Client<select name="client">
        ${CLIENTS.map((c) => html`<option value="${c}">${c}</option>`)}
      </select></label
    >
    <label
      >Transport<select name="transport">
        <option value="stdio">stdio (the client starts gatehouse mcp on this machine)</option>
        <option value="http">Streamable HTTP (this server's /mcp)</option>
      </select></label
    >
    ${scopeFields('e.g. claude-laptop')}
    <div class="buttons">
      <button class="approve" type="submit">
        ${s.passkeys ? 'Create enrollment code with passkey' : 'Create enrollment code'}
      </button>
    </div>
  </form>`;
}

function connectPage(c: Call): Html {
  return layout({
    title: 'Connect an agent',
    nonce: c.nonce,
    session: c.page!,
    current: 'connect',
    script: CONNECT_FORM_SCRIPT,
    body: html`<h1>Connect an agent</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Choose what the agent's token may do. You get a one-time enrollment code (good for ${ENROLLMENT_TTL_MS / 60000}
        minutes); <code>gatehouse connect</code> on the agent's machine turns it into the token and writes it into a
        file the client's setup names, so the token is never shown, pasted, or kept in a shell history.
      </p>
      ${connectForm(c.page!)}`,
  });
}

function enrolledPage(
  c: Call,
  o: { code: string; codeHash: string; spec: EnrollmentSpec; transport: 'stdio' | 'http' },
): Html {
  const client = o.spec.client as ClientKind;
  const url = `${c.origin}/mcp`;
  const command = `gatehouse connect ${client} --enroll ${o.code}${o.transport === 'http' ? ` --http ${url}` : ''} --write`;
  const setup = clientSetup(
    client,
    o.transport === 'http'
      ? { transport: 'http', url }
      : { transport: 'stdio', command: ['gatehouse'], tokenFile: `GATEHOUSE_HOME/agent-tokens/${o.spec.name}.token` },
  );
  return layout({
    title: 'Connect an agent',
    nonce: c.nonce,
    session: c.page!,
    current: 'connect',
    script: CONNECT_SCRIPT,
    body: html`<h1>Connect ${client}</h1>
      <div class="card">
        <p>In your project folder on the agent's machine, run (once, within ${ENROLLMENT_TTL_MS / 60000} minutes):</p>
        <pre>${command}</pre>
        <p class="muted">
          It creates token <strong>${o.spec.name}</strong> (grants: ${o.spec.grants.join(' ') || 'none'}), writes it
          into a file readable only by you, and merges this into <code>${setup.file}</code>:
        </p>
        <pre>${setup.text}</pre>
        ${o.transport === 'http' ? html`<p class="muted">Then start the client with ${TOKEN_ENV} set from that file.</p>` : null}
        <p class="live" id="connect-status" data-code="${o.codeHash}" data-state="off" role="status">
          Waiting for the code to be used…
        </p>
      </div>
      <p><a href="/console/connect">Connect another agent</a></p>`,
  });
}

/** The Connect page: choose a scope, get a one-time enrollment code, watch the first call arrive. */
export function connectRoutes(kit: ConsoleKit, ports: ConnectPorts): ConsoleRoute[] {
  const codes = async () =>
    new EnrollmentCodes(kit.rt.store, await kit.rt.keyring.internalKey('store-integrity'), ports.tokens, kit.now);

  const page = kit.route('GET', '/console/connect', true, async (c) => {
    send(c.res, 200, c.nonce, connectPage(c));
  });

  /**
   * Creating an enrollment code creates a token later, so with a passkey registered it needs a
   * touch bound to the exact scope (specBinding): a cookie alone never mints a token.
   */
  const create = kit.route('POST', '/console/connect', true, async (c) => {
    const spec = specOf(c.form);
    const transport = c.form.get('transport') === 'http' ? 'http' : 'stdio';
    const gate = await kit.passkeyGate(c, 'enroll', specBinding(spec), '/console/connect');
    if (typeof gate === 'string') {
      await kit.audit(c, 'enrollment_refused', { token: spec.name, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    const made = await (await codes()).create(spec, `console:${c.session!.label}`);
    await kit.audit(c, 'enrollment_code', {
      token: spec.name,
      grants: spec.grants,
      client: spec.client,
      ...(gate ? { passkey: gate.passkey } : {}),
    });
    send(c.res, 200, c.nonce, enrolledPage(c, { code: made.code, codeHash: made.codeHash, spec, transport }));
  });

  /** Live: the code used (the token made), then the first client seen with that token. */
  const status = kit.route(
    'GET',
    '/console/connect/status',
    true,
    async (c) => {
      const codeHash = c.ctx.url.searchParams.get('code') ?? '';
      if (!/^[0-9a-f]{64}$/.test(codeHash)) throw new GatehouseError('invalid_input', 'no such enrollment');
      const store = await codes();
      const stream = openStream(kit, c);
      if (!stream) return;
      let said = '';
      await pollWhileOpen(stream, kit.opts.pollMs ?? 1000, async () => {
        const row = await store.tokenOf(codeHash);
        let state: { state: string; text: string };
        if (!row) state = { state: 'gone', text: 'No such enrollment code.' };
        else if (row.tokenId === null)
          state =
            row.expiresAt <= kit.now()
              ? { state: 'expired', text: 'The code expired unused. Create a new one.' }
              : { state: 'waiting', text: 'Waiting for the code to be used…' };
        else {
          const seen = (await ports.clients.lastSeen([row.tokenId])).get(row.tokenId);
          state = seen
            ? { state: 'connected', text: `Connected: ${seen.name} ${seen.version} (${seen.transport}).` }
            : { state: 'enrolled', text: 'Token created. Waiting for the first call…' };
        }
        if (state.text !== said && (await stream.send('status', state.state, state))) said = state.text;
        return false;
      });
    },
    { touch: false, sameOriginOnly: true },
  );

  return [page, create, status];
}
