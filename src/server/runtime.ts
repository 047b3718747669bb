import { randomBytes } from 'node:crypto';
import { AuditLog } from '../audit/index.js';
import { ensureHome, gatehouseHome, log, type HomePaths } from '../core/index.js';
import { Gate, isGranted, TokenService, type ActionGuard, type Approver, type Principal } from '../gate/index.js';
import { openStore, type Store } from '../store/index.js';
import type { ToolDefinition } from '../tools/types.js';

export interface TargetSummary {
  name: string;
  kind: string;
  description: string;
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  /** Creates GATEHOUSE_HOME and the master key when missing (serve/mcp/init do; read-only commands do not). */
  create?: boolean;
  guard?: ActionGuard;
  approver?: Approver;
}

/**
 * Everything one Gatehouse process holds: the store, the token service, the audit log, the gate
 * and the tool set. `gatehouse serve` and `gatehouse mcp` build one; CLI commands build one too,
 * so the server and the CLI always act on the same engine.
 */
export class Runtime {
  readonly paths: HomePaths;
  readonly store: Store;
  readonly tokens: TokenService;
  readonly audit: AuditLog;
  readonly gate: Gate;
  tools: ToolDefinition[] = [];
  readonly #closers: (() => Promise<void>)[] = [];

  private constructor(paths: HomePaths, store: Store, audit: AuditLog, gate: Gate) {
    this.paths = paths;
    this.store = store;
    this.tokens = new TokenService(store);
    this.audit = audit;
    this.gate = gate;
  }

  static async open(opts: RuntimeOptions & { chainKey: (store: Store, paths: HomePaths) => Promise<Buffer> }): Promise<Runtime> {
    const env = opts.env ?? process.env;
    const paths = gatehouseHome(env);
    if (opts.create !== false) ensureHome(paths);
    const store = await openStore({ databaseUrl: env.DATABASE_URL || undefined, sqliteFile: paths.databaseFile, schema: env.GATEHOUSE_PG_SCHEMA || undefined });
    try {
      const audit = new AuditLog(store, await opts.chainKey(store, paths));
      const gate = new Gate({ audit, guard: opts.guard, approver: opts.approver });
      return new Runtime(paths, store, audit, gate);
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn);
  }

  isToolGranted(p: Principal, tool: string): boolean {
    return isGranted(p.grants, 'tool', tool);
  }

  isTargetGranted(p: Principal, target: string): boolean {
    return isGranted(p.grants, 'target', target);
  }

  async listTargets(): Promise<TargetSummary[]> {
    const rows = (await this.store.db.selectFrom('targets').select(['name', 'kind', 'description']).orderBy('name').execute()) as TargetSummary[];
    return rows;
  }

  listVaultNames: () => Promise<string[]> = async () => [];
  listSessions: (p: Principal) => Promise<{ id: string; target: string; openedAt: string }[]> = async () => [];

  async close(): Promise<void> {
    for (const fn of this.#closers.reverse()) await fn().catch((e) => log.warn('close failed', { err: e }));
    await this.audit.drain();
    await this.store.close();
  }
}

/** A random per-process key, for tests that do not involve the vault. */
export function ephemeralKey(): Buffer {
  return randomBytes(32);
}
