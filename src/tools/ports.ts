import type { AccessAsk } from '../access/index.js';
/**
 * The capabilities tools use, declared on the tools' side and implemented by the server
 * (src/server/tool-ports.ts). A tool gets exactly these, never the process's store, keyring, vault
 * or configuration: what it cannot reach it cannot misuse, and the `tools -> server` import that
 * made the two modules a circle is gone (tools import nothing from src/server, not even a type).
 *
 * Every import here is a type: loading the tools loads neither undici, ssh2 nor the sandbox
 * (test/structure/imports.test.ts checks the built module).
 */
import type { DlpScanner } from '../dlp/index.js';
import type { Gate, Principal } from '../gate/index.js';
import type { KnowledgeStore, SkillStore, WikiStore } from '../knowledge/index.js';
import type { CheckpointNote } from '../checkpoints/index.js';
import type { RunSandboxedOptions, SandboxResult } from '../sandbox/index.js';
import type { SshPool, SshSessionManager } from '../ssh/index.js';
import type { Target } from '../targets/index.js';
import type { UpstreamPool } from '../upstream/index.js';
import type { UsageLedger } from '../usage/index.js';
import type { SearchHit, SearchQuery } from '../vault/index.js';
import type { EndpointRepository, WebhookQueue } from '../webhooks/index.js';

/** The gate as a tool uses it: one pipeline per action, a further step judged, an event recorded. */
export type GatePort = Pick<Gate, 'run' | 'judgeStep' | 'event'>;

/** Where a vault value may be filled: a target by name and the host it reaches. */
export interface FillDestination {
  target?: string;
  host?: string;
}

/** A shell command a value is filled into (the vault's command bindings pin exactly this). */
export interface ShellUse {
  command: string;
  hasStdin: boolean;
  cwd?: string;
}

/**
 * Targets: lookup, and a target's own credential. INVARIANT (implementation): a credential is
 * opened only under the vault's binding rules for that target, and registered with the process's
 * redactors before it is returned.
 */
export interface TargetsPort {
  /** A target by name; `not_found` when there is none. */
  get(name: string): Promise<Target>;
  /** Opens a credential an operator configured on the target (`--secret`, `--key`, `--passphrase`). */
  openSecret(target: Target, ref: string): Promise<string>;
  /** Every target, as `discover` shows it (the tool filters by grant). */
  list(): Promise<{ name: string; kind: string; description: string }[]>;
}

/**
 * Vault handles, under the principal's vault grants. INVARIANT (implementation): every value
 * filled is registered with the process's redactors before the result is returned; the tool adds
 * it to its call's scrubbing (`CallScrub.filled`) for guessable values.
 */
export interface HandlesPort {
  /** Fills the handles in one text for one destination. `handles` counts the handles it held. */
  fillText(
    principal: Principal,
    text: string,
    destination: FillDestination,
  ): Promise<{ text: string; filled: readonly string[]; handles: number }>;
  /** Fills a command's environment: only items bound to this exact command fill (src/vault/bindings.ts). */
  fillShellEnv(
    principal: Principal,
    env: Readonly<Record<string, string>> | undefined,
    destination: { target: string; host?: string },
    shell: ShellUse,
  ): Promise<{ values: Record<string, string>; secrets: Record<string, string>; filled: readonly string[] }>;
  /** Handles the principal may use (names, descriptions and bindings; never a value). */
  search(principal: Principal, query: SearchQuery): Promise<SearchHit[]>;
  /** Every vault's name (for a principal granted `vault:*`). */
  vaultNames(): Promise<string[]>;
}

/** The SSH executor: pooled exec and SFTP, and the interactive sessions. */
export interface SshPort {
  pool(): Promise<Pick<SshPool, 'exec' | 'readFile' | 'writeFile'>>;
  /** The session manager; the implementation also keeps closing sessions whose token was revoked. */
  sessions(): Promise<
    Pick<SshSessionManager, 'open' | 'send' | 'read' | 'signal' | 'close' | 'list' | 'foreground' | 'handoff'>
  >;
  /** Open sessions of a principal, without loading the SSH library when none was ever opened. */
  listSessions(
    principal: Principal,
  ): Promise<{ id: string; target: string; openedAt: string; control: 'agent' | 'person' }[]>;
  /** `ssh.session_open` of the configuration: whether opening a session needs a person. */
  sessionOpen: 'allow' | 'approve';
}

/**
 * The local sandbox with the configured profile. INVARIANT (implementation): Gatehouse's own home,
 * store, key and configuration files are hidden from every run, whatever the tool passes.
 */
