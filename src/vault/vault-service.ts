import { randomUUID } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { nowIso, type Store } from '../store/index.js';
import { anyBindingMatches, formatBinding, parseBinding, type Binding, type Destination } from './bindings.js';
import { applyFilter, hasHandles, parseHandles, refused, type ParsedHandle } from './handles.js';
import { KeyringImpl, type Keyring } from './keyring.js';
import { checkName, parseFieldRef, parseItemRef } from './names.js';
import { AD, KEY_BYTES, open, seal } from './seal.js';
import { getSodium } from './sodium.js';
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
  /** `target:NAME` / `host:PATTERN` */
  bindings: string[];
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
  /** Bindings to add: `target:NAME` or `host:PATTERN`. */
  bind?: string[];
  description?: string;
}

/** Anything with an `add(secret)` (the Redactor). */
export interface SecretSink {
  add(secret: string): void;
}

const MAX_VALUE_BYTES = 64 * 1024;

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

export function openVault(opts: { store: Store; keyring: Keyring }): Vault {
  if (!(opts.keyring instanceof KeyringImpl)) throw new GatehouseError('internal', 'openVault needs a keyring from openKeyring()');
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
    const s = await getSodium();
    const id = randomUUID();
    const dk = s.randombytes_buf(KEY_BYTES);
    const w = await this.keyring.wrapDataKey(id, dk);
    s.memzero(dk);
    await writeTransaction(this.store, async (db) => {
      const exists = await db.selectFrom('vaults').select('id').where('name', '=', name).executeTakeFirst();
      if (exists) throw new GatehouseError('conflict', `vault ${name} already exists`);
      await db.insertInto('vaults').values({ id, name, wrapped_key: w.ciphertext, key_nonce: w.nonce, key_id: w.keyId, created_at: nowIso() }).execute();
    });
  }

  /** Seals `value` into VAULT/ITEM.FIELD (creating the item if needed) and adds bindings. */
  async setField(ref: string, value: string, opts: SetFieldOptions = {}): Promise<void> {
    const r = parseFieldRef(ref);
    if (typeof value !== 'string' || value.length === 0) throw new GatehouseError('invalid_input', `empty value for ${ref}`, { hint: 'give the secret on stdin' });
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw new GatehouseError('input_too_large', `value for ${ref} is over ${MAX_VALUE_BYTES} bytes`);
    const bindings = (opts.bind ?? []).map(parseBinding);
    if (opts.description !== undefined && opts.description.length > 2000) throw new GatehouseError('invalid_input', 'description is over 2000 characters');
    const v = await this.#vaultRow(r.vault);
    const dk = await this.#dataKey(v);
    await writeTransaction(this.store, async (db) => {
      const now = nowIso();
      let item = (await db.selectFrom('vault_items').selectAll().where('vault_id', '=', v.id).where('name', '=', r.item).executeTakeFirst()) as ItemRow | undefined;
      if (!item) {
        item = { id: randomUUID(), vault_id: v.id, name: r.item, description: opts.description ?? null, updated_at: now };
        await db.insertInto('vault_items').values({ ...item, created_at: now }).execute();
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
        .values({ id: randomUUID(), item_id: item.id, name: r.field, ciphertext: sealed.ciphertext, nonce: sealed.nonce, updated_at: now })
        .onConflict((oc) => oc.columns(['item_id', 'name']).doUpdateSet({ ciphertext: sealed.ciphertext, nonce: sealed.nonce, updated_at: now }))
        .execute();
      for (const b of bindings) {
        await db
          .insertInto('vault_bindings')
          .values({ id: randomUUID(), item_id: item.id, kind: b.kind, pattern: b.pattern })
          .onConflict((oc) => oc.columns(['item_id', 'kind', 'pattern']).doNothing())
          .execute();
      }
    });
  }

  /** Removes bindings from an item (`VAULT/ITEM`). */
  async unbind(itemRef: string, bind: string[]): Promise<void> {
    const r = parseItemRef(itemRef);
    if (!r.item) throw new GatehouseError('invalid_input', 'unbind needs VAULT/ITEM');
    const item = await this.#itemRow(await this.#vaultRow(r.vault), r.item);
    for (const b of bind.map(parseBinding)) {
      await this.store.db.deleteFrom('vault_bindings').where('item_id', '=', item.id).where('kind', '=', b.kind).where('pattern', '=', b.pattern).execute();
    }
  }

  async listVaults(): Promise<VaultSummary[]> {
    const vs = (await this.store.db.selectFrom('vaults').select(['id', 'name', 'created_at']).orderBy('name').execute()) as VaultRow[];
    const counts = (await this.store.db.selectFrom('vault_items').select(['vault_id']).execute()) as Array<{ vault_id: string }>;
    return vs.map((v) => ({ name: v.name, items: counts.filter((c) => c.vault_id === v.id).length, createdAt: v.created_at }));
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
        const dest: Destination = { ...(q.target !== undefined ? { target: q.target } : {}), ...(q.host !== undefined ? { host: q.host } : {}) };
        if (!anyBindingMatches(it.bindings.map(parseBinding), dest)) continue;
      }
      for (const field of it.fields) {
        const hay = [it.vault, it.item, field, it.description ?? '', ...it.bindings].join('\n').toLowerCase();
        if (text && !hay.includes(text)) continue;
        hits.push({ handle: `{{vault:${it.vault}/${it.item}.${field}}}`, vault: it.vault, item: it.item, field, description: it.description, bindings: it.bindings });
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
    if (!hasHandles(text)) return { text, filled: [], handles: [] };
    const segments = parseHandles(text);
    const granted = new Set(opts.grantedVaults);
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
    if (!granted.has('*') && !granted.has(h.vault)) throw refused(h.text, `vault ${h.vault} is not granted to this token`);
    const v = (await this.store.db.selectFrom('vaults').selectAll().where('name', '=', h.vault).executeTakeFirst()) as VaultRow | undefined;
    if (!v) throw refused(h.text, `no vault named ${h.vault}`);
    const item = (await this.store.db.selectFrom('vault_items').selectAll().where('vault_id', '=', v.id).where('name', '=', h.item).executeTakeFirst()) as ItemRow | undefined;
    if (!item) throw refused(h.text, `no item ${h.item} in vault ${h.vault}`);
    const bindings = await this.#bindings(item.id);
    if (!anyBindingMatches(bindings, dest)) {
      const where = [dest.target !== undefined ? `target ${dest.target}` : '', dest.host !== undefined ? `host ${dest.host}` : ''].filter(Boolean).join(', ') || 'an unspecified destination';
      const bound = bindings.length ? bindings.map(formatBinding).join(', ') : 'nothing (the item has no binding)';
      throw refused(h.text, `item ${h.vault}/${h.item} is not bound to this destination (${where}); it is bound to ${bound}`, 'an operator binds items with `gatehouse vault set VAULT/ITEM.FIELD --bind target:NAME|host:PATTERN`');
    }
    const fieldNames = h.filter === 'basic' ? ['username', 'password'] : [h.field!];
    const values: string[] = [];
    for (const f of fieldNames) {
      const exists = await this.store.db.selectFrom('vault_fields').select('id').where('item_id', '=', item.id).where('name', '=', f).executeTakeFirst();
      if (!exists) throw refused(h.text, `item ${h.vault}/${h.item} has no field ${f}`);
      values.push(await this.#openItemField(v, item, f, `${h.vault}/${h.item}.${f}`));
    }
    for (const val of values) filled.add(val);
    if (h.filter === 'basic') {
      const pair = `${values[0]}:${values[1]}`;
      filled.add(pair);
      return Buffer.from(pair, 'utf8').toString('base64');
    }
    return applyFilter(values[0], h.filter);
  }

  async #openItemField(v: VaultRow, item: ItemRow, field: string, ref: string): Promise<string> {
    const row = (await this.store.db.selectFrom('vault_fields').select(['ciphertext', 'nonce']).where('item_id', '=', item.id).where('name', '=', field).executeTakeFirst()) as
      | { ciphertext: string; nonce: string }
      | undefined;
    if (!row) throw new GatehouseError('not_found', `no field ${ref}`);
    const dk = await this.#dataKey(v);
    const pt = await open(row, AD.field(v.id, item.id, field), dk, `vault field ${ref}`);
    return Buffer.from(pt).toString('utf8');
  }

  async #vaultRow(name: string): Promise<VaultRow> {
    checkName('vault', name);
    const v = (await this.store.db.selectFrom('vaults').selectAll().where('name', '=', name).executeTakeFirst()) as VaultRow | undefined;
    if (!v) throw new GatehouseError('not_found', `no vault named ${name}`, { hint: `create it with \`gatehouse vault create ${name}\`` });
    return v;
  }

  async #itemRow(v: VaultRow, name: string): Promise<ItemRow> {
    checkName('item', name);
    const it = (await this.store.db.selectFrom('vault_items').selectAll().where('vault_id', '=', v.id).where('name', '=', name).executeTakeFirst()) as ItemRow | undefined;
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

  async #bindings(itemId: string): Promise<Binding[]> {
    const rows = (await this.store.db.selectFrom('vault_bindings').select(['kind', 'pattern']).where('item_id', '=', itemId).orderBy('kind').orderBy('pattern').execute()) as Binding[];
    return rows;
  }

  async #items(vaults: string[] | undefined): Promise<ItemSummary[]> {
    if (vaults && vaults.length === 0) return [];
    let q = this.store.db
      .selectFrom('vault_items as i')
      .innerJoin('vaults as v', 'v.id', 'i.vault_id')
      .select(['i.id as id', 'i.name as item', 'i.description as description', 'i.updated_at as updated_at', 'v.name as vault'])
      .orderBy('v.name')
      .orderBy('i.name');
    if (vaults) q = q.where('v.name', 'in', vaults);
    const items = (await q.execute()) as Array<{ id: string; item: string; description: string | null; updated_at: string; vault: string }>;
    if (items.length === 0) return [];
    const ids = items.map((i) => i.id);
    const fields = (await this.store.db.selectFrom('vault_fields').select(['item_id', 'name']).where('item_id', 'in', ids).orderBy('name').execute()) as Array<{ item_id: string; name: string }>;
    const binds = (await this.store.db.selectFrom('vault_bindings').select(['item_id', 'kind', 'pattern']).where('item_id', 'in', ids).orderBy('kind').orderBy('pattern').execute()) as Array<{
      item_id: string;
      kind: 'target' | 'host';
      pattern: string;
    }>;
    return items.map((i) => ({
      vault: i.vault,
      item: i.item,
      description: i.description,
      fields: fields.filter((f) => f.item_id === i.id).map((f) => f.name),
      bindings: binds.filter((b) => b.item_id === i.id).map((b) => formatBinding(b)),
      updatedAt: i.updated_at,
    }));
  }
}
