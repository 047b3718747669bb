import { GatehouseError, log, rowMac, rowMacValid, type MacField } from '../core/index.js';
import { nowIso, type Store } from '../store/index.js';
import { INTEGRITY_KEY } from '../vault/index.js';
import type { HttpTargetConfig, SshTargetConfig, Target, TargetKind } from './types.js';
import { checkTargetName, validateHttpConfig, validateSshConfig } from './validate.js';

interface Row {
  name: string;
  kind: TargetKind;
  description: string;
  config: string;
  created_at: string;
  updated_at: string;
  mac?: string | null;
}

/** What the repository needs from the keyring (a `Keyring` is one). */
export interface IntegrityKeys {
  internalKey(purpose: string): Promise<Buffer>;
  /** False once the store's rows are signed: an unsigned row is then never signed again. */
  unsignedRowsMaySign(): Promise<boolean>;
}

/** A target row whose signature does not verify: listed for the operator, never used. */
export interface RejectedTarget {
  name: string;
  kind: string;
  reason: 'unsigned' | 'signature_mismatch';
}

/** Signature kind of a target row (src/core/row-mac.ts). */
const TARGET_MAC = 'target/v1';

/**
 * What a target's signature covers: everything that decides where its credential goes and what
 * agents are told about it (base URL, host, port, pinned host key, credential references, redirect
 * and private-network switches, the description), exactly as stored.
 */
function macFields(r: Row): MacField[] {
  return [r.name, r.kind, r.description, r.config, r.created_at, r.updated_at];
}

function toTarget(r: Row): Target {
  return {
    name: r.name,
    kind: r.kind,
    description: r.description,
    config: JSON.parse(r.config),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } as Target;
}

function validated(
  name: string,
  kind: TargetKind,
  config: HttpTargetConfig | SshTargetConfig,
): Promise<HttpTargetConfig | SshTargetConfig> {
  return kind === 'http'
    ? validateHttpConfig(name, config as HttpTargetConfig)
    : validateSshConfig(config as SshTargetConfig);
}

/** Descriptions are shown to agents (discover) and people (approvals): text, bounded. */
function checkDescription(d: unknown): string {
  if (typeof d !== 'string' || d.length > 2000 || /[\x00-\x08\x0b-\x1f\x7f]/.test(d)) {
    throw new GatehouseError(
      'invalid_input',
      'the target description must be text of at most 2000 characters without control characters',
      { hint: 'shorten --description' },
    );
  }
  return d;
}

function integrityError(name: string): GatehouseError {
  return new GatehouseError(
    'integrity_failed',
    `target ${JSON.stringify(name)} failed its integrity check: its row was written or changed without the master key`,
    {
      hint: `re-create it: \`gatehouse target rm ${name}\`, then \`gatehouse target add …\` with the settings you expect; and find out who can write to the database`,
      details: { target: name },
    },
  );
}

/**
 * Targets in the store. Configs hold only non-secret settings and vault references; a change
 * notifies listeners so pools built from the old config are dropped at once.
 *
 * INVARIANT: every row is signed (HMAC under the keyring's store-integrity key) when written, and
 * a row whose signature does not verify is never used: `get`/`find` answer `integrity_failed`,
 * `list` leaves it out. Someone who can write to the database but does not hold the master key
 * cannot point a target's credential at another host.
 */
export class TargetRepository {
  readonly #store: Store;
  readonly #keys: IntegrityKeys | undefined;
  readonly #listeners: ((name: string) => void)[] = [];
  #cache = new Map<string, { target: Target | null; at: number }>();

  constructor(store: Store, keys: IntegrityKeys) {
    this.#store = store;
    this.#keys = keys;
  }

  onChange(fn: (name: string) => void): void {
    this.#listeners.push(fn);
  }

