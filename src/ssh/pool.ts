/**
 * SshPool: per target one authenticated connection serving many channels.
 *
 * - At most `maxChannels` channels per target at once (default 8, below OpenSSH's MaxSessions
 *   10); further calls wait in a FIFO queue (bounded by `maxQueue`, then limit_exceeded).
 * - A connection that errors or closes is dropped; the next call reconnects. Calls in flight on
 *   it fail with a clear ssh_error. A call whose channel could not even be opened because the
 *   connection had died is retried once on a fresh connection (the command never started, so
 *   this cannot run it twice).
 * - A connection with no channels for `idleCloseMs` is closed.
 * - The pinned host key is part of a connection's identity: a spec with a different host, port,
 *   user or pinned key never reuses an old connection. `invalidate(name)` drops a target's
 *   connection (after a credential rotation or a re-trust).
 */
import type { Client, SFTPWrapper } from 'ssh2';
import { GatehouseError, createLogger } from '../core/index.js';
import { buildCommand } from './command.js';
import { openConnection, validateSpec, type ConnectOptions } from './connect.js';
import { ChannelOpenError, runExec } from './exec-run.js';
import { FifoLimiter } from './limiter.js';
import { sftpRead, sftpWrite, openSftp } from './sftp.js';
import type {
  CredentialProvider,
  ExecOptions,
  ExecResult,
  ReadFileResult,
  SshTargetSpec,
  WriteFileResult,
} from './types.js';

const log = createLogger({ module: 'ssh' });

export interface SshPoolOptions extends ConnectOptions {
  /** Concurrent channels per target. Default 8. */
  maxChannels?: number;
  /** Calls allowed to wait for a channel per target. Default 256. */
  maxQueue?: number;
  /** Close a connection after this long without channels; 0 disables. Default 60 000. */
  idleCloseMs?: number;
  /** Wait between TERM, KILL and channel close when stopping a command. Default 500. */
  killGraceMs?: number;
  /** Default exec timeout. Default 60 s. */
  defaultTimeoutS?: number;
  /** Default per-stream output cap. Default 1 MiB. */
  defaultMaxOutputBytes?: number;
}

interface Conn {
  client: Client;
  key: string;
  alive: boolean;
  channels: number;
  idleTimer: NodeJS.Timeout | undefined;
  lostListeners: Set<() => void>;
}

interface Slot {
  name: string;
  limiter: FifoLimiter;
  conn: Conn | undefined;
  connecting: { key: string; promise: Promise<Conn> } | undefined;
  connects: number;
}

export interface PoolTargetStats {
  name: string;
  connected: boolean;
  active: number;
  queued: number;
  peak: number;
  limit: number;
  connects: number;
}

function specKey(spec: SshTargetSpec): string {
  return JSON.stringify([spec.host, spec.port, spec.user, spec.hostKey ?? null]);
}

export class SshPool {
  private readonly slots = new Map<string, Slot>();

  /** Connections held now, idle or in use (for metrics). */
  get size(): number {
    return this.slots.size;
  }
  private closed = false;
  private readonly opts: Required<Omit<SshPoolOptions, keyof ConnectOptions>> & ConnectOptions;

  constructor(options: SshPoolOptions = {}) {
    this.opts = {
      ...options,
      maxChannels: options.maxChannels ?? 8,
      maxQueue: options.maxQueue ?? 256,
      idleCloseMs: options.idleCloseMs ?? 60_000,
      killGraceMs: options.killGraceMs ?? 500,
      defaultTimeoutS: options.defaultTimeoutS ?? 60,
      defaultMaxOutputBytes: options.defaultMaxOutputBytes ?? 1024 * 1024,
    };
    if (!Number.isInteger(this.opts.maxChannels) || this.opts.maxChannels < 1) {
      throw new GatehouseError('config_invalid', 'maxChannels must be a positive integer', {
        hint: 'OpenSSH allows 10 sessions per connection by default',
      });
    }
  }

