import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { GatehouseError, log } from '../core/index.js';
import { nowIso, type Store, type UntypedDb } from '../store/index.js';
import {
  decodeKeyText,
  deriveFromPassphrase,
  keyFileExists,
  keyIdOf,
  newKdfParams,
  readKeyFile,
  selectSource,
  writeKeyFileExclusive,
  type KdfParams,
  type MasterKeySource,
} from './master-key.js';
import { AD, KEY_BYTES, open, seal, type Sealed } from './seal.js';
import { writeTransaction } from './write-tx.js';

export interface OpenKeyringOptions {
  /** $GATEHOUSE_HOME (must exist, mode 0700: see ensureHome in src/core). */
  home: string;
  /** $GATEHOUSE_HOME/master.key */
  masterKeyFile: string;
  env: NodeJS.ProcessEnv;
  /** The store holding the check value, wrapped data keys and internal keys. */
  store: Store;
  /** Create a key file (0600) on first start when no key source exists and the store holds no sealed data. */
  create?: boolean;
  /**
   * Set up the keyring (its check value) when the store has none (default true). `false` for
   * processes that must not write: `vault rekey` and `doctor` refuse a store without a keyring
   * instead of starting a new one in it.
   */
  initialize?: boolean;
}

export interface RekeyOptions {
  /** New raw 32-byte key (file or env source). Default for a file source: 32 fresh random bytes. */
  newKey?: Uint8Array;
  /** New passphrase (passphrase source). */
  newPassphrase?: string;
  /**
   * Rotate even though the store holds no vault. Without it such a rekey is refused: a store with
   * no secret sealed by the current key is most likely not the store the key belongs to (a wrong
   * DATABASE_URL or GATEHOUSE_PG_SCHEMA), and replacing the key file would lock the real store.
   * The CLI sets it only for `--empty-store`.
   */
  allowEmptyStore?: boolean;
}

export interface RekeyResult {
  oldKeyId: string;
  newKeyId: string;
  source: MasterKeySource;
  rewrapped: { vaultKeys: number; internalKeys: number };
  /** File source: where the previous key file was kept (`master.key.old`, mode 0600). */
  oldKeyFile?: string;
}

/** The public face of the keyring. Wrapping primitives stay inside src/vault. */
export interface Keyring {
  /** Public fingerprint of the master key in use (not secret). */
  readonly keyId: string;
  readonly source: MasterKeySource;
  /**
   * A stable named 32-byte key for another module (`'audit-chain'`, `'request-state'`, ...):
   * random on first use, stored wrapped under the master key, unchanged by rekey.
   */
  internalKey(purpose: string): Promise<Buffer>;
  /** Rotates the master key: re-wraps every data and internal key in one transaction. */
  rekey(opts?: RekeyOptions): Promise<RekeyResult>;
  /**
   * True only for a store created before row signatures whose rows were never signed: then, and
   * only in the process that applied migration 0006_integrity, the rows that predate signatures
   * may be signed (`signUnsigned()` of each repository), after which `markRowsSigned()` closes
   * that door for good. A fresh store answers false (nothing in it predates signatures).
   */
  unsignedRowsMaySign(): Promise<boolean>;
  /** Records, sealed under the master key, that every row that predates signatures was signed. */
  markRowsSigned(): Promise<void>;
  /** Forgets keys held in memory. */
  close(): void;
}

const CHECK_ID = 'check';
const CHECK_PLAINTEXT = 'gatehouse master key check v1';
/**
 * The check value of a store whose rows carry signatures (src/core/row-mac.ts) from the start, or
 * whose older rows were signed once after migration 0006_integrity. It is sealed under the master
 * key, so a database writer can neither set nor clear it, and the check row cannot be removed
 * while sealed data exists. From then on an unsigned row is never signed again: it was written
 * without the master key (even if someone dropped the signature columns and the migration's row
 * to have 0006 applied a second time).
 */
