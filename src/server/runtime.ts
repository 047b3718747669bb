import { sql } from 'kysely';
import { AccessRequests, type ApproveAccessPorts } from '../access/index.js';
import { AuditLog, builtWriterThread, payloadParts } from '../audit/index.js';
import { ensureHome, gatehouseHome, GatehouseError, log, type HomePaths } from '../core/index.js';
import {
  ClientRegistry,
  Gate,
  isGranted,
  RateLimiter,
  TokenService,
  type ActionGuard,
  type Approver,
  type Principal,
} from '../gate/index.js';
import { KnowledgeStore, SkillStore, WikiStore } from '../knowledge/index.js';
import { ChangeHub } from './change-hub.js';
import { openStore, storeOptionsFromEnv, type Store } from '../store/index.js';
import { TargetRepository, parseSecretRef, type Target } from '../targets/index.js';
import type { ToolDefinition, ToolPorts } from '../tools/index.js';
import { installLogScrubbing, openKeyring, openVault, Redactor, type Keyring, type Vault } from '../vault/index.js';
import type { SshPool, SshSessionManager } from '../ssh/index.js';
import type { UpstreamPool } from '../upstream/index.js';
import { EndpointRepository, WebhookIngest, WebhookQueue } from '../webhooks/index.js';
import { dirname, resolve } from 'node:path';
import { loadConfig, type GatehouseConfig } from './config.js';
import { toolPorts } from './tool-ports.js';
import { testTarget, type TargetTestResult } from './target-test.js';
import type { SessionControl } from '../console/index.js';
import { UsageLedger } from '../usage/index.js';
import { DEFAULT_DLP_PATTERNS, DlpScanner } from '../dlp/index.js';
import { InstanceRegistry, newInstanceId, SESSION_HOSTS } from './instances.js';
import { sessionHostKey, startSessionHost } from './session-host.js';
import { localSessionControl, SessionDirectory } from './session-directory.js';

export interface TargetSummary {
  name: string;
  kind: string;
  description: string;
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  /** Creates GATEHOUSE_HOME and the master key when missing. */
  create?: boolean;
  /** Replaces the policy-file guard (tests). */
  guard?: ActionGuard;
  approver?: Approver;
  /**
   * Long-running servers (`serve`, `mcp`, `run --model-gateway`): a file-backed embedded store's
   * audit commits and flushes run on a thread of their own (audit/thread-writer.ts), where the
   * built writer thread exists. One-shot commands keep them on the event loop (a thread would
   * cost more to start than their few records).
   */
  auditWriterThread?: boolean;
}

/** How long an opened target credential is reused before the vault is asked again. */
export const SECRET_CACHE_MS = 1000;

/** How often open sessions' tokens are re-checked (revocation closes them within this bound). */
export const SESSION_SWEEP_MS = 2000;

/**
 * Memoises an async factory: the first call starts it, later calls share its promise (a failure
 * is forgotten so the next call retries). `peek()` gives the promise only if it was started, for
 * callers that must not create the thing (invalidating a pool nobody has opened yet).
 */
type Lazy<T> = (() => Promise<T>) & { peek(): Promise<T> | undefined };
function lazy<T>(make: () => Promise<T>): Lazy<T> {
  let p: Promise<T> | undefined;
  const get = () =>
    (p ??= make().catch((e) => {
      p = undefined;
      throw e;
    }));
  return Object.assign(get, { peek: () => p });
}

/** How often a long-running server deletes webhook events past their retention. */
const WEBHOOK_PURGE_MS = 10 * 60_000;

/** How often a long-running server looks for vault values set by another process. */
const VAULT_WATCH_MS = 2000;

/** `GATEHOUSE_CHANGE_POLL_MS`: how often to look for knowledge changes made by other processes (100 ms to 60 s). */
function changePollMs(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 60_000) {
    throw new GatehouseError(
      'config_invalid',
      `GATEHOUSE_CHANGE_POLL_MS must be a whole number of milliseconds from 100 to 60000`,
      {
        hint: 'unset it for the default (2000)',
      },
    );
  }
  return n;
}