  /** Runs a command on the target. Resolves with the result (timedOut/cancelled flagged), or a typed error. */
  async exec(spec: SshTargetSpec, getCredentials: CredentialProvider, opts: ExecOptions): Promise<ExecResult> {
    const command = buildCommand(opts.command, opts.cwd, opts.env);
    return this.withConnection(spec, getCredentials, opts.signal, (conn) =>
      runExec(conn.client, spec.name, command, opts, {
        killGraceMs: this.opts.killGraceMs,
        defaultTimeoutS: this.opts.defaultTimeoutS,
        defaultMaxOutputBytes: this.opts.defaultMaxOutputBytes,
        isAlive: () => conn.alive,
        onLost: (cb) => {
          conn.lostListeners.add(cb);
          return () => conn.lostListeners.delete(cb);
        },
      }),
    );
  }

  /** Reads up to maxBytes of a remote file over SFTP. */
  async readFile(
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    path: string,
    maxBytes: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ReadFileResult> {
    checkPath(path);
    return this.withSftp(spec, getCredentials, opts.signal, (sftp) => sftpRead(sftp, spec.name, path, maxBytes));
  }

  /** Writes (creates or truncates) a remote file over SFTP; `mode` is applied when given. */
  async writeFile(
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    path: string,
    content: Buffer | string,
    mode?: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<WriteFileResult> {
    checkPath(path);
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    return this.withSftp(spec, getCredentials, opts.signal, (sftp) => sftpWrite(sftp, spec.name, path, buf, mode));
  }

  /** Drops the target's connection; calls in flight on it fail, the next call reconnects. */
  invalidate(name: string): void {
    const slot = this.slots.get(name);
    if (!slot) return;
    slot.connecting = undefined;
    if (slot.conn) this.dropConn(slot, slot.conn, 'invalidated');
  }

  /** Closes every connection and fails every waiting call. The pool cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new GatehouseError('ssh_error', 'the SSH pool is closed', { hint: 'the gateway is shutting down' });
    for (const slot of this.slots.values()) {
      slot.limiter.rejectAll(err);
      slot.connecting = undefined;
      if (slot.conn) this.dropConn(slot, slot.conn, 'pool closed');
    }
    this.slots.clear();
  }

  stats(name?: string): PoolTargetStats[] {
    const out: PoolTargetStats[] = [];
    for (const slot of this.slots.values()) {
      if (name !== undefined && slot.name !== name) continue;
      out.push({ name: slot.name, connected: !!slot.conn?.alive, connects: slot.connects, ...slot.limiter.stats });
    }
    return out;
  }

  private withSftp<T>(
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    signal: AbortSignal | undefined,
    fn: (sftp: SFTPWrapper) => Promise<T>,
  ): Promise<T> {
    return this.withConnection(spec, getCredentials, signal, async (conn) => {
      const sftp = await openSftp(conn.client, spec.name, () => conn.alive);
      let onLost: (() => void) | undefined;
      const lost = new Promise<never>((_, reject) => {
        onLost = () =>
          reject(
            new GatehouseError('ssh_error', `connection to SSH target "${spec.name}" was lost during a file transfer`, {
              hint: 'the next call reconnects',
            }),
          );
        conn.lostListeners.add(onLost);
      });
      lost.catch(() => {});
      try {
        return await Promise.race([fn(sftp), lost]);
      } finally {
        if (onLost) conn.lostListeners.delete(onLost);
        try {
          sftp.end();
        } catch {
          /* connection already gone */
        }
      }
    });
  }

  /** Acquires a channel slot, gets a live connection, runs fn; retries once if the channel could not open on a dead connection. */
  private async withConnection<T>(
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    signal: AbortSignal | undefined,
    fn: (conn: Conn) => Promise<T>,
  ): Promise<T> {
    if (this.closed)
      throw new GatehouseError('ssh_error', 'the SSH pool is closed', { hint: 'the gateway is shutting down' });
    validateSpec(spec);
    const slot = this.slot(spec.name);
    const release = await slot.limiter.acquire(signal);
    try {
      let deadRetries = 0;
      let busyRetries = 0;
      for (;;) {
        const conn = await this.getConn(slot, spec, getCredentials);
        conn.channels++;
        if (conn.idleTimer) {
          clearTimeout(conn.idleTimer);
          conn.idleTimer = undefined;
        }
        try {
          return await fn(conn);
        } catch (e) {
          if (e instanceof ChannelOpenError) {
            // The command never started in either case, so retrying cannot run it twice.
            if (e.connectionDead && deadRetries++ === 0) {
              this.dropConn(slot, conn, 'channel open on a dead connection');
              continue;
            }
            // sshd frees a session slot only once it has reaped the child, a moment after the
            // channel closed; under load a new channel can hit MaxSessions briefly. Back off.
            if (!e.connectionDead && busyRetries < 6) {
              await new Promise((r) => setTimeout(r, 10 * 2 ** busyRetries++));
              continue;
            }
            throw new GatehouseError('ssh_error', e.message, {
              hint: e.connectionDead
                ? 'the connection was lost; retry'
                : 'the server refused a new channel (MaxSessions?)',
            });
          }
          throw e;
        } finally {
          conn.channels--;
          this.armIdle(slot, conn);
        }
      }
    } finally {
      release();
    }
  }

  private slot(name: string): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = {
        name,
        limiter: new FifoLimiter(this.opts.maxChannels, this.opts.maxQueue, `SSH target "${name}"`),
        conn: undefined,
        connecting: undefined,
        connects: 0,
      };
      this.slots.set(name, s);
    }
    return s;
  }

  private async getConn(slot: Slot, spec: SshTargetSpec, getCredentials: CredentialProvider): Promise<Conn> {
    const key = specKey(spec);
    if (slot.conn && slot.conn.alive && slot.conn.key === key) return slot.conn;
    if (slot.conn && slot.conn.key !== key) this.dropConn(slot, slot.conn, 'target spec changed');
    if (slot.connecting && slot.connecting.key === key) return slot.connecting.promise;
    const promise = this.connect(slot, spec, getCredentials, key);
    slot.connecting = { key, promise };
    try {
      return await promise;
    } finally {
      if (slot.connecting?.promise === promise) slot.connecting = undefined;
    }
  }

  private async connect(
    slot: Slot,
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    key: string,
  ): Promise<Conn> {
    const client = await openConnection(spec, getCredentials, this.opts);
    slot.connects++;
    const conn: Conn = { client, key, alive: true, channels: 0, idleTimer: undefined, lostListeners: new Set() };
    const onGone = (why: string) => () => {
      if (!conn.alive) return;
      log.info('ssh connection lost', { target: slot.name, why });
      this.dropConn(slot, conn, why);
    };
    client.on('error', onGone('error'));
    client.on('end', onGone('end'));
    client.on('close', onGone('close'));
    if (this.closed || (slot.connecting && slot.connecting.key !== key)) {
      // The pool closed or the spec changed while connecting: do not keep this one.
      this.dropConn(slot, conn, 'superseded');
      throw new GatehouseError('ssh_error', `SSH target "${spec.name}" changed while connecting`, { hint: 'retry' });
    }
    slot.conn = conn;
    return conn;
  }

  private dropConn(slot: Slot, conn: Conn, why: string): void {
    const wasAlive = conn.alive;
    conn.alive = false;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    if (slot.conn === conn) slot.conn = undefined;
    if (wasAlive) log.debug('ssh connection dropped', { target: slot.name, why });
    for (const cb of [...conn.lostListeners]) cb();
    conn.lostListeners.clear();
    try {
      conn.client.end();
    } catch {
      /* already gone */
    }
  }

  private armIdle(slot: Slot, conn: Conn): void {
    if (!conn.alive || conn.channels > 0 || this.opts.idleCloseMs <= 0) return;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.channels === 0) this.dropConn(slot, conn, 'idle');
    }, this.opts.idleCloseMs);
    conn.idleTimer.unref();
  }
}

function checkPath(path: string): void {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new GatehouseError('invalid_input', 'path must be a non-empty string without NUL bytes', {
      hint: 'pass a remote file path',
    });
  }
}
