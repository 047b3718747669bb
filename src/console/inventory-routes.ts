import type { Target, TargetRepository } from '../targets/index.js';
import type { ItemSummary, Vault, VaultSummary } from '../vault/index.js';
import { html, type Html } from './html.js';
import { createHash } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';

type SshTarget = Extract<Target, { kind: 'ssh' }>;

/** What the inventory pages read: target configurations and vault listings (names, never values). */
export interface InventoryPorts {
  /** Reaches a target as an agent would (its credential and checks); says how it answered. */
  testTarget(name: string): Promise<{ ok: boolean; detail: string; ms: number }>;
  /** Tells this process's scrubbers a new value at once (other processes learn it from the vault). */
  addSecret(value: string): void;
  targets: Pick<TargetRepository, 'list' | 'get' | 'update'>;
  vault: Pick<Vault, 'setField' | 'listVaults' | 'listItems'>;
}

function testForm(t: Target, csrf: string): Html {
  return html`<form method="post" action="/console/targets/${encodeURIComponent(t.name)}/test">
    <input type="hidden" name="csrf" value="${csrf}" />
    <button class="link" type="submit">Test connection</button>
  </form>`;
}

function targetRow(t: Target, csrf: string): Html {
  if (t.kind === 'http') {
    const c = t.config;
    return html`<tr>
      <td><strong>${t.name}</strong><br /><span class="muted">${t.description}</span></td>
      <td>http</td>
      <td class="action">${c.baseUrl}</td>
      <td>${c.auth.kind}${c.secret ? html` from <code>${c.secret}</code>` : null}</td>
      <td>${c.allowPrivate ? 'private addresses allowed' : ''} ${testForm(t, csrf)}</td>
      <td>${t.updatedAt}</td>
    </tr>`;
  }
  const c = t.config;
  return html`<tr>
    <td><strong>${t.name}</strong><br /><span class="muted">${t.description}</span></td>
    <td>ssh</td>
    <td class="action">${c.user}@${c.host}:${c.port}</td>
    <td>key from <code>${c.key}</code></td>
    <td>
      ${c.hostKey ? html`host key pinned: <code>${c.hostKey}</code>` : html`<span class="status denied">host key not pinned</span>`}
      <form method="post" action="/console/targets/${encodeURIComponent(t.name)}/hostkey">
        <input type="hidden" name="csrf" value="${csrf}" />
        <button class="link" type="submit">${c.hostKey ? 'Check the host key' : 'Read the host key to pin it'}</button>
      </form>
      ${testForm(t, csrf)}
    </td>
    <td>${t.updatedAt}</td>
  </tr>`;
}

function targetsPage(
  c: Call,
  targets: Target[],
  tested?: { name: string; ok: boolean; detail: string; ms: number },
): Html {
  return layout({
    title: 'Targets',
    nonce: c.nonce,
    session: c.page!,
    current: 'targets',
    wide: true,
    body: html`<h1>Targets</h1>
      ${notice(noticeOf(c.ctx.url))}
      ${
        tested
          ? html`<p class="${tested.ok ? 'notice ok' : 'notice'}" role="status">
              ${tested.name}: ${tested.detail} (${tested.ms} ms)
            </p>`
          : null
      }
      <p class="muted">
        What agents can reach, and which vault field holds each credential (its value is never shown). Add and change
        targets with <code>gatehouse target</code>.
      </p>
      ${
        targets.length === 0
          ? html`<p class="empty">No targets yet.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Kind</th>
                    <th>Where</th>
                    <th>Credential</th>
                    <th>Checks</th>
                    <th>Changed</th>
                  </tr>
                </thead>
                <tbody>
                  ${targets.map((t) => targetRow(t, c.page!.csrf))}
                </tbody>
              </table>
            </div>`
      }`,
  });
}

/** What a passkey touch for setting a value is bound to: the field and a digest of the new value. */
export function secretBinding(form: URLSearchParams): string {
  const ref = `${form.get('vault') ?? ''}/${form.get('item') ?? ''}.${(form.get('field') ?? '').trim()}`;
  return JSON.stringify([
    ref,
    createHash('sha256')
      .update(form.get('value') ?? '', 'utf8')
      .digest('hex'),
  ]);
}