export interface SandboxPort {
  /**
   * Runs `opts.command`; with a profile that takes checkpoints, one is taken first when the
   * command is destructive, and the result says which (and, for a soft delete, what was deleted).
   */
  run(
    opts: Omit<RunSandboxedOptions, 'hiddenPaths' | 'stdio' | 'onOutput'> & { command: string },
  ): Promise<SandboxResult & { checkpoint?: CheckpointNote }>;
  /**
   * Whether the profile makes deletes soft (`checkpoints.softDelete`): the guard then allows `rm`
   * in the sandbox, because `run` checkpoints the workspace before any deleting command.
   */
  softDelete(): boolean;
}

/**
 * The shared knowledge layer (memory now; skills and wiki next). The tools pass the scopes they
 * derive from the principal; the layer never takes an owner from anywhere else.
 */
export type KnowledgePort = Pick<
  KnowledgeStore,
  | 'write'
  | 'read'
  | 'find'
  | 'get'
  | 'list'
  | 'history'
  | 'readVersion'
  | 'delete'
  | 'restore'
  | 'revert'
  | 'search'
  | 'move'
>;

/**
 * Org skills. INVARIANT (tools/org-skills.ts): `publish` and `deprecate` are called only inside a
 * gate run whose fixed verdict needs a person's approval bound to the digest and the published
 * version they take.
 */
export type SkillsPort = Pick<
  SkillStore,
  | 'check'
  | 'saveDraft'
  | 'current'
  | 'currentOrNone'
  | 'atVersion'
  | 'byDigest'
  | 'files'
  | 'file'
  | 'servable'
  | 'publishedVersion'
  | 'publishedState'
  | 'changes'
  | 'list'
  | 'history'
  | 'diff'
  | 'publish'
  | 'deprecate'
  | 'discardDraft'
>;

/** The wiki, and what its tools need to decide and lint. */
export interface WikiPort {
  pages: Pick<
    WikiStore,
    | 'read'
    | 'lookup'
    | 'write'
    | 'rename'
    | 'delete'
    | 'revert'
    | 'version'
    | 'history'
    | 'list'
    | 'search'
    | 'backlinks'
    | 'all'
    | 'namespaces'
  >;
  /** Namespaces where a page is active only with a person's approval (configuration). */
  protectedNamespaces: readonly string[];
  knownHosts(): Promise<ReadonlySet<string>>;
  /** Brings `secretIn` up to date with values other processes added to the vault. */
  freshSecrets(): Promise<void>;
  /** What in a text is a secret now (a name, never the value), or undefined. */
  secretIn(text: string): string | undefined;
}

/**
 * Inbound webhooks: the endpoints (read only: no tool changes one) and the leased queue. The tools
 * pass the endpoint names the principal's grants reach; the queue never widens them.
 */
export interface WebhooksPort {
  endpoints: Pick<EndpointRepository, 'list'>;
  queue: Pick<WebhookQueue, 'lease' | 'ack' | 'extend' | 'waiter' | 'stats' | 'get'>;
}

/**
 * What issue 20 adds to calls to HTTP targets that turn it on: the configured DLP scanner (a
 * target with `dlp`) and the usage ledger (a model preset), each built on first use, so a call to
 * any other target loads and does nothing of either. Both doors to a target (`api_request` and
 * `/gateway`) reach them only through tools/http-target.ts (`beforeSend`).
 */
export interface TrafficPort {
  dlp(): Pick<DlpScanner, 'scan'>;
  usage(): Promise<Pick<UsageLedger, 'meter'>>;
}

/** Access requests (`request_access`): filing one for the calling token. */
export interface AccessPort {
  file(
    principal: Principal,
    ask: AccessAsk,
  ): Promise<{ request: { id: string; status: string; expiresAt: number }; existing: boolean }>;
}

/** Everything a tool may reach besides its gate and its call's scrubbing. */
export interface ToolPorts {
  access: AccessPort;
  knowledge: KnowledgePort;
  skills: SkillsPort;
  wiki: WikiPort;
  webhooks: WebhooksPort;
  targets: TargetsPort;
  handles: HandlesPort;
  /** The HTTP executor (created on first use). */
  upstream(): Promise<Pick<UpstreamPool, 'request'>>;
  /** DLP and model usage for the targets that turn them on (issue 20). */
  traffic: TrafficPort;
  ssh: SshPort;
  sandbox: SandboxPort;
  /** The tools this process serves (for `discover`). */
  tools(): readonly { name: string; title: string; description: string }[];
}
