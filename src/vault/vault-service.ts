import { randomBytes, randomUUID } from 'node:crypto';
import { GatehouseError, log, rowMac, rowMacValid, truncateText } from '../core/index.js';
import { nowIso, type Store, type UntypedDb } from '../store/index.js';
import {
  anyBindingMatches,
  bindingMatches,
  formatBinding,
  parseBinding,
  parseCommandPattern,
  shellRefusal,
  type Binding,
  type Destination,
  type ShellUse,
} from './bindings.js';
import { applyFilter, hasHandles, parseHandles, refused, type ParsedHandle } from './handles.js';
import { KeyringImpl, type Keyring } from './keyring.js';
import { checkName, parseFieldRef, parseItemRef } from './names.js';
import { AD, KEY_BYTES, open, seal } from './seal.js';
import { writeTransaction } from './write-tx.js';

export interface VaultSummary {
  name: string;
  items: number;
  createdAt: string;
}

export interface ItemSummary {
  vault: string;
  item: string;
  description: string | null;
  fields: string[];
  /** `target:NAME` / `host:PATTERN` / `command:TARGET:ENV=COMMAND`: only bindings whose signature verifies. */
  bindings: string[];
  /**
   * Binding rows whose signature does not verify (written by someone without the master key, or
   * left unsigned): ignored everywhere, listed so an operator can see and remove them.
   */
  rejectedBindings: string[];
  updatedAt: string;
}

export interface SearchQuery {
  /** Case-insensitive substring over vault, item, field, description and bindings. */
  text?: string;
  /** Only items usable for this target / host. */
  target?: string;
  host?: string;
}

export interface SearchHit {
  /** Ready to paste, e.g. `{{vault:ops/github.token}}`. */
  handle: string;
  vault: string;
  item: string;
  field: string;
  description: string | null;
  bindings: string[];
}

export interface FillOptions {
  destination: Destination;
  /** Vault names the token holds; `'*'` means every vault. */
  grantedVaults: readonly string[];
}

export interface FillResult {
  text: string;
  /** Secret values that were filled (raw, plus composites such as `user:pass`): register them with the Redactor. */
  filled: string[];
  /** The handles, as written (names only). */
  handles: string[];
}

export interface SetFieldOptions {
  /** Bindings to add: `target:NAME`, `host:PATTERN` or `command:TARGET:ENV=COMMAND`. */
  bind?: string[];
  description?: string;
}

/** How a command's whole environment is filled (`ssh_exec`, `exec`): see `Vault.fillShellEnv`. */
export interface ShellFillOptions {
  /** The target the command runs on (`local` for the sandbox) and its host. */
  destination: { target: string; host?: string };
  /** The exact command line, whether the action sends stdin, and its cwd if it sets one. */
  shell: { command: string; hasStdin: boolean; cwd?: string };
  grantedVaults: readonly string[];
}

export interface ShellFillResult {
  /** Variables without a handle, unchanged. */
  values: Record<string, string>;
  /** Variables whose handles were filled. */
  secrets: Record<string, string>;
  /** Every value filled (register them with the Redactor). */
  filled: string[];
}

/** Anything with an `add(secret)` (the Redactor). */
export interface SecretSink {
  add(secret: string): void;
}

const MAX_VALUE_BYTES = 64 * 1024;
/** The most handle-carrying variables one command's env may hold (each is checked against the others). */
const MAX_SHELL_HANDLES = 32;
/** Signature kind of a binding row (src/core/row-mac.ts). */
const BINDING_MAC = 'binding/v1';
/** The keyring's internal key that signs rows the gate trusts from the store. */
export const INTEGRITY_KEY = 'store-integrity';

interface VaultRow {
  id: string;
  name: string;
  wrapped_key: string;
  key_nonce: string;
  created_at: string;
}
interface ItemRow {
  id: string;
  vault_id: string;
  name: string;
  description: string | null;
  updated_at: string;
}
interface BindingRow {
  id: string;
  item_id: string;
  kind: string;
  pattern: string;
  mac: string | null;
}

/**
 * What a binding's signature covers: the item and vault it belongs to and what it allows, so a
 * row edited, inserted, or moved to another item by someone without the master key never verifies.
 */