/**
 * Everything one Gatehouse process holds: store, keyring, vault, redactor, tokens, audit log,
 * targets, the gate, and the executors (created on first use, so `gatehouse mcp` starts without
 * loading the SSH library or the guard's parser). `serve`, `mcp` and the CLI all build one, so
 * they always act on the same engine.
 */
export class Runtime {
  readonly tokens: TokenService;
  readonly targets: TargetRepository;
  /** Scrubs what agents read: strong secrets and known shapes (never a guessable value: see CallScrub). */
  readonly redactor: Redactor;
  /** Scrubs what operators read (audit fields, server logs): every secret value, guessable or not. */
  readonly operatorRedactor: Redactor;
  readonly gate: Gate;
  /** The last MCP client seen per token (logged, audited and stored when it changes). */
  readonly clients: ClientRegistry;
  /** Memory, skills and wiki: versioned text in scopes (src/knowledge/). */
  readonly knowledge: KnowledgeStore;
  /** Org skills: drafts and publications over `knowledge`. */
  readonly skills: SkillStore;
  /** Wiki pages in namespaces over `knowledge`. */
  readonly wiki: WikiStore;
  /** Tells connected MCP clients when prompts or resources they may read changed. */
  readonly changes: ChangeHub;
  /** Inbound webhook endpoints (signed rows; secrets stay in the vault). */
  readonly webhookEndpoints: EndpointRepository;
  /** Verified webhook events, leased to agents that poll and ack. */
  readonly webhookQueue: WebhookQueue;
  /** Verifies, dedupes, queues and audits inbound webhook requests. */
  readonly webhookIngest: WebhookIngest;
  tools: ToolDefinition[] = [];
  readonly #closers: (() => Promise<void>)[] = [];
  #approver: Approver | undefined;
  /** The directory of the configuration file: relative policy paths resolve against it. */
  #configDir: string | undefined;

