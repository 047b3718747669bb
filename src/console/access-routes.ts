import { approveAccess, type AccessRequest } from '../access/index.js';
import { GatehouseError, parseDuration, toGatehouseError, truncateText } from '../core/index.js';
import { accessWhere, isoOf } from './approval-pages.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';
import { relyingParty } from './passkeys.js';

/** What a passkey touch for approving an access request is bound to: the request and exactly what it grants. */
export function accessBinding(form: URLSearchParams, id: string): string {
  return JSON.stringify([
    id,
    (form.get('target') ?? '').trim(),
    form.get('host_key') ?? '',
    (form.get('for') ?? '').trim(),
    form.get('auth') ?? 'bearer',
    (form.get('auth_name') ?? '').trim(),
    form.get('allow_private') === 'yes',
  ]);
}

/** A target name suggested from what was asked (the person may change it). */
function suggestedName(r: AccessRequest): string {
  const base =
    r.host
      .split('.')[0]
      ?.toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-') ?? 'target';
  return truncateText(/^[a-z]/.test(base) ? base : `t-${base}`, 60, '');
}

function requestPage(c: Call, r: AccessRequest, o: { hostKey?: string; keyType?: string; error?: string } = {}): Html {
  const s = c.page!;
  const id = encodeURIComponent(r.id);
  const pending = r.status === 'pending' && r.verified;
  const canApprove = pending && (r.kind === 'http' || o.hostKey !== undefined);
  return layout({
    title: `Access request ${r.id}`,
    nonce: c.nonce,
    session: s,
    current: 'approvals',
    script: ACCESS_SCRIPT,
    body: html`<p><a href="/console/">← Approvals</a></p>
      ${notice(noticeOf(c.ctx.url))} ${o.error ? html`<p class="notice" role="alert">${o.error}</p>` : null}
      <article class="card">
        <div class="meta">
          <span class="status ${r.status}">${r.verified ? r.status : 'tampered'}</span>
          <span>token <strong>${r.tokenName}</strong></span>
          <span>${r.id}</span>
        </div>
        <h1>${r.kind === 'ssh' ? 'SSH' : 'HTTP API'}: ${accessWhere(r)}</h1>
        <p>${r.reason}</p>
        ${
          r.status === 'approved'
            ? html`<p class="muted">
                Approved by ${r.decidedBy ?? '?'} as target
                <strong>${r.target ?? '?'}</strong>${r.grantUntil ? ` until ${isoOf(r.grantUntil) ?? '?'}` : ''}.
              </p>`
            : r.status === 'denied'
              ? html`<p class="muted">Denied by ${r.decidedBy ?? '?'}${r.note ? html`: “${r.note}”` : null}.</p>`
              : null
        }
      </article>
      ${
        pending && r.kind === 'ssh' && o.hostKey === undefined
          ? html`<form class="card" method="post" action="/console/requests/${id}/hostkey">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <p>
                First read the host key of ${r.host}:${r.port ?? 22}, to compare it with the host's own before it is
                pinned.
              </p>
              <button type="submit">Fetch the host key</button>
            </form>`
          : null
      }
      ${
        canApprove
          ? html`<form id="grant" class="card connect" method="post" action="/console/requests/${id}/approve">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <input type="hidden" name="assertion" value="" />
              <input type="hidden" name="id" value="${r.id}" />
              ${
                o.hostKey
                  ? html`<input type="hidden" name="host_key" value="${o.hostKey}" />
                      <p class="wide">
                        Host key (${o.keyType ?? '?'}): <code>${o.hostKey}</code><br />
                        <label
                          ><input type="checkbox" name="host_key_confirmed" value="yes" required /> I compared this
                          fingerprint with the host's (e.g. <code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code> on
                          it).</label
                        >
                      </p>`
                  : null
              }
              <label
                >Target name<input type="text" name="target" required maxlength="63" value="${suggestedName(r)}"
              /></label>
              <label
                >Grant for<input type="text" name="for" placeholder="2h (empty: until revoked)" autocomplete="off"
              /></label>
              ${
                r.kind === 'http'
                  ? html`<label
                        >Sent as<select name="auth">
                          <option value="bearer">Authorization: Bearer</option>
                          <option value="basic">Basic (user:password)</option>
                          <option value="header">a header (name below)</option>
                          <option value="query">a query parameter (name below)</option>
                        </select></label
                      >
                      <label>Header or parameter name<input type="text" name="auth_name" maxlength="100" /></label>
                      <label
                        ><input type="checkbox" name="allow_private" value="yes" /> the API is on a private
                        address</label
                      >`
                  : null
              }
              <label class="wide"
                >${r.kind === 'ssh' ? 'Private key (PEM)' : 'Token or password'}
                <textarea
                  name="credential"
                  required
                  autocomplete="off"
                  spellcheck="false"
                  rows="${r.kind === 'ssh' ? 6 : 2}"
                ></textarea>
              </label>
              <p class="muted wide">
                Sealed in the vault (<code>access/TARGET.${r.kind === 'ssh' ? 'key' : 'token'}</code>), bound to the new
                target; the agent never sees it.
              </p>
              <div class="buttons">
                <button class="approve" type="submit">
                  ${s.passkeys ? 'Approve with passkey' : 'Approve and grant'}
                </button>
              </div>
            </form>`
          : null
      }
      ${
        pending
          ? html`<form class="card deny" method="post" action="/console/requests/${id}/deny">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <textarea
                name="note"
                maxlength="2000"
                placeholder="Reason (the agent's token sees it in the request)"
              ></textarea>
              <button class="deny" type="submit">Deny</button>
            </form>`
          : null
      }`,
  });
}