function bindingMacFields(itemId: string, vaultId: string, b: { kind: string; pattern: string }): string[] {
  return [itemId, vaultId, b.kind, b.pattern];
}

export function openVault(opts: { store: Store; keyring: Keyring }): Vault {
  if (!(opts.keyring instanceof KeyringImpl))
    throw new GatehouseError('internal', 'openVault needs a keyring from openKeyring()');
  return new Vault(opts.store, opts.keyring);
}

/**
 * The vault service. INVARIANT: no method except openField/fillHandles/seedRedactor ever
 * decrypts, and none returns a value to a caller that could pass it to an agent: list and search
 * return names, bindings and descriptions only.
 */
export class Vault {
  readonly #dataKeys = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly store: Store,
    private readonly keyring: KeyringImpl,
  ) {}

  async createVault(name: string): Promise<void> {
    checkName('vault', name);
    const id = randomUUID();
    const dk = randomBytes(KEY_BYTES);
    const w = await this.keyring.wrapDataKey(id, dk);
    dk.fill(0);
    await writeTransaction(this.store, async (db) => {
      const exists = await db.selectFrom('vaults').select('id').where('name', '=', name).executeTakeFirst();
      if (exists) throw new GatehouseError('conflict', `vault ${name} already exists`);
      await db
        .insertInto('vaults')
        .values({ id, name, wrapped_key: w.ciphertext, key_nonce: w.nonce, key_id: w.keyId, created_at: nowIso() })
        .execute();
    });
  }

  /** Seals `value` into VAULT/ITEM.FIELD (creating the item if needed) and adds bindings. */
  async setField(ref: string, value: string, opts: SetFieldOptions = {}): Promise<void> {
    const r = parseFieldRef(ref);
    if (typeof value !== 'string' || value.length === 0)
      throw new GatehouseError('invalid_input', `empty value for ${ref}`, { hint: 'give the secret on stdin' });
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
      throw new GatehouseError('input_too_large', `value for ${ref} is over ${MAX_VALUE_BYTES} bytes`);
    const bindings = (opts.bind ?? []).map(parseBinding);
    if (opts.description !== undefined && opts.description.length > 2000)
      throw new GatehouseError('invalid_input', 'description is over 2000 characters');
    const v = await this.#vaultRow(r.vault);
    const dk = await this.#dataKey(v);
    const key = bindings.length ? await this.#integrityKey() : undefined;
    await writeTransaction(this.store, async (db) => {
      const now = nowIso();
      let item = (await db
        .selectFrom('vault_items')
        .selectAll()
        .where('vault_id', '=', v.id)
        .where('name', '=', r.item)
        .executeTakeFirst()) as ItemRow | undefined;
      if (!item) {
        item = {
          id: randomUUID(),
          vault_id: v.id,
          name: r.item,
          description: opts.description ?? null,
          updated_at: now,
        };
        await db
          .insertInto('vault_items')
          .values({ ...item, created_at: now })
          .execute();
      } else {
        await db
          .updateTable('vault_items')
          .set({ updated_at: now, ...(opts.description !== undefined ? { description: opts.description } : {}) })
          .where('id', '=', item.id)
          .execute();
      }
      // AD binds the ciphertext to (vault id, item id, field name): a row moved elsewhere never opens.
      const sealed = await seal(Buffer.from(value, 'utf8'), AD.field(v.id, item.id, r.field), dk);
      await db
        .insertInto('vault_fields')
        .values({
          id: randomUUID(),
          item_id: item.id,
          name: r.field,
          ciphertext: sealed.ciphertext,
          nonce: sealed.nonce,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc
            .columns(['item_id', 'name'])
            .doUpdateSet({ ciphertext: sealed.ciphertext, nonce: sealed.nonce, updated_at: now }),
        )
        .execute();
      await insertBindings(db, key, item, bindings);
    });
  }

  /** Adds bindings to an existing item (`VAULT/ITEM`) without touching its values. */
  async bind(itemRef: string, bind: string[]): Promise<void> {
    const r = parseItemRef(itemRef);
    if (!r.item) throw new GatehouseError('invalid_input', 'bind needs VAULT/ITEM');
    const bindings = bind.map(parseBinding);
    if (bindings.length === 0)
      throw new GatehouseError('invalid_input', 'no binding given', {
        hint: 'pass --bind KIND:PATTERN, or --command TARGET --env NAME -- COMMAND LINE',
      });
    const item = await this.#itemRow(await this.#vaultRow(r.vault), r.item);
    const key = await this.#integrityKey();
    await writeTransaction(this.store, async (db) => insertBindings(db, key, item, bindings));
  }

  /** Removes bindings from an item (`VAULT/ITEM`); returns how many rows were removed. */
  async unbind(itemRef: string, bind: string[]): Promise<number> {
    const r = parseItemRef(itemRef);
    if (!r.item) throw new GatehouseError('invalid_input', 'unbind needs VAULT/ITEM');
    const item = await this.#itemRow(await this.#vaultRow(r.vault), r.item);
    let removed = 0;
    for (const text of bind) {
      // Removing is always safe, so a row that never was a valid binding (one written behind
      // Gatehouse's back) can be removed by its exact `KIND:PATTERN` text too.
      let b: Binding | { kind: string; pattern: string };
      try {
        b = parseBinding(text);
      } catch {
        const colon = text.indexOf(':');
        if (colon <= 0)
          throw new GatehouseError('invalid_input', `invalid binding ${JSON.stringify(truncateText(text, 200))}`, {
            hint: 'write KIND:PATTERN exactly as `gatehouse vault list` shows it',
          });
        b = { kind: text.slice(0, colon), pattern: text.slice(colon + 1) };
      }
      const d = await this.store.db
        .deleteFrom('vault_bindings')
        .where('item_id', '=', item.id)
        .where('kind', '=', b.kind)
        .where('pattern', '=', b.pattern)
        .executeTakeFirst();
      removed += Number(d.numDeletedRows);
    }
    return removed;
  }

  async listVaults(): Promise<VaultSummary[]> {
    const vs = (await this.store.db
      .selectFrom('vaults')
      .select(['id', 'name', 'created_at'])
      .orderBy('name')
      .execute()) as VaultRow[];
    const counts = (await this.store.db.selectFrom('vault_items').select(['vault_id']).execute()) as Array<{
      vault_id: string;
    }>;
    return vs.map((v) => ({
      name: v.name,
      items: counts.filter((c) => c.vault_id === v.id).length,
      createdAt: v.created_at,
    }));
  }

  async listItems(vault?: string): Promise<ItemSummary[]> {
    return this.#items(vault === undefined ? undefined : [vault]);
  }

  async removeItem(vault: string, item: string): Promise<void> {
    const v = await this.#vaultRow(vault);
    const it = await this.#itemRow(v, item);
    await writeTransaction(this.store, async (db) => {
      await db.deleteFrom('vault_fields').where('item_id', '=', it.id).execute();
      await db.deleteFrom('vault_bindings').where('item_id', '=', it.id).execute();
      await db.deleteFrom('vault_items').where('id', '=', it.id).execute();
    });
  }

  async removeVault(name: string): Promise<void> {
    const v = await this.#vaultRow(name);
    await writeTransaction(this.store, async (db) => {
      const items = db.selectFrom('vault_items').select('id').where('vault_id', '=', v.id);
      await db.deleteFrom('vault_fields').where('item_id', 'in', items).execute();
      await db.deleteFrom('vault_bindings').where('item_id', 'in', items).execute();
      await db.deleteFrom('vault_items').where('vault_id', '=', v.id).execute();
      await db.deleteFrom('vaults').where('id', '=', v.id).execute();
    });
    this.#dataKeys.delete(v.id);
  }

  /**
   * Decrypts one field. INTERNAL USE ONLY (executors filling a handle, the SSH module loading a
   * key it was configured with): its result must never be returned to an agent.
   */
  async openField(ref: string): Promise<string> {
    const r = parseFieldRef(ref);
    const v = await this.#vaultRow(r.vault);
    const item = await this.#itemRow(v, r.item);
    return this.#openItemField(v, item, r.field, ref);
  }

  /** Handles for the vault_search tool: names, fields, bindings and descriptions; never a value. */
  async search(q: SearchQuery, grantedVaults: readonly string[]): Promise<SearchHit[]> {
    const all = await this.#items(grantedVaults.includes('*') ? undefined : [...grantedVaults]);
    const text = q.text?.trim().toLowerCase();
    const hits: SearchHit[] = [];
    for (const it of all) {
      if (q.target !== undefined || q.host !== undefined) {
        const dest: Destination = {
          ...(q.target !== undefined ? { target: q.target } : {}),
          ...(q.host !== undefined ? { host: q.host } : {}),
        };
        // A command binding is usable on its target (in that one command's env): list it there too.
        const usable = it.bindings
          .map(parseBinding)
          .some(
            (b) =>
              bindingMatches(b, dest) ||
              (b.kind === 'command' && q.target !== undefined && parseCommandPattern(b.pattern)?.target === q.target),
          );
        if (!usable) continue;
      }
      for (const field of it.fields) {
        const hay = [it.vault, it.item, field, it.description ?? '', ...it.bindings].join('\n').toLowerCase();
        if (text && !hay.includes(text)) continue;
        hits.push({
          handle: `{{vault:${it.vault}/${it.item}.${field}}}`,
          vault: it.vault,
          item: it.item,
          field,
          description: it.description,
          bindings: it.bindings,
        });
      }
    }
    return hits;
  }

  /**
   * Fills every handle in `text` for one destination. INVARIANT: a handle is filled only when the
   * token holds its vault AND one of the item's bindings matches the destination; otherwise the
   * whole call is refused with an error naming the handle and the reason, never a value.
   */
  async fillHandles(text: string, opts: FillOptions): Promise<FillResult> {
    const shell = opts.destination.shell;
    if (!hasHandles(text)) return { text, filled: [], handles: [] };
    const segments = parseHandles(text);
    const granted = new Set(opts.grantedVaults);
    if (shell) await this.#checkShellAction(segments, shell, opts.destination, granted);
    const filled = new Set<string>();
    const handles: string[] = [];
    let out = '';
    for (const seg of segments) {
      if (seg.kind === 'text') {
        out += seg.text;
        continue;
      }
      const h = seg.handle;
      handles.push(h.text);
      out += await this.#fillOne(h, granted, opts.destination, filled);
    }
    return { text: out, filled: [...filled], handles };
  }

  /**
   * Fills the environment of one command (`ssh_exec`, `exec`). Every variable holding a handle is
   * filled as a shell destination (see `bindingMatches`), and the action as a whole must fit:
   * INVARIANT: a command-bound secret fills only when every variable of the env is exactly one
   * handle bound to that command (a plain `PGHOST=evil.example` beside `PGPASSWORD` would send
   * the password elsewhere), there is no stdin and no cwd. Otherwise the whole call is refused.
   */
  async fillShellEnv(
    env: Readonly<Record<string, string>> | undefined,
    opts: ShellFillOptions,
  ): Promise<ShellFillResult> {
    const out: ShellFillResult = { values: {}, secrets: {}, filled: [] };
    const entries = Object.entries(env ?? {});
    if (!entries.some(([, v]) => hasHandles(v))) {
      for (const [k, v] of entries) out.values[k] = v;
      return out;
    }
    // Variables with a handle first: their check explains why a plain neighbour is refused.
    const ordered = [...entries.filter(([, v]) => hasHandles(v)), ...entries.filter(([, v]) => !hasHandles(v))];
    for (const [name, value] of ordered) {
      const otherEnv = Object.fromEntries(entries.filter(([k]) => k !== name));
      const shell: ShellUse = {
        command: opts.shell.command,
        envName: name,
        hasStdin: opts.shell.hasStdin,
        otherEnv,
        ...(opts.shell.cwd !== undefined ? { cwd: opts.shell.cwd } : {}),
      };
      const r = await this.fillHandles(value, {
        destination: { ...opts.destination, shell },
        grantedVaults: opts.grantedVaults,
      });
      if (r.handles.length === 0) {
        // Unreachable (#checkShellAction refuses plain companions), kept as a second lock.
        throw new GatehouseError('vault_handle_refused', `env ${name} is not a vault handle`, {
          hint: 'put plain settings into the bound command line',
        });
      }
      out.secrets[name] = r.text;
      out.filled.push(...r.filled);
    }
    return out;
  }

  /**
   * Signs binding rows that have no signature yet (rows that existed before migration
   * 0006_integrity). Call it ONLY in the process that applied that migration, right after opening
   * the keyring, and only while `keyring.unsignedRowsMaySign()` (it checks again and signs nothing
   * once the store's rows are signed); then `keyring.markRowsSigned()`. Returns how many rows
   * were signed.
   */
  async signUnsigned(): Promise<number> {
    // INVARIANT: once the store's rows are signed (sealed in the keyring's check value), an
    // unsigned row is never signed again, whoever applied which migration.
    if (!(await this.keyring.unsignedRowsMaySign())) {
      await this.#logUnsignedLeft();
      return 0;
    }
    const key = await this.#integrityKey();
    return writeTransaction(this.store, async (db) => {
      const rows = (await db
        .selectFrom('vault_bindings as b')
        .innerJoin('vault_items as i', 'i.id', 'b.item_id')
        .select([
          'b.id as id',
          'b.item_id as item_id',
          'i.vault_id as vault_id',
          'b.kind as kind',
          'b.pattern as pattern',
        ])
        .where('b.mac', 'is', null)
        .execute()) as Array<{ id: string; item_id: string; vault_id: string; kind: string; pattern: string }>;
      for (const r of rows) {
        const mac = rowMac(key, BINDING_MAC, bindingMacFields(r.item_id, r.vault_id, r));
        await db.updateTable('vault_bindings').set({ mac }).where('id', '=', r.id).where('mac', 'is', null).execute();
      }
      if (rows.length) log.info('vault: signed bindings that existed before row signatures', { count: rows.length });
      return rows.length;
    });
  }

  async #logUnsignedLeft(): Promise<void> {
    const n = await this.store.db
      .selectFrom('vault_bindings')
      .select('id')
      .where('mac', 'is', null)
      .limit(1)
      .executeTakeFirst();
    if (n)
      log.error(
        'vault: unsigned bindings found in a store whose rows are already signed; they stay refused (written without the master key?)',
        { fix: '`gatehouse vault list` shows them; remove them with `gatehouse vault unbind`' },
      );
  }

  /** Registers every stored value with a redactor (e.g. at server start), so even unfilled secrets are scrubbed. */
  async seedRedactor(sink: SecretSink): Promise<number> {
    let n = 0;
    for (const it of await this.#items(undefined)) {
      const v = await this.#vaultRow(it.vault);
      const item = await this.#itemRow(v, it.item);
      for (const f of it.fields) {
        sink.add(await this.#openItemField(v, item, f, `${it.vault}/${it.item}.${f}`));
        n++;
      }
    }
    return n;
  }

  close(): void {
    this.#dataKeys.clear();
  }

  async #fillOne(h: ParsedHandle, granted: Set<string>, dest: Destination, filled: Set<string>): Promise<string> {
    // Order matters: an ungranted vault gets the same answer whether it exists or not.
    if (!granted.has('*') && !granted.has(h.vault))
      throw refused(h.text, `vault ${h.vault} is not granted to this token`);
    const v = (await this.store.db.selectFrom('vaults').selectAll().where('name', '=', h.vault).executeTakeFirst()) as
      VaultRow | undefined;
    if (!v) throw refused(h.text, `no vault named ${h.vault}`);
    const item = (await this.store.db
      .selectFrom('vault_items')
      .selectAll()
      .where('vault_id', '=', v.id)
      .where('name', '=', h.item)
      .executeTakeFirst()) as ItemRow | undefined;
    if (!item) throw refused(h.text, `no item ${h.item} in vault ${h.vault}`);
    // INVARIANT: only bindings whose signature verifies count; a forged row allows nothing.
    const bindings = await this.#bindings(item, `${h.vault}/${h.item}`);
    if (!anyBindingMatches(bindings, dest)) {
      const bound = bindings.length ? bindings.map(formatBinding).join(', ') : 'nothing (the item has no binding)';
      if (dest.shell) {
        throw refused(
          h.text,
          `item ${h.vault}/${h.item} cannot fill env ${dest.shell.envName} of this command: ${shellRefusal(bindings, { ...dest, shell: dest.shell })}; it is bound to ${bound}`,
          `an operator binds it for one exact command: gatehouse vault bind ${h.vault}/${h.item} --command ${dest.target ?? 'TARGET'} --env ${dest.shell.envName} -- 'EXACT COMMAND LINE'`,
        );
      }
      const where =
        [dest.target !== undefined ? `target ${dest.target}` : '', dest.host !== undefined ? `host ${dest.host}` : '']
          .filter(Boolean)
          .join(', ') || 'an unspecified destination';
      throw refused(
        h.text,
        `item ${h.vault}/${h.item} is not bound to this destination (${where}); it is bound to ${bound}`,
        'an operator binds items with `gatehouse vault bind VAULT/ITEM --bind target:NAME|host:PATTERN`',
      );
    }
    const fieldNames = h.filter === 'basic' ? ['username', 'password'] : [h.field!];
    const values: string[] = [];
    for (const f of fieldNames) {
      const exists = await this.store.db
        .selectFrom('vault_fields')
        .select('id')
        .where('item_id', '=', item.id)
        .where('name', '=', f)
        .executeTakeFirst();
      if (!exists) throw refused(h.text, `item ${h.vault}/${h.item} has no field ${f}`);
      values.push(await this.#openItemField(v, item, f, `${h.vault}/${h.item}.${f}`));
    }
    for (const val of values) filled.add(val);
    if (h.filter === 'basic') {
      const pair = `${values[0]}:${values[1]}`;
      filled.add(pair);
      return Buffer.from(pair, 'utf8').toString('base64');
    }
    const [value] = values;
    // One field name, so one value (or a refusal above): a missing one is refused, never filled as nothing.
    if (value === undefined) throw refused(h.text, `item ${h.vault}/${h.item} has no field ${h.field}`);
    return applyFilter(value, h.filter);
  }

  async #openItemField(v: VaultRow, item: ItemRow, field: string, ref: string): Promise<string> {
    const row = (await this.store.db
      .selectFrom('vault_fields')
      .select(['ciphertext', 'nonce'])
      .where('item_id', '=', item.id)
      .where('name', '=', field)
      .executeTakeFirst()) as { ciphertext: string; nonce: string } | undefined;
    if (!row) throw new GatehouseError('not_found', `no field ${ref}`);
    const dk = await this.#dataKey(v);
    const pt = await open(row, AD.field(v.id, item.id, field), dk, `vault field ${ref}`);
    return Buffer.from(pt).toString('utf8');
  }

  async #vaultRow(name: string): Promise<VaultRow> {
    checkName('vault', name);
    const v = (await this.store.db.selectFrom('vaults').selectAll().where('name', '=', name).executeTakeFirst()) as
      VaultRow | undefined;
    if (!v)
      throw new GatehouseError('not_found', `no vault named ${name}`, {
        hint: `create it with \`gatehouse vault create ${name}\``,
      });
    return v;
  }

  async #itemRow(v: VaultRow, name: string): Promise<ItemRow> {
    checkName('item', name);
    const it = (await this.store.db
      .selectFrom('vault_items')
      .selectAll()
      .where('vault_id', '=', v.id)
      .where('name', '=', name)
      .executeTakeFirst()) as ItemRow | undefined;
    if (!it) throw new GatehouseError('not_found', `no item ${name} in vault ${v.name}`);
    return it;
  }

  #dataKey(v: VaultRow): Promise<Uint8Array> {
    let p = this.#dataKeys.get(v.id);
    if (!p) {
      p = this.keyring.unwrapDataKey(v.id, v.name, { ciphertext: v.wrapped_key, nonce: v.key_nonce });
      this.#dataKeys.set(v.id, p);
      p.catch(() => this.#dataKeys.delete(v.id));
    }
    return p;
  }

  /**
   * The item's bindings whose signature verifies. A row that does not verify is dropped here, on
   * the one path every use goes through, and logged loudly: someone changed the store without
   * the master key, or the row predates signatures and was never signed.
   */
  async #bindings(item: ItemRow, name: string): Promise<Binding[]> {
    const rows = (await this.store.db
      .selectFrom('vault_bindings')
      .select(['id', 'item_id', 'kind', 'pattern', 'mac'])
      .where('item_id', '=', item.id)
      .orderBy('kind')
      .orderBy('pattern')
      .execute()) as BindingRow[];
    return (await this.#verified(rows, new Map([[item.id, { vaultId: item.vault_id, name }]]))).ok;
  }

  async #verified(
    rows: readonly BindingRow[],
    items: ReadonlyMap<string, { vaultId: string; name: string }>,
  ): Promise<{ ok: Binding[]; rejected: BindingRow[] }> {
    const out: { ok: Binding[]; rejected: BindingRow[] } = { ok: [], rejected: [] };
    if (rows.length === 0) return out;
    const key = await this.#integrityKey();
    for (const r of rows) {
      const item = items.get(r.item_id);
      const b = { kind: r.kind, pattern: r.pattern };
      if (
        item &&
        isBindingKind(r.kind) &&
        rowMacValid(key, BINDING_MAC, bindingMacFields(r.item_id, item.vaultId, b), r.mac)
      ) {
        out.ok.push({ kind: r.kind, pattern: r.pattern });
        continue;
      }
      out.rejected.push(r);
      log.error(
        'vault: IGNORING a binding whose signature does not verify: it was written or changed without the master key (or predates signatures and was never signed)',
        {
          item: item?.name ?? r.item_id,
          binding: truncateText(`${r.kind}:${r.pattern}`, 300),
          signed: r.mac !== null,
          fix: 'remove it with `gatehouse vault unbind`, check who can write to the database, and bind again with `gatehouse vault bind`',
        },
      );
    }
    return out;
  }

  #integrityKey(): Promise<Buffer> {
    return this.keyring.internalKey(INTEGRITY_KEY);
  }

  /**
   * For a shell destination: the text must be exactly one handle, and every other variable of the
   * action's env must be exactly one handle whose item is command-bound to this same command for
   * that variable. Checked before anything is decrypted. Names only in every refusal.
   */
  async #checkShellAction(
    segments: ReturnType<typeof parseHandles>,
    shell: ShellUse,
    dest: Destination,
    granted: Set<string>,
  ): Promise<void> {
    const [seg] = segments;
    const only = segments.length === 1 && seg?.kind === 'handle' ? seg.handle : undefined;
    if (!only) {
      const first = segments.find((s) => s.kind === 'handle');
      throw refused(
        first?.kind === 'handle' ? first.handle.text : '{{vault:…}}',
        `in a command's environment a handle must be the whole value of ${shell.envName} (text around it could turn the secret into something else, e.g. a URL to another host)`,
        `write ${shell.envName}={{vault:VAULT/ITEM.FIELD}} alone, and put the rest into the bound command line`,
      );
    }
    const others = Object.entries(shell.otherEnv);
    if (others.length + 1 > MAX_SHELL_HANDLES) {
      throw refused(
        only.text,
        `a command's environment may carry at most ${MAX_SHELL_HANDLES} variables when it holds a vault handle`,
      );
    }
    for (const [name, value] of others) {
      const segs = hasHandles(value) ? parseHandles(value) : [];
      const [envSeg] = segs;
      const h = segs.length === 1 && envSeg?.kind === 'handle' ? envSeg.handle : undefined;
      if (!h) {
        throw refused(
          only.text,
          `env ${name} of this action is not exactly one vault handle: plain variables beside a command-bound secret could redirect it (e.g. PGHOST) or change what the command runs`,
          `put ${name}=… into the bound command line itself (e.g. '${name}=… your-command'), or bind a vault item to this command for ${name}`,
        );
      }
      if (!granted.has('*') && !granted.has(h.vault))
        throw refused(h.text, `vault ${h.vault} is not granted to this token`);
      const v = (await this.store.db
        .selectFrom('vaults')
        .selectAll()
        .where('name', '=', h.vault)
        .executeTakeFirst()) as VaultRow | undefined;
      const item = v
        ? ((await this.store.db
            .selectFrom('vault_items')
            .selectAll()
            .where('vault_id', '=', v.id)
            .where('name', '=', h.item)
            .executeTakeFirst()) as ItemRow | undefined)
        : undefined;
      if (!item) throw refused(h.text, `no item ${h.item} in vault ${h.vault}`);
      const bindings = await this.#bindings(item, `${h.vault}/${h.item}`);
      const otherShell: ShellUse = { ...shell, envName: name, otherEnv: {} };
      if (!bindings.some((b) => bindingMatches(b, { ...dest, shell: otherShell }))) {
        throw refused(
          h.text,
          `item ${h.vault}/${h.item} cannot fill env ${name} of this command: ${shellRefusal(bindings, { ...dest, shell: otherShell })}`,
        );
      }
    }
  }

  async #items(vaults: string[] | undefined): Promise<ItemSummary[]> {
    if (vaults && vaults.length === 0) return [];
    let q = this.store.db
      .selectFrom('vault_items as i')
      .innerJoin('vaults as v', 'v.id', 'i.vault_id')
      .select([
        'i.id as id',
        'i.vault_id as vault_id',
        'i.name as item',
        'i.description as description',
        'i.updated_at as updated_at',
        'v.name as vault',
      ])
      .orderBy('v.name')
      .orderBy('i.name');
    if (vaults) q = q.where('v.name', 'in', vaults);
    const items = (await q.execute()) as Array<{
      id: string;
      vault_id: string;
      item: string;
      description: string | null;
      updated_at: string;
      vault: string;
    }>;
    if (items.length === 0) return [];
    const ids = items.map((i) => i.id);
    const fields = (await this.store.db
      .selectFrom('vault_fields')
      .select(['item_id', 'name'])
      .where('item_id', 'in', ids)
      .orderBy('name')
      .execute()) as Array<{ item_id: string; name: string }>;
    const binds = (await this.store.db
      .selectFrom('vault_bindings')
      .select(['id', 'item_id', 'kind', 'pattern', 'mac'])
      .where('item_id', 'in', ids)
      .orderBy('kind')
      .orderBy('pattern')
      .execute()) as BindingRow[];
    const owners = new Map(items.map((i) => [i.id, { vaultId: i.vault_id, name: `${i.vault}/${i.item}` }]));
    const checked = await this.#verified(binds, owners);
    const rejected = new Set(checked.rejected);
    return items.map((i) => ({
      vault: i.vault,
      item: i.item,
      description: i.description,
      fields: fields.filter((f) => f.item_id === i.id).map((f) => f.name),
      bindings: binds
        .filter((b) => b.item_id === i.id && !rejected.has(b))
        .map((b) => formatBinding({ kind: b.kind as Binding['kind'], pattern: b.pattern })),
      rejectedBindings: binds.filter((b) => b.item_id === i.id && rejected.has(b)).map((b) => `${b.kind}:${b.pattern}`),
      updatedAt: i.updated_at,
    }));
  }
}

function isBindingKind(k: string): k is Binding['kind'] {
  return k === 'target' || k === 'host' || k === 'command';
}

/** Inserts (or re-signs) bindings of one item. INVARIANT: every binding written is signed. */
async function insertBindings(
  db: UntypedDb,
  key: Buffer | undefined,
  item: { id: string; vault_id: string },
  bindings: readonly Binding[],
): Promise<void> {
  if (bindings.length === 0) return;
  if (!key) throw new GatehouseError('internal', 'bindings written without the integrity key');
  for (const b of bindings) {
    const mac = rowMac(key, BINDING_MAC, bindingMacFields(item.id, item.vault_id, b));
    // An operator binding again re-signs a row that exists unsigned or with a bad signature.
    await db
      .insertInto('vault_bindings')
      .values({ id: randomUUID(), item_id: item.id, kind: b.kind, pattern: b.pattern, mac })
      .onConflict((oc) => oc.columns(['item_id', 'kind', 'pattern']).doUpdateSet({ mac }))
      .execute();
  }
}
