import { isApprovalId } from '../approvals/index.js';
import { GatehouseError, toGatehouseError } from '../core/index.js';
import { PASSKEYS_PAGE_SCRIPT } from './client-scripts.js';
import { isoOf } from './approval-pages.js';
import { html } from './html.js';
import { redirect, send, sendJson, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';
import { accessBinding } from './access-routes.js';
import { secretBinding } from './inventory-routes.js';
import { specBinding, specOf } from './connect-routes.js';
import { relyingParty, type PasskeyInfo } from './passkeys.js';
import { proposalBinding, publishBinding } from './knowledge-routes.js';
import { ORG_PROPOSALS } from '../knowledge/index.js';

/** What an approval's passkey challenge is bound to: the approval and the exact action it covers. */
export function approvalBinding(a: { id: string; digest: string }): string {
  return `${a.id}\u0000${a.digest}`;
}

function passkeysPage(c: Call, keys: PasskeyInfo[], usable: boolean) {
  const s = c.page!;
  return layout({
    title: 'Passkeys',
    nonce: c.nonce,
    session: s,
    current: 'passkeys',
    script: PASSKEYS_PAGE_SCRIPT,
    body: html`<h1>Passkeys</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Every server on <code>localhost</code> shares cookies whatever its port, so a console cookie alone should not
        approve anything. With a passkey registered, approving a request and adding or removing a passkey need a fresh
        touch of one, bound to exactly what it decides.
      </p>
      ${usable ? null : notice('passkey-host')}
      ${
        keys.length === 0
          ? html`<p class="empty">No passkey yet: approvals need only this session.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Added</th>
                    <th>Last used</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${keys.map(
                    (k) =>
                      html`<tr>
                        <td>${k.label}</td>
                        <td>${isoOf(k.createdAt) ?? '?'} by ${k.createdBy}</td>
                        <td>${k.lastUsedAt === null ? 'never' : (isoOf(k.lastUsedAt) ?? '?')}</td>
                        <td>
                          <form method="post" action="/console/passkeys/remove" data-remove="${k.id}">
                            <input type="hidden" name="csrf" value="${s.csrf}" />
                            <input type="hidden" name="id" value="${k.id}" />
                            <input type="hidden" name="assertion" value="" />
                            <button class="deny" type="submit" disabled>Remove</button>
                          </form>
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      <h2>Add a passkey</h2>
      <form
        id="add-passkey"
        class="card"
        method="post"
        action="/console/passkeys"
        data-need="${keys.length > 0 ? 'assertion' : 'setup'}"
      >
        <input type="hidden" name="csrf" value="${s.csrf}" />
        <input type="hidden" name="credential" value="" />
        <input type="hidden" name="assertion" value="" />
        ${
          keys.length === 0
            ? html`<label for="passkey-setup">Setup code</label>
                <input id="passkey-setup" name="setup" type="text" required autocomplete="off" spellcheck="false" />
                <p class="muted">
                  The first passkey needs a setup code from the server: run
                  <code>gatehouse console --passkey-setup</code> there (good once, for 10 minutes).
                </p>`
            : null
        }
        <label for="passkey-label">Name</label>
        <input id="passkey-label" name="label" type="text" maxlength="60" required placeholder="e.g. work laptop" />
        <p class="muted">
          ${keys.length > 0 ? 'You will touch an existing passkey first, then the new one. ' : null}This needs
          JavaScript (WebAuthn is a browser API).
        </p>
        <button class="approve" type="submit" disabled>Add passkey</button>
      </form>`,
  });
}

/** The passkeys page, the challenge options the pages' scripts ask for, adding and removing. */
export function passkeyRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const rt = kit.rt;

  const page = kit.route('GET', '/console/passkeys', true, async (c) => {
    const keys = await (await kit.passkeys()).list();
    send(c.res, 200, c.nonce, passkeysPage(c, keys, relyingParty(c.origin) !== null));
  });

  /**
   * Options for a ceremony, for the page's script. The binding is computed here from what the
   * purpose names (an approval's digest is read from the store), never taken from the request.
   */
  const options = kit.route('POST', '/console/passkeys/options', true, async (c) => {
    try {
      const rp = relyingParty(c.origin);
      if (!rp)
        throw new GatehouseError('invalid_input', 'passkeys need the console at http://localhost:PORT, not an IP');
      const keys = await kit.passkeys();
      const session = c.session!;
      const purpose = c.form.get('purpose');
      const id = c.form.get('id') ?? '';
      let out: unknown;
      if (purpose === 'register') out = await keys.registrationOptions(rp, session.idHash, session.label);
      else if (purpose === 'add-passkey')
        out = await keys.assertionOptions(rp, purpose, session.idHash, session.idHash);
      else if (purpose === 'remove-passkey') out = await keys.assertionOptions(rp, purpose, id, session.idHash);
      else if (purpose === 'create-token' || purpose === 'enroll')
        out = await keys.assertionOptions(rp, purpose, specBinding(specOf(c.form)), session.idHash);
      else if (purpose === 'grant-access')
        out = await keys.assertionOptions(rp, purpose, accessBinding(c.form, id), session.idHash);
      else if (purpose === 'set-secret')
        out = await keys.assertionOptions(rp, purpose, secretBinding(c.form), session.idHash);
      else if (purpose === 'accept-proposal') {
        const p = await rt.knowledge.get(id, [ORG_PROPOSALS]);
        if (p.deleted) throw new GatehouseError('not_found', 'this proposal was already decided');
        out = await keys.assertionOptions(rp, purpose, proposalBinding(p), session.idHash);
      } else if (purpose === 'publish-skill')
        out = await keys.assertionOptions(
          rp,
          purpose,
          publishBinding(id, c.form.get('digest') ?? '', Number(c.form.get('replaces'))),
          session.idHash,
        );
      else if (purpose === 'takeover') {
        if (!(await (await rt.sessionControl()).info(id)))
          throw new GatehouseError('not_found', 'no such open session');
        out = await keys.assertionOptions(rp, purpose, id, session.idHash);
      } else if (purpose === 'rotate-token') {
        const t = (await rt.tokens.list()).find((x) => x.name === id);
        if (!t) throw new GatehouseError('not_found', 'no such token');
        out = await keys.assertionOptions(rp, purpose, t.id, session.idHash);
      } else if (purpose === 'approve') {
        const a = isApprovalId(id) ? await rt.approvals.get(id) : null;
        if (!a || a.status !== 'pending') throw new GatehouseError('not_found', 'no such pending approval');
        out = await keys.assertionOptions(rp, purpose, approvalBinding(a), session.idHash);
      } else throw new GatehouseError('invalid_input', 'unknown passkey purpose');
      sendJson(c.res, 200, c.nonce, { options: out });
    } catch (e) {
      const err = toGatehouseError(e);
      if (err.code === 'internal') throw e;
      sendJson(c.res, err.code === 'not_found' ? 404 : 400, c.nonce, { error: err.message, code: err.code });
    }
  });

  const add = kit.route('POST', '/console/passkeys', true, async (c) => {
    const rp = relyingParty(c.origin);
    if (!rp) return redirect(c.res, c.nonce, '/console/passkeys?n=passkey-host');
    const keys = await kit.passkeys();
    const session = c.session!;
    try {
      // INVARIANT: a cookie alone never adds a passkey. With one registered, adding another needs
      // a touch of it; the first needs a setup code from the server's shell (`gatehouse console
      // --passkey-setup`), or whoever held a stolen cookie could make themselves a lasting approver.
      let by: PasskeyInfo | null = null;
      if ((await keys.list()).length > 0)
        by = await keys.verify(rp, 'add-passkey', session.idHash, session.idHash, c.form.get('assertion') ?? '');
      else if (!(await (await kit.sessions()).spendPasskeySetupCode((c.form.get('setup') ?? '').trim()))) {
        await kit.audit(c, 'passkey_add_refused', { reason: 'setup-code' });
        return redirect(c.res, c.nonce, '/console/passkeys?n=passkey-setup');
      }
      const added = await keys.register(rp, session.idHash, c.form.get('credential') ?? '', {
        label: (c.form.get('label') ?? '').trim(),
        createdBy: `console:${session.label}`,
      });
      await kit.audit(c, 'passkey_added', {
        passkey: added.label,
        fingerprint: added.fingerprint,
        ...(by ? { confirmedWith: by.fingerprint } : { with: 'setup-code' }),
      });
    } catch (e) {
      const err = toGatehouseError(e);
      if (err.code === 'internal') throw e;
      await kit.audit(c, 'passkey_add_refused', { reason: err.message });
      if (err.code === 'invalid_input' || err.code === 'limit_exceeded' || err.code === 'conflict') throw e;
      return redirect(c.res, c.nonce, '/console/passkeys?n=passkey-failed');
    }
    redirect(c.res, c.nonce, '/console/passkeys?n=passkey-added');
  });

  const remove = kit.route('POST', '/console/passkeys/remove', true, async (c) => {
    const rp = relyingParty(c.origin);
    if (!rp) return redirect(c.res, c.nonce, '/console/passkeys?n=passkey-host');
    const keys = await kit.passkeys();
    const id = c.form.get('id') ?? '';
    try {
      const by = await keys.verify(rp, 'remove-passkey', id, c.session!.idHash, c.form.get('assertion') ?? '');
      const gone = (await keys.list()).find((k) => k.id === id);
      if (!gone || !(await keys.remove(id))) throw new GatehouseError('not_found', 'no such passkey');
      await kit.audit(c, 'passkey_removed', {
        passkey: gone.label,
        fingerprint: gone.fingerprint,
        confirmedWith: by.fingerprint,
      });
    } catch (e) {
      const err = toGatehouseError(e);
      if (err.code === 'internal') throw e;
      await kit.audit(c, 'passkey_remove_refused', { reason: err.message });
      return redirect(c.res, c.nonce, '/console/passkeys?n=passkey-failed');
    }
    redirect(c.res, c.nonce, '/console/passkeys?n=passkey-removed');
  });

  return [page, options, add, remove];
}