  private constructor(
    readonly env: NodeJS.ProcessEnv,
    readonly paths: HomePaths,
    readonly config: GatehouseConfig,
    readonly store: Store,
    readonly keyring: Keyring,
    readonly vault: Vault,
    readonly audit: AuditLog,
    guard: ActionGuard | undefined,
    approver: Approver | undefined,
    integrityKey: Buffer,
  ) {
    this.tokens = new TokenService(store, { integrityKey });
    this.targets = new TargetRepository(store, keyring);
    this.redactor = new Redactor({ audience: 'agent', patterns: config.redaction.patterns });
    this.operatorRedactor = new Redactor({ audience: 'operator', patterns: config.redaction.patterns });
    // INVARIANT: stored knowledge never holds a secret. The agents' redactor decides (every strong
    // vault value in its common forms, and the secret shapes), not the operators': that one also
    // knows guessable values, and a refusal would tell an agent that the word it wrote is a secret.
    this.knowledge = new KnowledgeStore({
      store,
      integrityKey,
      freshSecrets: () => this.refreshVaultSecrets(),
      secretScan: (t) => (this.redactor.scrub(t) === t ? undefined : 'a vault value or a secret-shaped string'),
    });
    // Skill lint flags links to hosts no target names: the hosts this deployment knows.
    this.skills = new SkillStore(this.knowledge, () => this.knownHosts());
    this.wiki = new WikiStore(this.knowledge);
    this.changes = new ChangeHub({
      store,
      granted: (p, tool) => this.isToolGranted(p, tool),
      pollMs: changePollMs(env.GATEHOUSE_CHANGE_POLL_MS),
    });
    this.knowledge.onChange(() => this.changes.nudge());
    this.webhookEndpoints = new EndpointRepository(store, keyring);
    this.webhookQueue = new WebhookQueue(store, keyring);
    this.webhookIngest = new WebhookIngest({
      endpoints: this.webhookEndpoints,
      queue: {
        enqueue: async (e, now) => {
          const r = await this.webhookQueue.enqueue(e, now);
          if (!r.duplicate) this.changes.nudge();
          return r;
        },
        discard: (id) => this.webhookQueue.discard(id),
      },
      // INTERNAL USE: a verification secret is opened for the signature check only, and scrubbed
      // from every channel from then on.
      openSecret: async (ref) => {
        const value = await this.vault.openField(ref.replace(/^vault:/, ''));
        this.addSecret(value);
        return value;
      },
      audit: (e) => this.audit.append({ phase: 'event', ...e }),
    });
    audit.setScrubber((s) => this.operatorRedactor.scrub(s));
    this.#approver = approver;
    this.gate = new Gate({
      audit,
      rateLimit: new RateLimiter({ perSecond: config.gate.rate_limit.per_second, burst: config.gate.rate_limit.burst }),
      guard: guard ? async () => guard : this.guard,
      approver: { obtain: (req) => this.#approverOrFail().obtain(req) },
    });
    this.clients = new ClientRegistry(store, (principal, detail) =>
      this.gate.event(principal, 'mcp', 'client_identified', detail),
    );
    this.targets.onChange((name) => {
      void this.upstream.peek()?.then((u) => u.invalidate(name));
      void this.sshPool.peek()?.then((s) => s.invalidate(name));
    });
  }

  static async open(opts: RuntimeOptions = {}): Promise<Runtime> {
    const env = opts.env ?? process.env;
    const paths = gatehouseHome(env);
    if (opts.create !== false) ensureHome(paths);
    const configFile = env.GATEHOUSE_CONFIG ?? paths.configFile;
    const config = loadConfig(configFile, env.GATEHOUSE_CONFIG !== undefined);
    const store = await openStore(storeOptionsFromEnv(env, paths));
    // Closed with the store if the open fails later (its writer thread holds a connection).
    let opened: AuditLog | undefined;
    try {
      // INVARIANT: a wrong or missing master key stops the process here, before anything is served.
      const keyring = await openKeyring({
        home: paths.home,
        masterKeyFile: paths.masterKeyFile,
        env,
        store,
        create: opts.create !== false,
      });
      const vault = openVault({ store, keyring });
      const audit = new AuditLog(store, await keyring.internalKey('audit-chain'), {
        writerThread: opts.auditWriterThread ? builtWriterThread() : undefined,
      });
      opened = audit;
      const rt = new Runtime(
        env,
        paths,
        config,
        store,
        keyring,
        vault,
        audit,
        opts.guard,
        opts.approver,
        await keyring.internalKey('store-integrity'),
      );
      rt.#configDir = dirname(resolve(configFile));
      // Rows written before row signatures existed are signed once, by the process that added the
      // signature columns (0006), and only while the keyring says the store was never fully
      // signed; afterwards an unsigned row is a forged one.
      if (store.migrationsAppliedNow.includes('0006_integrity') && (await keyring.unsignedRowsMaySign())) {
        const { createApprovalService } = await import('../approvals/index.js');
        const signed = {
          bindings: await vault.signUnsigned(),
          targets: await rt.targets.signUnsigned(),
          tokens: await rt.tokens.signUnsigned(),
          approvals: await (await createApprovalService({ store, keys: keyring })).signUnsigned(),
        };
        await keyring.markRowsSigned();
        log.info('signed records written before row signatures', signed);
      }
      // Every value in the vault is scrubbed from every output and log line, filled or not.
      await rt.refreshVaultSecrets();
      installLogScrubbing(rt.operatorRedactor);
      return rt;
    } catch (e) {
      await opened?.close().catch((err: unknown) => log.warn('audit log not closed', { err }));
      await store.close();
      throw e;
    }
  }

  #vaultMark: string | undefined;
  #vaultRefresh: Promise<void> | undefined;
  #vaultWatch: NodeJS.Timeout | undefined;

  /**
   * Registers every vault value with the redactors when the vault changed since the last time
   * (another process may have added one: `gatehouse vault set` while `serve` runs). One small
   * query when nothing changed. INVARIANT: called at boot, before every knowledge write's secret
   * scan (KnowledgeStore's `freshSecrets`), and every VAULT_WATCH_MS by the long-running servers,
   * so a value set elsewhere is refused in memory, skills and the wiki at once, and scrubbed from
   * every other channel within that interval.
   */
  refreshVaultSecrets(): Promise<void> {
    this.#vaultRefresh ??= (async () => {
      try {
        const row = (
          await sql<{ n: number | string; at: string | null }>`
            SELECT count(*) AS n, max(updated_at) AS at FROM vault_fields`.execute(this.store.db)
        ).rows[0];
        const mark = `${Number(row?.n ?? 0)}:${row?.at ?? ''}`;
        if (mark === this.#vaultMark) return;
        // The mark is taken before the values are read: a change in between is seen next time.
        await this.vault.seedRedactor({ add: (v) => this.addSecret(v) });
        this.#vaultMark = mark;
      } finally {
        this.#vaultRefresh = undefined;
      }
    })();
    return this.#vaultRefresh;
  }