/** Approving with passkeys required: a touch bound to the request, the target name, host key and duration. */
const ACCESS_SCRIPT = `
const grant = document.getElementById('grant');
if (grant && document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  grant.addEventListener('submit', (e) =>
    signedSubmit(e, grant, async (f) => {
      f.elements.namedItem('assertion').value = await passkeyAnswer('grant-access', f.elements.namedItem('id').value, f);
    }),
  );
}
`;

/**
 * Access requests in the console: the review page, reading an SSH host's key for the person to
 * compare, approving (target, sealed credential, pinned key, grant for a time) and denying.
 * INVARIANTS: the typed credential goes only to the vault (never into an audit record, a page or
 * an error); an SSH target is pinned to the key the person confirmed; with passkeys required,
 * approving (it widens a token) needs a touch bound to exactly what it grants.
 */
export function accessRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const requests = async () => (await kit.rt.accessPorts()).requests;
  const load = async (c: Call): Promise<AccessRequest> => {
    const r = await (await requests()).get(c.ctx.params.id ?? '');
    if (!r) throw new GatehouseError('not_found', 'no such access request');
    return r;
  };

  const page = kit.route('GET', '/console/requests/:id', true, async (c) => {
    send(c.res, 200, c.nonce, requestPage(c, await load(c)));
  });

  const hostKey = kit.route('POST', '/console/requests/:id/hostkey', true, async (c) => {
    const r = await load(c);
    if (r.kind !== 'ssh') throw new GatehouseError('invalid_input', 'only SSH requests have a host key');
    // Only for a request that can still be approved: no connection to a host a tampered or
    // decided row names.
    if (!r.verified || r.status !== 'pending')
      throw new GatehouseError('conflict', 'this request cannot be approved, so its host key is not read');
    const { fetchHostKeyFingerprint } = await import('../ssh/index.js');
    try {
      const k = await fetchHostKeyFingerprint(r.host, r.port ?? 22);
      await kit.audit(c, 'access_hostkey_read', { request: r.id, host: r.host, fingerprint: k.fingerprint });
      send(c.res, 200, c.nonce, requestPage(c, r, { hostKey: k.fingerprint, keyType: k.keyType }));
    } catch (e) {
      send(c.res, 200, c.nonce, requestPage(c, r, { error: toGatehouseError(e).message }));
    }
  });

  const approve = kit.route('POST', '/console/requests/:id/approve', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const target = (c.form.get('target') ?? '').trim();
    const hostKeyText = c.form.get('host_key') ?? '';
    const forText = (c.form.get('for') ?? '').trim();
    const r = await load(c);
    if (r.kind === 'ssh' && c.form.get('host_key_confirmed') !== 'yes')
      throw new GatehouseError('invalid_input', 'confirm that you compared the host key with the host');
    if (c.page!.passkeys) {
      const rp = relyingParty(c.origin);
      if (!rp) return redirect(c.res, c.nonce, `/console/requests/${encodeURIComponent(id)}?n=passkey-host`);
      try {
        await (
          await kit.passkeys()
        ).verify(rp, 'grant-access', accessBinding(c.form, id), c.session!.idHash, c.form.get('assertion') ?? '');
      } catch (e) {
        if (toGatehouseError(e).code !== 'approval_invalid') throw e;
        await kit.audit(c, 'access_refused', { request: id, reason: 'passkey' });
        return redirect(c.res, c.nonce, `/console/requests/${encodeURIComponent(id)}?n=passkey-failed`);
      }
    }
    const authKind = c.form.get('auth') ?? 'bearer';
    const authName = (c.form.get('auth_name') ?? '').trim();
    const auth =
      authKind === 'header' || authKind === 'query'
        ? { kind: authKind, name: authName }
        : authKind === 'basic'
          ? { kind: 'basic' as const }
          : { kind: 'bearer' as const };
    if ((auth.kind === 'header' || auth.kind === 'query') && authName === '')
      throw new GatehouseError('invalid_input', 'name the header or query parameter the credential goes in');
    const done = await approveAccess(await kit.rt.accessPorts(), id, {
      target,
      credential: c.form.get('credential') ?? '',
      ...(r.kind === 'ssh' ? { hostKey: hostKeyText } : {}),
      ...(r.kind === 'http'
        ? { auth: auth as { kind: 'bearer' }, allowPrivate: c.form.get('allow_private') === 'yes' }
        : {}),
      ...(forText ? { forMs: parseDuration(forText) } : {}),
      by: `console:${c.session!.label}`,
    });
    // The credential is not in this record (nor anywhere but the vault).
    await kit.audit(c, 'access_approved', {
      request: id,
      token: r.tokenName,
      tokenGranted: r.tokenId,
      target,
      ...(done.until ? { until: new Date(done.until).toISOString() } : {}),
      ...(r.kind === 'ssh' ? { hostKey: hostKeyText } : {}),
    });
    redirect(c.res, c.nonce, `/console/requests/${encodeURIComponent(id)}?n=access-approved`);
  });

  const deny = kit.route('POST', '/console/requests/:id/deny', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const note = (c.form.get('note') ?? '').trim();
    await (
      await requests()
    ).decide(id, { status: 'denied', by: `console:${c.session!.label}`, ...(note ? { note } : {}) });
    await kit.audit(c, 'access_denied', { request: id, ...(note ? { note } : {}) });
    redirect(c.res, c.nonce, '/console/?n=access-denied');
  });

  return [page, hostKey, approve, deny];
}