const CHECK_PLAINTEXT_SIGNED = 'gatehouse master key check v1|rows signed';
const PURPOSE = /^[a-z0-9][a-z0-9_.:-]{0,99}$/;

interface KeyringRow {
  id: string;
  wrapped: string;
  nonce: string;
  key_id: string;
  kdf: string | null;
}

/**
 * Opens the keyring: resolves the master key, and verifies it by opening the sealed check value
 * stored with the data. INVARIANT: a wrong or missing key stops here with `key_invalid`; nothing
 * is ever decrypted with an unverified key.
 */
export async function openKeyring(opts: OpenKeyringOptions): Promise<Keyring> {
  const { store, env } = opts;
  const source = selectSource(env);
  const check = (await store.db
    .selectFrom('vault_keyring')
    .selectAll()
    .where('id', '=', CHECK_ID)
    .executeTakeFirst()) as KeyringRow | undefined;

  if (!check) {
    // Fresh store (or one whose check row was removed). Fail closed if sealed data exists anyway.
    const sealedData = await store.db.selectFrom('vaults').select('id').limit(1).executeTakeFirst();
    const otherKeys = await store.db.selectFrom('vault_keyring').select('id').limit(1).executeTakeFirst();
    if (sealedData || otherKeys) {
      // Another process may have initialised this store between the two reads (several servers
      // started at once on a new store): its check row is written before anything is sealed, so
      // if it is there now, verify against it. Still none: it was removed, fail closed.
      const late = await store.db
        .selectFrom('vault_keyring')
        .select('id')
        .where('id', '=', CHECK_ID)
        .executeTakeFirst();
      if (late) return openKeyring(opts);
      throw new GatehouseError('key_invalid', 'the store holds sealed data but no master key check value', {
        hint: 'the vault_keyring check row was removed; restore the store from a backup',
      });
    }
    if (opts.initialize === false) {
      throw new GatehouseError(
        'not_found',
        `the store at ${store.description} holds no keyring: nothing was ever sealed in it`,
        {
          hint: 'check that DATABASE_URL and GATEHOUSE_PG_SCHEMA (or GATEHOUSE_HOME) name the store Gatehouse serves from',
        },
      );
    }
    const { key, kdf } = await resolveForNewStore(opts, source);
    await insertCheck(store, key, kdf);
    // Re-read: another process may have won the race with its own key; verify against whatever is there.
    return openKeyring({ ...opts, create: false });
  }

  const kdf = check.kdf ? (JSON.parse(check.kdf) as KdfParams) : undefined;
  let key: Uint8Array;
  if (source === 'env') key = decodeKeyText(env.GATEHOUSE_MASTER_KEY ?? '', 'GATEHOUSE_MASTER_KEY');
  else if (source === 'passphrase') {
    if (!kdf) {
      throw new GatehouseError(
        'key_invalid',
        `this store was sealed with a raw key (key id ${check.key_id}), not a passphrase`,
        {
          hint: 'unset GATEHOUSE_MASTER_PASSPHRASE and provide the key file or GATEHOUSE_MASTER_KEY',
        },
      );
    }
    key = await deriveFromPassphrase(env.GATEHOUSE_MASTER_PASSPHRASE ?? '', kdf);
  } else {
    if (!keyFileExists(opts.masterKeyFile) && keyFileExists(opts.masterKeyFile + '.new')) {
      // A rekey committed and crashed between its two renames: finish it.
      renameSync(opts.masterKeyFile + '.new', opts.masterKeyFile);
    }
    key = readKeyFile(opts.masterKeyFile);
  }

  if (!(await opensCheck(check, key))) {
    if (source === 'file' && keyFileExists(opts.masterKeyFile + '.new')) {
      const candidate = readKeyFile(opts.masterKeyFile + '.new');
      if (await opensCheck(check, candidate)) {
        // The rekey transaction committed but the file swap did not happen: complete it now.
        renameSync(opts.masterKeyFile, opts.masterKeyFile + '.old');
        renameSync(opts.masterKeyFile + '.new', opts.masterKeyFile);
        log.warn('vault: completed an interrupted master key rotation', { keyFile: opts.masterKeyFile });
        key = candidate;
      }
    }
  }
  if (!(await opensCheck(check, key))) {
    const given = await keyIdOf(key);
    throw new GatehouseError(
      'key_invalid',
      `the master key (key id ${given}) does not open this store (sealed with key id ${check.key_id})`,
      {
        hint:
          kdf && source !== 'passphrase'
            ? 'this store was sealed with a passphrase: set GATEHOUSE_MASTER_PASSPHRASE'
            : 'provide the master key this store was sealed with (master.key, GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_PASSPHRASE)',
      },
    );
  }
  if (source === 'file' && keyFileExists(opts.masterKeyFile + '.new')) {
    // Left over from a rekey whose transaction rolled back: that key never sealed anything.
    rmSync(opts.masterKeyFile + '.new', { force: true });
  }
  return new KeyringImpl(opts, source, key, await keyIdOf(key));
}