/** With passkeys required, a set-value form asks for a touch bound to the field and the value first. */
const VAULT_SCRIPT = `
if (document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  for (const form of document.querySelectorAll('form.set-value'))
    form.addEventListener('submit', (e) =>
      signedSubmit(e, form, async (f) => {
        f.elements.namedItem('assertion').value = await passkeyAnswer('set-secret', '', f);
      }),
    );
}
`;

function vaultPage(c: Call, vaults: VaultSummary[], items: ItemSummary[]): Html {
  return layout({
    title: 'Vault',
    nonce: c.nonce,
    session: c.page!,
    current: 'vault',
    wide: true,
    script: VAULT_SCRIPT,
    body: html`<h1>Vault</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Vaults, items, their fields, bindings and descriptions. Values are sealed and never shown here: set or replace
        one below (it is never shown again), or with <code>gatehouse vault set</code>. New items and bindings are made
        with <code>gatehouse vault</code>.
      </p>
      ${vaults.length === 0 ? html`<p class="empty">No vaults yet.</p>` : null}
      ${vaults.map(
        (v) =>
          html`<h2>${v.name} <span class="muted">${v.items} item${v.items === 1 ? '' : 's'}</span></h2>
            <div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Item</th>
                    <th>Fields</th>
                    <th>Bindings</th>
                    <th>Changed</th>
                  </tr>
                </thead>
                <tbody>
                  ${items
                    .filter((i) => i.vault === v.name)
                    .map(
                      (i) =>
                        html`<tr>
                          <td>
                            <strong>${i.item}</strong
                            >${i.description ? html`<br /><span class="muted">${i.description}</span>` : null}
                          </td>
                          <td>
                            ${i.fields.join(', ')}
                            <form class="set-value" method="post" action="/console/vault/set" autocomplete="off">
                              <input type="hidden" name="csrf" value="${c.page!.csrf}" />
                              <input type="hidden" name="assertion" value="" />
                              <input type="hidden" name="vault" value="${i.vault}" />
                              <input type="hidden" name="item" value="${i.item}" />
                              <input
                                type="text"
                                name="field"
                                value="${i.fields[0] ?? ''}"
                                aria-label="Field"
                                required
                              />
                              <input
                                type="password"
                                name="value"
                                aria-label="New value"
                                placeholder="new value"
                                required
                              />
                              <button type="submit">${c.page!.passkeys ? 'Set with passkey' : 'Set'}</button>
                            </form>
                          </td>
                          <td class="action">
                            ${i.bindings.join(' ') || '(none)'}
                            ${
                              i.rejectedBindings.length > 0
                                ? html`<br /><span class="status denied">ignored, signature fails:</span>
                                    ${i.rejectedBindings.join(' ')}`
                                : null
                            }
                          </td>
                          <td>${i.updatedAt}</td>
                        </tr>`,
                    )}
                </tbody>
              </table>
            </div>`,
      )}`,
  });
}

/** The host key a server offers now, beside the pinned one, with the form that pins it. */
function hostKeyPage(c: Call, t: SshTarget, offered: { fingerprint: string; keyType: string }): Html {
  const cfg = t.config;
  const same = cfg.hostKey === offered.fingerprint;
  return layout({
    title: `Host key of ${t.name}`,
    nonce: c.nonce,
    session: c.page!,
    current: 'targets',
    body: html`<p><a href="/console/targets">← Targets</a></p>
      <article class="card">
        <h1>${t.name}: ${cfg.host}:${cfg.port}</h1>
        <p>The server offers a ${offered.keyType} key: <code>${offered.fingerprint}</code></p>
        <p>
          ${
            cfg.hostKey === null
              ? 'No key is pinned yet: nothing connects to this target until one is.'
              : same
                ? html`It is the pinned key.`
                : html`<span class="status denied">It differs from the pinned key</span> <code>${cfg.hostKey}</code>:
                    someone may be in the middle, or the server was rebuilt. Find out which before pinning.`
          }
        </p>
        ${
          same
            ? null
            : html`<form method="post" action="/console/targets/${encodeURIComponent(t.name)}/pin">
                <input type="hidden" name="csrf" value="${c.page!.csrf}" />
                <input type="hidden" name="host_key" value="${offered.fingerprint}" />
                <label
                  ><input type="checkbox" name="confirmed" value="yes" required /> I compared this fingerprint with the
                  server's own (<code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code> on it).</label
                >
                <button class="approve" type="submit">Pin this key</button>
              </form>`
        }
      </article>`,
  });
}