  async add(
    kind: TargetKind,
    name: string,
    config: HttpTargetConfig | SshTargetConfig,
    description = '',
  ): Promise<Target> {
    checkTargetName(name);
    checkDescription(description);
    const c = await validated(name, kind, config);
    if (await this.#row(name))
      throw new GatehouseError('conflict', `a target named ${name} already exists`, {
        hint: 'use `gatehouse target update` or pick another name',
      });
    const now = nowIso();
    const row: Row = { name, kind, description, config: JSON.stringify(c), created_at: now, updated_at: now };
    await this.#store.db
      .insertInto('targets')
      .values({ ...row, mac: await this.#sign(row) })
      .execute();
    this.#changed(name);
    return toTarget(row);
  }

  async update(
    name: string,
    patch: { description?: string; config?: Partial<HttpTargetConfig> | Partial<SshTargetConfig> },
  ): Promise<Target> {
    const cur = await this.find(name);
    if (!cur)
      throw new GatehouseError('not_found', `no target ${JSON.stringify(name)}`, {
        hint: 'see `gatehouse target list`',
      });
    const config = await validated(name, cur.kind, { ...cur.config, ...(patch.config ?? {}) } as
      HttpTargetConfig | SshTargetConfig);
    const row: Row = {
      name,
      kind: cur.kind,
      description: checkDescription(patch.description ?? cur.description),
      config: JSON.stringify(config),
      created_at: cur.createdAt,
      updated_at: nowIso(),
    };
    // The signed row replaces the verified one only if nobody changed it in between.
    const r = await this.#store.db
      .updateTable('targets')
      .set({ config: row.config, description: row.description, updated_at: row.updated_at, mac: await this.#sign(row) })
      .where('name', '=', name)
      .where('updated_at', '=', cur.updatedAt)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new GatehouseError('conflict', `target ${name} changed while it was being updated`, {
        hint: 'run the update again',
      });
    this.#changed(name);
    return toTarget(row);
  }

  async remove(name: string): Promise<void> {
    // Removal needs no signature: it is how an operator gets rid of a row that fails its check.
    const r = await this.#store.db.deleteFrom('targets').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new GatehouseError('not_found', `no target ${JSON.stringify(name)}`, {
        hint: 'see `gatehouse target list`',
      });
    this.#changed(name);
  }

  /** Targets whose signature verifies (the others are logged and left out). */
  async list(): Promise<Target[]> {
    return (await this.listChecked()).targets;
  }

  /** Every target row, split into the verified targets and the rows that fail their check. */
  async listChecked(): Promise<{ targets: Target[]; rejected: RejectedTarget[] }> {
    const rows = (await this.#store.db.selectFrom('targets').selectAll().orderBy('name').execute()) as Row[];
    const out: { targets: Target[]; rejected: RejectedTarget[] } = { targets: [], rejected: [] };
    const key = rows.length ? await this.#key() : undefined;
    for (const r of rows) {
      if (key && rowMacValid(key, TARGET_MAC, macFields(r), r.mac)) out.targets.push(toTarget(r));
      else out.rejected.push(this.#reject(r));
    }
    return out;
  }

  /** The target, `null` when there is none; `integrity_failed` when its row does not verify. */
  async find(name: string): Promise<Target | null> {
    const row = await this.#row(name);
    if (!row) return null;
    if (!rowMacValid(await this.#key(), TARGET_MAC, macFields(row), row.mac)) {
      this.#reject(row);
      throw integrityError(name);
    }
    return toTarget(row);
  }

  /**
   * The target by name, cached for a second on the hot path (the same bound as token lookups, so
   * a change made by another process takes effect within a second). Only verified rows are cached.
   */
  async get(name: string): Promise<Target> {
    const hit = this.#cache.get(name);
    let target: Target | null;
    if (hit && Date.now() - hit.at < 1000) target = hit.target;
    else {
      target = await this.find(name);
      this.#cache.set(name, { target, at: Date.now() });
    }
    if (!target)
      throw new GatehouseError('not_found', `no target ${JSON.stringify(name)}`, {
        hint: 'call `discover` to see the targets you may use',
      });
    return target;
  }

  /**
   * Signs target rows that have no signature yet (rows that existed before migration
   * 0006_integrity). Call it ONLY in the process that applied that migration, right after opening
   * the keyring, and only while `keyring.unsignedRowsMaySign()` (it checks again and signs nothing
   * once the store's rows are signed); then `keyring.markRowsSigned()`. Returns how many rows
   * were signed.
   */
  async signUnsigned(): Promise<number> {
    if (!this.#keys || !(await this.#keys.unsignedRowsMaySign())) {
      const left = await this.#store.db.selectFrom('targets').select('name').where('mac', 'is', null).execute();
      if (left.length)
        log.error(
          'targets: unsigned targets found in a store whose rows are already signed; they stay refused (written without the master key?)',
          { targets: left.map((r: { name: string }) => r.name) },
        );
      return 0;
    }
    const rows = (await this.#store.db.selectFrom('targets').selectAll().where('mac', 'is', null).execute()) as Row[];
    let n = 0;
    for (const r of rows) {
      const u = await this.#store.db
        .updateTable('targets')
        .set({ mac: await this.#sign(r) })
        .where('name', '=', r.name)
        .where('mac', 'is', null)
        .where('updated_at', '=', r.updated_at)
        .executeTakeFirst();
      n += Number(u.numUpdatedRows);
      this.#cache.delete(r.name);
    }
    if (n) log.info('targets: signed targets that existed before row signatures', { count: n });
    return n;
  }

  async #row(name: string): Promise<Row | undefined> {
    return (await this.#store.db.selectFrom('targets').selectAll().where('name', '=', name).executeTakeFirst()) as
      Row | undefined;
  }

  async #sign(r: Row): Promise<string> {
    return rowMac(await this.#key(), TARGET_MAC, macFields(r));
  }

  #key(): Promise<Buffer> {
    if (!this.#keys) {
      // Fail closed: without the key nothing can be verified, so nothing is used.
      return Promise.reject(
        new GatehouseError('integrity_failed', 'the target repository was created without the store-integrity key', {
          hint: 'construct it with the keyring: new TargetRepository(store, keyring)',
        }),
      );
    }
    return this.#keys.internalKey(INTEGRITY_KEY);
  }

  #reject(r: Row): RejectedTarget {
    const reason = r.mac == null ? 'unsigned' : 'signature_mismatch';
    log.error(
      'targets: REFUSING a target whose signature does not verify: it was written or changed without the master key (or predates signatures and was never signed)',
      {
        target: r.name,
        reason,
        fix: `gatehouse target rm ${r.name}, then add it again; and check who can write to the database`,
      },
    );
    return { name: r.name, kind: r.kind, reason };
  }

  #changed(name: string): void {
    this.#cache.delete(name);
    for (const fn of this.#listeners) fn(name);
  }
}
