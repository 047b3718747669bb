import { GatehouseError } from '../core/index.js';
import { nowIso, type Store } from '../store/index.js';
import type { HttpTargetConfig, SshTargetConfig, Target, TargetKind } from './types.js';
import { checkTargetName, validateHttpConfig, validateSshConfig } from './validate.js';

interface Row {
  name: string;
  kind: TargetKind;
  description: string;
  config: string;
  created_at: string;
  updated_at: string;
}

function toTarget(r: Row): Target {
  return { name: r.name, kind: r.kind, description: r.description, config: JSON.parse(r.config), createdAt: r.created_at, updatedAt: r.updated_at } as Target;
}

function validated(name: string, kind: TargetKind, config: HttpTargetConfig | SshTargetConfig): Promise<HttpTargetConfig | SshTargetConfig> {
  return kind === 'http' ? validateHttpConfig(name, config as HttpTargetConfig) : validateSshConfig(config as SshTargetConfig);
}

/**
 * Targets in the store. Configs hold only non-secret settings and vault references; a change
 * notifies listeners so pools built from the old config are dropped at once.
 */
export class TargetRepository {
  readonly #store: Store;
  readonly #listeners: ((name: string) => void)[] = [];
  #cache = new Map<string, { target: Target | null; at: number }>();

  constructor(store: Store) {
    this.#store = store;
  }

  onChange(fn: (name: string) => void): void {
    this.#listeners.push(fn);
  }

  async add(kind: TargetKind, name: string, config: HttpTargetConfig | SshTargetConfig, description = ''): Promise<Target> {
    checkTargetName(name);
    const c = await validated(name, kind, config);
    if (await this.find(name)) throw new GatehouseError('conflict', `a target named ${name} already exists`, { hint: 'use `gatehouse target update` or pick another name' });
    const now = nowIso();
    const row: Row = { name, kind, description, config: JSON.stringify(c), created_at: now, updated_at: now };
    await this.#store.db.insertInto('targets').values(row).execute();
    this.#changed(name);
    return toTarget(row);
  }

  async update(name: string, patch: { description?: string; config?: Partial<HttpTargetConfig> | Partial<SshTargetConfig> }): Promise<Target> {
    const cur = await this.get(name);
    const config = await validated(name, cur.kind, { ...cur.config, ...(patch.config ?? {}) } as HttpTargetConfig | SshTargetConfig);
    const description = patch.description ?? cur.description;
    await this.#store.db.updateTable('targets').set({ config: JSON.stringify(config), description, updated_at: nowIso() }).where('name', '=', name).execute();
    this.#changed(name);
    return this.get(name);
  }

  async remove(name: string): Promise<void> {
    const r = await this.#store.db.deleteFrom('targets').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new GatehouseError('not_found', `no target ${JSON.stringify(name)}`, { hint: 'see `gatehouse target list`' });
    this.#changed(name);
  }

  async list(): Promise<Target[]> {
    const rows = (await this.#store.db.selectFrom('targets').selectAll().orderBy('name').execute()) as Row[];
    return rows.map(toTarget);
  }

  async find(name: string): Promise<Target | null> {
    const row = (await this.#store.db.selectFrom('targets').selectAll().where('name', '=', name).executeTakeFirst()) as Row | undefined;
    return row ? toTarget(row) : null;
  }

  /**
   * The target by name, cached for a second on the hot path (the same bound as token lookups, so
   * a change made by another process takes effect within a second).
   */
  async get(name: string): Promise<Target> {
    const hit = this.#cache.get(name);
    let target: Target | null;
    if (hit && Date.now() - hit.at < 1000) target = hit.target;
    else {
      target = await this.find(name);
      this.#cache.set(name, { target, at: Date.now() });
    }
    if (!target) throw new GatehouseError('not_found', `no target ${JSON.stringify(name)}`, { hint: 'call `discover` to see the targets you may use' });
    return target;
  }

  #changed(name: string): void {
    this.#cache.delete(name);
    for (const fn of this.#listeners) fn(name);
  }
}