/** The targets and vault pages (names, never values), and pinning an SSH target's host key on a person's word. */
export function inventoryRoutes(kit: ConsoleKit, ports: InventoryPorts): ConsoleRoute[] {
  const targets = kit.route('GET', '/console/targets', true, async (c) => {
    send(c.res, 200, c.nonce, targetsPage(c, await ports.targets.list()));
  });
  const vault = kit.route('GET', '/console/vault', true, async (c) => {
    const [vaults, items] = await Promise.all([ports.vault.listVaults(), ports.vault.listItems()]);
    send(c.res, 200, c.nonce, vaultPage(c, vaults, items));
  });
  const sshTarget = async (c: Call) => {
    const t = await ports.targets.get(c.ctx.params.name ?? '');
    if (t.kind !== 'ssh') throw new GatehouseError('invalid_input', 'only SSH targets have a host key');
    return t satisfies SshTarget;
  };

  const readKey = kit.route('POST', '/console/targets/:name/hostkey', true, async (c) => {
    const t = await sshTarget(c);
    const cfg = t.config;
    const { fetchHostKeyFingerprint } = await import('../ssh/index.js');
    const offered = await fetchHostKeyFingerprint(cfg.host, cfg.port);
    send(c.res, 200, c.nonce, hostKeyPage(c, t, offered));
  });

  /**
   * Pins the key the person compared. INVARIANT: the key pinned is the one they were shown and
   * confirmed (sent back with the form), and only if the server still offers it now.
   */
  const pin = kit.route('POST', '/console/targets/:name/pin', true, async (c) => {
    const t = await sshTarget(c);
    if (c.form.get('confirmed') !== 'yes')
      throw new GatehouseError('invalid_input', 'confirm that you compared the fingerprint with the server');
    const shown = c.form.get('host_key') ?? '';
    const cfg = t.config;
    const { fetchHostKeyFingerprint } = await import('../ssh/index.js');
    const now = await fetchHostKeyFingerprint(cfg.host, cfg.port);
    if (now.fingerprint !== shown)
      throw new GatehouseError('host_key_mismatch', 'the server now offers a different key than the one you compared', {
        hint: 'read the host key again and compare it',
      });
    await ports.targets.update(t.name, { config: { hostKey: shown } });
    await kit.audit(c, 'host_key_pinned', { target: t.name, fingerprint: shown, replaced: cfg.hostKey });
    redirect(c.res, c.nonce, '/console/targets?n=host-key-pinned');
  });

  /**
   * Sets or replaces one field's value of an existing item. INVARIANTS: the value goes only to the
   * vault and this process's scrubbers (never a page, an error or an audit record); bindings are
   * not changed here (where a credential may go stays a CLI act); with passkeys required, a touch
   * bound to the field and the value's digest (a stolen cookie cannot swap a credential for its own).
   */
  const setValue = kit.route('POST', '/console/vault/set', true, async (c) => {
    const vaultName = c.form.get('vault') ?? '';
    const item = c.form.get('item') ?? '';
    const field = (c.form.get('field') ?? '').trim();
    const value = c.form.get('value') ?? '';
    const ref = `${vaultName}/${item}.${field}`;
    if (!(await ports.vault.listItems()).some((i) => i.vault === vaultName && i.item === item))
      throw new GatehouseError('not_found', 'no such vault item: new items are made with gatehouse vault set');
    // INVARIANT: with passkeys required, a touch bound to the field and the value's digest.
    const gate = await kit.passkeyGate(c, 'set-secret', secretBinding(c.form), '/console/vault');
    if (typeof gate === 'string') {
      await kit.audit(c, 'secret_set_refused', { ref, reason: 'passkey' });
      return redirect(c.res, c.nonce, gate);
    }
    ports.addSecret(value);
    await ports.vault.setField(ref, value);
    await kit.audit(c, 'secret_set', { ref });
    redirect(c.res, c.nonce, '/console/vault?n=secret-set');
  });

  /** Tests a target (POST: it makes a connection with the target's credential); audited. */
  const test = kit.route('POST', '/console/targets/:name/test', true, async (c) => {
    const name = c.ctx.params.name ?? '';
    const result = await ports.testTarget(name);
    await kit.audit(c, 'target_tested', { target: name, ok: result.ok });
    send(c.res, 200, c.nonce, targetsPage(c, await ports.targets.list(), { name, ...result }));
  });

  return [targets, vault, readKey, pin, setValue, test];
}
