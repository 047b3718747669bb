import { html, type Html } from './html.js';
import { send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout } from './pages.js';

/** A target as the console lists it: never a secret, only where it points and which vault field holds its credential. */
export interface TargetView {
  name: string;
  kind: 'http' | 'ssh';
  description: string;
  config:
    | { baseUrl: string; auth: { kind: string }; secret: string | null; allowPrivate: boolean }
    | { host: string; port: number; user: string; key: string; hostKey: string | null };
  updatedAt: string;
}

/** What the inventory pages read: target configurations and vault listings (names, never values). */
export interface InventoryPorts {
  targets: { list(): Promise<TargetView[]> };
  vault: {
    listVaults(): Promise<{ name: string; items: number; createdAt: string }[]>;
    listItems(): Promise<
      {
        vault: string;
        item: string;
        description: string | null;
        fields: string[];
        bindings: string[];
        rejectedBindings: string[];
        updatedAt: string;
      }[]
    >;
  };
}

function targetRow(t: TargetView): Html {
  const c = t.config;
  if ('baseUrl' in c)
    return html`<tr>
      <td><strong>${t.name}</strong><br /><span class="muted">${t.description}</span></td>
      <td>http</td>
      <td class="action">${c.baseUrl}</td>
      <td>${c.auth.kind}${c.secret ? html` from <code>${c.secret}</code>` : null}</td>
      <td>${c.allowPrivate ? 'private addresses allowed' : ''}</td>
      <td>${t.updatedAt}</td>
    </tr>`;
  return html`<tr>
    <td><strong>${t.name}</strong><br /><span class="muted">${t.description}</span></td>
    <td>ssh</td>
    <td class="action">${c.user}@${c.host}:${c.port}</td>
    <td>key from <code>${c.key}</code></td>
    <td>
      ${c.hostKey ? html`host key pinned: <code>${c.hostKey}</code>` : html`<span class="status denied">host key not pinned</span>`}
    </td>
    <td>${t.updatedAt}</td>
  </tr>`;
}

function targetsPage(c: Call, targets: TargetView[]): Html {
  return layout({
    title: 'Targets',
    nonce: c.nonce,
    session: c.page!,
    current: 'targets',
    wide: true,
    body: html`<h1>Targets</h1>
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
                  ${targets.map(targetRow)}
                </tbody>
              </table>
            </div>`
      }`,
  });
}

function vaultPage(
  c: Call,
  vaults: Awaited<ReturnType<InventoryPorts['vault']['listVaults']>>,
  items: Awaited<ReturnType<InventoryPorts['vault']['listItems']>>,
): Html {
  return layout({
    title: 'Vault',
    nonce: c.nonce,
    session: c.page!,
    current: 'vault',
    wide: true,
    body: html`<h1>Vault</h1>
      <p class="muted">
        Vaults, items, their fields, bindings and descriptions. Values are sealed and never shown here; set or replace
        one with <code>gatehouse vault set</code>.
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
                          <td>${i.fields.join(', ')}</td>
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

/** Read-only pages of what the console's operators configured: targets and vault contents (names only). */
export function inventoryRoutes(kit: ConsoleKit, ports: InventoryPorts): ConsoleRoute[] {
  const targets = kit.route('GET', '/console/targets', true, async (c) => {
    send(c.res, 200, c.nonce, targetsPage(c, await ports.targets.list()));
  });
  const vault = kit.route('GET', '/console/vault', true, async (c) => {
    const [vaults, items] = await Promise.all([ports.vault.listVaults(), ports.vault.listItems()]);
    send(c.res, 200, c.nonce, vaultPage(c, vaults, items));
  });
  return [targets, vault];
}