async function resolveForNewStore(
  opts: OpenKeyringOptions,
  source: MasterKeySource,
): Promise<{ key: Uint8Array; kdf?: KdfParams }> {
  if (source === 'env') return { key: decodeKeyText(opts.env.GATEHOUSE_MASTER_KEY ?? '', 'GATEHOUSE_MASTER_KEY') };
  if (source === 'passphrase') {
    const kdf = await newKdfParams();
    return { key: await deriveFromPassphrase(opts.env.GATEHOUSE_MASTER_PASSPHRASE ?? '', kdf), kdf };
  }
  if (!keyFileExists(opts.masterKeyFile)) {
    if (!opts.create) {
      throw new GatehouseError('key_invalid', `no master key: ${opts.masterKeyFile} does not exist`, {
        hint: 'start `gatehouse serve` or `gatehouse mcp` once to create it, or set GATEHOUSE_MASTER_KEY / GATEHOUSE_MASTER_PASSPHRASE',
      });
    }
    try {
      writeKeyFileExclusive(opts.masterKeyFile, randomBytes(KEY_BYTES));
      log.info('vault: created a new master key file (mode 0600); back it up', { keyFile: opts.masterKeyFile });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process created it first
    }
  }
  return { key: readKeyFile(opts.masterKeyFile) };
}