  /** Starts (once) the long-running servers' watch for vault values set by other processes. */
  watchVault(): void {
    if (this.#vaultWatch) return;
    this.#vaultWatch = setInterval(() => {
      this.refreshVaultSecrets().catch((e: unknown) => log.warn('could not look for new vault values', { err: e }));
    }, VAULT_WATCH_MS);
    this.#vaultWatch.unref();
    this.#closers.push(async () => clearInterval(this.#vaultWatch));
  }

  /**
   * Registers a secret value with both redactors: operators' channels scrub it always, agents'
   * channels when it is not guessable (a guessable value filled into a call is hidden from that
   * call by its CallScrub).
   */
  addSecret(value: string): void {
    this.redactor.add(value);
    this.operatorRedactor.add(value);
  }

  /** Installs the approver (the approvals module, wired by the server assembly). */
  setApprover(a: Approver): void {
    this.#approver = a;
  }

  #approverOrFail(): Approver {
    if (!this.#approver) {
      throw new GatehouseError(
        'approval_required',
        'a person must approve this, and no approval channel is configured',
        {
          hint: 'ask an operator to run it for you',
        },
      );
    }
    return this.#approver;
  }

  readonly guard = lazy(async (): Promise<ActionGuard> => {
    const { loadGuard } = await import('../guard/index.js');
    return loadGuard({ policyFiles: this.config.guard.policy_files, baseDir: this.#configDir });
  });

  readonly upstream = lazy(async (): Promise<UpstreamPool> => {
    const { UpstreamPool } = await import('../upstream/index.js');
    const pool = new UpstreamPool();
    this.#closers.push(() => pool.close());
    return pool;
  });

  readonly sshPool = lazy(async (): Promise<SshPool> => {
    const { SshPool } = await import('../ssh/index.js');
    const pool = new SshPool({
      maxChannels: this.config.ssh.max_channels,
      idleCloseMs: this.config.ssh.idle_close_seconds * 1000,
    });
    this.#closers.push(() => pool.close());
    return pool;
  });

  readonly sessions = lazy(async (): Promise<SshSessionManager> => {
    const { SshSessionManager } = await import('../ssh/index.js');
    const mgr = new SshSessionManager({
      idleTimeoutS: this.config.ssh.session_idle_seconds,
      // Output is scrubbed once, as it arrives, before anything is buffered or sliced.
      createScrubber: () => this.redactor.createScrubber(),
      // INVARIANT: the transcript is kept whole in the audit log (every input; output up to the
      // session's cap, with what was dropped said), as payload blobs the chain covers.
      onTranscript: (t) => {
        void this.audit
          .append({
            phase: 'event',
            tool: 'ssh_session',
            target: t.target,
            outcome: 'transcript',
            tokenId: t.owner,
            detail: {
              session: t.id,
              openedAt: t.openedAt,
              closedAt: t.closedAt,
              closeReason: t.closeReason,
              truncated: t.truncated,
              entries: t.entries.length,
            },
            payload: payloadParts('transcript', t.entries.map((e) => JSON.stringify(e)).join('\n')),
          })
          .catch((e) => log.error('session transcript not audited', { err: e }));
      },
    });
    this.#closers.push(async () => mgr.closeAll());
    this.#mgr = mgr;
    await this.#publishSessions(mgr);
    return mgr;
  });

  #dlp: DlpScanner | undefined;
  /** The outgoing-data scanner for targets with DLP on (issue 20), built on first use. */
  get dlp(): DlpScanner {
    return (this.#dlp ??= new DlpScanner(this.config.dlp.patterns ?? DEFAULT_DLP_PATTERNS, (t) =>
      this.operatorRedactor.scrub(t),
    ));
  }

  /** Model usage and budgets (issue 20), opened on the first model call. */
  readonly usage = lazy(async () => new UsageLedger(this.store, await this.keyring.internalKey('store-integrity')));

  #mgr: SshSessionManager | undefined;
  readonly #hostId = newInstanceId();
  #secret: Promise<Buffer> | undefined;
  #hostReader: Promise<InstanceRegistry> | undefined;
  #directory: SessionDirectory | undefined;

  #sessionSecret(): Promise<Buffer> {
    return (this.#secret ??= sessionHostKey(this.keyring));
  }

  /**
   * Publishes this process's sessions to the console of every `serve` on this store (a loopback
   * endpoint and a signed row: session-host.ts). Without it, the sessions of a `gatehouse mcp`
   * that Claude Code started are out of every person's reach; a failure costs only that reach.
   */
  async #publishSessions(mgr: SshSessionManager): Promise<void> {
    try {
      const host = await startSessionHost(
        localSessionControl(() => mgr),
        await this.#sessionSecret(),
        this.#hostId,
      );
      const registry = new InstanceRegistry(
        this.store,
        await this.keyring.internalKey('store-integrity'),
        this.#hostId,
        host.url,
        SESSION_HOSTS,
      );
      this.#closers.push(async () => {
        await registry.close();
        await host.close();
      });
      await registry.register();
    } catch (e) {
      log.warn('sessions are not published to the console (session host failed to start)', { err: e });
    }
  }

  #sweep: NodeJS.Timeout | undefined;
  /**
   * Starts (once) the sweep that closes interactive sessions whose token was revoked or expired,
   * by any process: every SESSION_SWEEP_MS the owners of open sessions are checked in the store.
   */
  watchSessionOwners(): void {
    if (this.#sweep) return;
    this.#sweep = setInterval(() => {
      void (async () => {
        const mgr = await this.sessions();
        const owners = new Set(
          mgr
            .list()
            .filter((s) => !s.closed)
            .map((s) => s.owner),
        );
        for (const owner of owners)
          if (!(await this.tokens.isActive(owner))) mgr.closeAllFor(owner, 'token revoked or expired');
      })().catch((e) => log.warn('session sweep failed', { err: e }));
    }, SESSION_SWEEP_MS);
    this.#sweep.unref();
    this.#closers.push(async () => clearInterval(this.#sweep));
  }

  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn);
  }

  /** The hosts this deployment's targets name (lint flags links and images elsewhere). */
  async knownHosts(): Promise<ReadonlySet<string>> {
    const hosts = new Set<string>();
    for (const t of await this.targets.list()) {
      try {
        hosts.add(t.kind === 'http' ? new URL(t.config.baseUrl).hostname.toLowerCase() : t.config.host.toLowerCase());
      } catch {
        // A target whose URL does not parse names no host.
      }
    }
    return hosts;
  }

  isToolGranted(p: Principal, tool: string): boolean {
    return isGranted(p.grants, 'tool', tool);
  }

  #ports: ToolPorts | undefined;
  /** What tools may reach of this runtime (src/tools/ports.ts), built once. */
  get ports(): ToolPorts {
    return (this.#ports ??= toolPorts(this));
  }

  async listTargets(): Promise<TargetSummary[]> {
    return (await this.targets.list()).map((t) => ({ name: t.name, kind: t.kind, description: t.description }));
  }

  async listVaultNames(): Promise<string[]> {
    return (await this.vault.listVaults()).map((v) => v.name);
  }

  /**
   * The console's view of this process's interactive sessions (every owner), and what a person may
   * do to them. Without any session ever opened here, nothing is loaded and the list is empty.
   */
  async sessionControl(): Promise<SessionControl> {
    return (this.#directory ??= new SessionDirectory(
      localSessionControl(() => this.#mgr),
      () =>
        (this.#hostReader ??= this.keyring
          .internalKey('store-integrity')
          .then((key) => new InstanceRegistry(this.store, key, this.#hostId, '', SESSION_HOSTS))),
      () => this.#sessionSecret(),
    ));
  }

  /** Tests a target with its credential and checks, for a person (the console's Test connection). */
  testTarget(name: string): Promise<TargetTestResult> {
    return testTarget(this, name);
  }

  async listSessions(
    p: Principal,
  ): Promise<{ id: string; target: string; openedAt: string; control: 'agent' | 'person' }[]> {
    // Listing must not load the SSH library just to find that no session was ever opened.
    const started = this.sessions.peek();
    if (!started) return [];
    const mgr = await started;
    return mgr
      .list(p.tokenId)
      .filter((s) => !s.closed)
      .map((s) => ({ id: s.id, target: s.target, openedAt: s.openedAt, control: s.control }));
  }

  /**
   * Opens a credential an operator configured on a target (`--secret`, `--key`). It is filled
   * only under the vault's binding rules for this target, and registered with the redactor
   * before anyone can see output that might echo it.
   */
  async openTargetSecret(target: Target, ref: string): Promise<string> {
    // Opened credentials are kept for at most a second (the same bound as token lookups), so the
    // hot path does not read and decrypt the vault on every request, and an unbind or a changed
    // secret takes effect within a second. The value is already registered with the redactor.
    const key = `${target.name}\u0000${ref}\u0000${target.updatedAt}`;
    const hit = this.#secretCache.get(key);
    if (hit && Date.now() - hit.at < SECRET_CACHE_MS) return hit.value;
    const value = await this.#openTargetSecret(target, ref);
    if (this.#secretCache.size > 1000) this.#secretCache.clear();
    this.#secretCache.set(key, { value, at: Date.now() });
    return value;
  }

  readonly #secretCache = new Map<string, { value: string; at: number }>();

  async #openTargetSecret(target: Target, ref: string): Promise<string> {
    const { ref: fieldRef, vault } = parseSecretRef(ref, 'secret');
    const host = target.kind === 'http' ? new URL(target.config.baseUrl).hostname : target.config.host;
    const r = await this.vault.fillHandles(`{{vault:${fieldRef}}}`, {
      destination: { target: target.name, host },
      grantedVaults: [vault],
    });
    for (const s of r.filled) this.addSecret(s);
    return r.text;
  }

  #access: Promise<ApproveAccessPorts> | undefined;
  /** Access requests and what approving one needs (the request store opens with the integrity key once). */
  accessPorts(): Promise<ApproveAccessPorts> {
    return (this.#access ??= (async () => {
      // Loaded here, not at the top: ssh's module loads ssh2, which `gatehouse mcp`'s first answer must not wait for.
      const { normalizeFingerprint } = await import('../ssh/index.js');
      return {
        requests: new AccessRequests(this.store, await this.keyring.internalKey('store-integrity')),
        vault: this.vault,
        targets: this.targets,
        tokens: this.tokens,
        addSecret: (v: string) => this.addSecret(v),
        normalizeFingerprint,
      };
    })().catch((e: unknown) => {
      this.#access = undefined;
      throw e;
    }));
  }

  #webhookPurge: NodeJS.Timeout | undefined;
  /** Starts (once) the long-running server's purge of webhook events past their retention. */
  watchWebhooks(): void {
    if (this.#webhookPurge) return;
    const purge = () => {
      void this.webhookQueue
        .purge()
        .then((n) => (n.events || n.keys ? log.info('purged webhook events past retention', n) : undefined))
        .catch((e: unknown) => log.warn('webhook purge failed', { err: e }));
      // Added grants past their time no longer count (authentication leaves them out); their rows go here.
      void this.tokens.purgeExpiredGrants().catch((e: unknown) => log.warn('grant purge failed', { err: e }));
    };
    this.#webhookPurge = setInterval(purge, WEBHOOK_PURGE_MS);
    this.#webhookPurge.unref();
    purge();
    this.#closers.push(async () => clearInterval(this.#webhookPurge));
  }

  async close(): Promise<void> {
    await this.changes.close();
    await this.webhookQueue.close();
    await this.clients.settled();
    for (const fn of this.#closers.reverse()) await fn().catch((e) => log.warn('close failed', { err: e }));
    await this.audit.close();
    this.vault.close();
    this.keyring.close();
    await this.store.close();
  }
}