async function insertCheck(store: Store, key: Uint8Array, kdf: KdfParams | undefined): Promise<void> {
  // A new store: nothing in it predates row signatures.
  const sealed = await seal(Buffer.from(CHECK_PLAINTEXT_SIGNED), AD.check(), key);
  const now = nowIso();
  await store.db
    .insertInto('vault_keyring')
    .values({
      id: CHECK_ID,
      wrapped: sealed.ciphertext,
      nonce: sealed.nonce,
      key_id: await keyIdOf(key),
      kdf: kdf ? JSON.stringify(kdf) : null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

async function opensCheck(row: KeyringRow, key: Uint8Array): Promise<boolean> {
  return (await checkPlaintext(row, key)) !== undefined;
}

/** The check value's plaintext when `key` opens it and it is one Gatehouse wrote; else undefined. */
async function checkPlaintext(
  row: KeyringRow,
  key: Uint8Array,
): Promise<typeof CHECK_PLAINTEXT | typeof CHECK_PLAINTEXT_SIGNED | undefined> {
  try {
    const pt = Buffer.from(
      await open({ ciphertext: row.wrapped, nonce: row.nonce }, AD.check(), key, 'the master key check value'),
    ).toString();
    return pt === CHECK_PLAINTEXT || pt === CHECK_PLAINTEXT_SIGNED ? pt : undefined;
  } catch {
    return undefined;
  }
}

/** Implementation; `wrapDataKey`/`unwrapDataKey` are used by the vault service only. */
export class KeyringImpl implements Keyring {
  #key: Uint8Array;
  #keyId: string;
  readonly #internal = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly opts: OpenKeyringOptions,
    readonly source: MasterKeySource,
    key: Uint8Array,
    keyId: string,
  ) {
    this.#key = key;
    this.#keyId = keyId;
  }

  get keyId(): string {
    return this.#keyId;
  }

  get store(): Store {
    return this.opts.store;
  }

  async wrapDataKey(vaultId: string, dataKey: Uint8Array): Promise<Sealed & { keyId: string }> {
    return { ...(await seal(dataKey, AD.dataKey(vaultId), this.#key)), keyId: this.#keyId };
  }

  async unwrapDataKey(vaultId: string, vaultName: string, sealed: Sealed): Promise<Uint8Array> {
    return open(sealed, AD.dataKey(vaultId), this.#key, `the data key of vault ${vaultName}`);
  }

  internalKey(purpose: string): Promise<Buffer> {
    if (!PURPOSE.test(purpose))
      throw new GatehouseError('invalid_input', `bad internal key purpose ${JSON.stringify(purpose)}`);
    let p = this.#internal.get(purpose);
    if (!p) {
      p = this.#loadOrCreateInternal(purpose);
      this.#internal.set(purpose, p);
      p.catch(() => this.#internal.delete(purpose));
    }
    return p;
  }

  async #loadOrCreateInternal(purpose: string): Promise<Buffer> {
    const id = `internal:${purpose}`;
    const read = async () =>
      (await this.store.db.selectFrom('vault_keyring').selectAll().where('id', '=', id).executeTakeFirst()) as
        KeyringRow | undefined;
    let row = await read();
    if (!row) {
      const sealed = await seal(randomBytes(KEY_BYTES), AD.internalKey(purpose), this.#key);
      const now = nowIso();
      // Two processes may race to create it: the first insert wins and both use the stored one.
      await this.store.db
        .insertInto('vault_keyring')
        .values({
          id,
          wrapped: sealed.ciphertext,
          nonce: sealed.nonce,
          key_id: this.#keyId,
          kdf: null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      row = await read();
      if (!row) throw new GatehouseError('store_unavailable', `cannot store internal key ${purpose}`);
    }
    return Buffer.from(
      await open(
        { ciphertext: row.wrapped, nonce: row.nonce },
        AD.internalKey(purpose),
        this.#key,
        `internal key ${purpose}`,
      ),
    );
  }

  /**
   * Rotation. Only wrapped keys change (each vault's data key, each internal key, the check
   * value); field ciphertexts are untouched and no secret is re-entered. One write transaction:
   * either every key is under the new master key or none is.
   * File source order: write master.key.new (0600) -> commit -> master.key -> master.key.old,
   * master.key.new -> master.key. openKeyring finishes an interrupted swap.
   */
  async rekey(ro: RekeyOptions = {}): Promise<RekeyResult> {
    const oldKey = this.#key;
    const oldKeyId = this.#keyId;
    let newKey: Uint8Array;
    let newKdf: KdfParams | undefined;
    if (this.source === 'passphrase' || ro.newPassphrase !== undefined) {
      if (this.source !== 'passphrase' && this.source !== 'env') {
        throw new GatehouseError('usage', 'a key-file store cannot be rekeyed to a passphrase', {
          hint: 'move to GATEHOUSE_MASTER_KEY or keep the key file; or export the key and set GATEHOUSE_MASTER_PASSPHRASE before rekeying',
        });
      }
      if (ro.newPassphrase === undefined && ro.newKey === undefined) {
        throw new GatehouseError('usage', 'rekey of a passphrase store needs the new passphrase', {
          hint: 'set GATEHOUSE_NEW_MASTER_PASSPHRASE (or GATEHOUSE_NEW_MASTER_KEY) for `gatehouse vault rekey`',
        });
      }
    }
    if (ro.newPassphrase !== undefined) {
      newKdf = await newKdfParams();
      newKey = await deriveFromPassphrase(ro.newPassphrase, newKdf);
    } else if (ro.newKey) {
      if (ro.newKey.length !== KEY_BYTES) throw new GatehouseError('key_invalid', 'the new master key is not 32 bytes');
      newKey = ro.newKey;
    } else if (this.source === 'file') {
      newKey = randomBytes(KEY_BYTES);
    } else {
      throw new GatehouseError('usage', 'rekey of a GATEHOUSE_MASTER_KEY store needs the new key', {
        hint: 'set GATEHOUSE_NEW_MASTER_KEY (32 random bytes as base64/hex), run `gatehouse vault rekey`, then replace GATEHOUSE_MASTER_KEY with it',
      });
    }
    if (Buffer.from(newKey).equals(Buffer.from(oldKey)))
      throw new GatehouseError('usage', 'the new master key equals the current one');
    const newKeyId = await keyIdOf(newKey);
    // Before anything is written: every wrapped key must open with the current key, and there
    // must be at least one (the transaction below checks both again under the write lock).
    await this.#checkSealedByCurrentKey(this.store.db, oldKey, ro);

    const file = this.opts.masterKeyFile;
    if (this.source === 'file') {
      rmSync(file + '.new', { force: true });
      writeKeyFileExclusive(file + '.new', newKey);
    }
    let counts: { vaultKeys: number; internalKeys: number };
    try {
      counts = await writeTransaction(this.store, async (db) => {
        const now = nowIso();
        await this.#checkSealedByCurrentKey(db, oldKey, ro);
        const vaults = (await db
          .selectFrom('vaults')
          .select(['id', 'name', 'wrapped_key', 'key_nonce'])
          .execute()) as Array<{ id: string; name: string; wrapped_key: string; key_nonce: string }>;
        for (const v of vaults) {
          const dk = await open(
            { ciphertext: v.wrapped_key, nonce: v.key_nonce },
            AD.dataKey(v.id),
            oldKey,
            `the data key of vault ${v.name}`,
          );
          const w = await seal(dk, AD.dataKey(v.id), newKey);
          await db
            .updateTable('vaults')
            .set({ wrapped_key: w.ciphertext, key_nonce: w.nonce, key_id: newKeyId })
            .where('id', '=', v.id)
            .execute();
        }
        const rows = (await db.selectFrom('vault_keyring').selectAll().execute()) as KeyringRow[];
        let internalKeys = 0;
        for (const r of rows) {
          if (r.id === CHECK_ID) {
            const plaintext = await checkPlaintext(r, oldKey);
            if (!plaintext)
              throw new GatehouseError('key_invalid', 'the store check value no longer opens with the current key');
            // The same plaintext under the new key: whether rows are signed survives the rotation.
            const w = await seal(Buffer.from(plaintext), AD.check(), newKey);
            await db
              .updateTable('vault_keyring')
              .set({
                wrapped: w.ciphertext,
                nonce: w.nonce,
                key_id: newKeyId,
                kdf: newKdf ? JSON.stringify(newKdf) : null,
                updated_at: now,
              })
              .where('id', '=', r.id)
              .execute();
          } else if (r.id.startsWith('internal:')) {
            const purpose = r.id.slice('internal:'.length);
            const k = await open(
              { ciphertext: r.wrapped, nonce: r.nonce },
              AD.internalKey(purpose),
              oldKey,
              `internal key ${purpose}`,
            );
            const w = await seal(k, AD.internalKey(purpose), newKey);
            await db
              .updateTable('vault_keyring')
              .set({ wrapped: w.ciphertext, nonce: w.nonce, key_id: newKeyId, updated_at: now })
              .where('id', '=', r.id)
              .execute();
            internalKeys++;
          } else {
            throw new GatehouseError('key_invalid', `unknown keyring row ${r.id}; refusing to rekey`);
          }
        }
        return { vaultKeys: vaults.length, internalKeys };
      });
    } catch (e) {
      if (this.source === 'file') rmSync(file + '.new', { force: true });
      throw e;
    }
    let oldKeyFile: string | undefined;
    if (this.source === 'file') {
      renameSync(file, file + '.old');
      renameSync(file + '.new', file);
      oldKeyFile = file + '.old';
    }
    this.#key = newKey;
    this.#keyId = newKeyId;
    oldKey.fill(0);
    log.info('vault: master key rotated', { oldKeyId, newKeyId, ...counts });
    return { oldKeyId, newKeyId, source: this.source, rewrapped: counts, ...(oldKeyFile ? { oldKeyFile } : {}) };
  }

  /**
   * INVARIANT (issue 21.5): a rekey replaces nothing unless the store it opened holds data sealed
   * by the current key: every vault data key and internal key must open with it, and at least one
   * vault must exist. Internal keys alone do not count: any process that opens a store creates
   * some (the audit chain's, ...), so a wrong store someone once ran a command against has them
   * too. The one exception is a store with no vault when the operator states it explicitly
   * (`allowEmptyStore`, the CLI's `--empty-store`).
   */
  async #checkSealedByCurrentKey(db: UntypedDb, key: Uint8Array, ro: RekeyOptions): Promise<void> {
    const vaults = (await db
      .selectFrom('vaults')
      .select(['id', 'name', 'wrapped_key', 'key_nonce'])
      .execute()) as Array<{ id: string; name: string; wrapped_key: string; key_nonce: string }>;
    for (const v of vaults)
      await open(
        { ciphertext: v.wrapped_key, nonce: v.key_nonce },
        AD.dataKey(v.id),
        key,
        `the data key of vault ${v.name}`,
      );
    const rows = (await db.selectFrom('vault_keyring').selectAll().execute()) as KeyringRow[];
    for (const r of rows) {
      if (!r.id.startsWith('internal:')) continue;
      const purpose = r.id.slice('internal:'.length);
      await open({ ciphertext: r.wrapped, nonce: r.nonce }, AD.internalKey(purpose), key, `internal key ${purpose}`);
    }
    if (vaults.length === 0 && !ro.allowEmptyStore) {
      throw new GatehouseError(
        'conflict',
        `refusing to rekey ${this.store.description}: it holds no vault sealed by the current master key, so it is probably not the store this key protects`,
        {
          hint: 'check DATABASE_URL and GATEHOUSE_PG_SCHEMA (or GATEHOUSE_HOME); to rotate the key of a store that really holds no vault, run `gatehouse vault rekey --empty-store`',
        },
      );
    }
  }

  async unsignedRowsMaySign(): Promise<boolean> {
    const row = await this.#checkRow(this.store.db);
    return (await checkPlaintext(row, this.#key)) === CHECK_PLAINTEXT;
  }

  async markRowsSigned(): Promise<void> {
    await writeTransaction(this.store, async (db) => {
      const row = await this.#checkRow(db);
      if ((await checkPlaintext(row, this.#key)) === CHECK_PLAINTEXT_SIGNED) return;
      const w = await seal(Buffer.from(CHECK_PLAINTEXT_SIGNED), AD.check(), this.#key);
      await db
        .updateTable('vault_keyring')
        .set({ wrapped: w.ciphertext, nonce: w.nonce, updated_at: nowIso() })
        .where('id', '=', CHECK_ID)
        .execute();
    });
  }

  async #checkRow(db: UntypedDb): Promise<KeyringRow> {
    const row = (await db.selectFrom('vault_keyring').selectAll().where('id', '=', CHECK_ID).executeTakeFirst()) as
      KeyringRow | undefined;
    if (!row || !(await opensCheck(row, this.#key)))
      throw new GatehouseError(
        'key_invalid',
        'the master key check value is missing or no longer opens with the current key',
      );
    return row;
  }

  close(): void {
    this.#key.fill(0);
    this.#internal.clear();
  }
}
