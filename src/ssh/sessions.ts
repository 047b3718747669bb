/**
 * Interactive PTY sessions (ssh_session_*). Each session has its own connection (so a long-lived
 * shell never holds one of the pool's exec channels, and closing it tears down everything).
 *
 * INVARIANTS enforced here:
 * - Session ids are 144 random bits; a handle is a name, not a capability: every call re-checks
 *   that the caller's owner (token id) opened the session, and an unknown id and someone else's
 *   id get the same session_not_found answer.
 * - Input is always newline-terminated and may not end in an open line continuation, so the
 *   lines the gate guarded (see splitInputLines) are exactly the lines the shell executes.
 * - Every byte in and out goes to the transcript (bounded), delivered to onTranscript on close.
 * - Every wait is bounded (timeoutS); idle sessions are closed.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';
import { GatehouseError, createLogger } from '../core/index.js';
import { AnsiStripper } from './ansi.js';
import { sendChannelSignal } from './channel-signal.js';
import { openConnection, type ConnectOptions } from './connect.js';
import { validTimeoutMs } from './exec-run.js';
import { endsWithContinuation } from './split-lines.js';
import type { CredentialProvider, Scrubber, SshTargetSpec } from './types.js';

const log = createLogger({ module: 'ssh-session' });

export interface SessionManagerOptions extends ConnectOptions {
  /** Default idle timeout. Default 900 s. */
  idleTimeoutS?: number;
  /** Open sessions in total. Default 64. */
  maxSessions?: number;
  /** Open sessions per owner. Default 8. */
  maxSessionsPerOwner?: number;
  /** Cleaned output kept per session for read() (characters). Default 1 MiB. */
  bufferChars?: number;
  /** Transcript cap (characters). Default 8 MiB; beyond it the transcript is marked truncated. */
  transcriptMaxChars?: number;
  /** Quiet period that ends a send() without waitFor. Default 300 ms. */
  settleMs?: number;
  /** Default wait for send(). Default 10 s. */
  defaultSendTimeoutS?: number;
  /** How long a session closed by the remote side stays readable. Default 60 s. */
  closedRetentionMs?: number;
  /** Receives each session's full transcript when it closes (for the audit log). */
  onTranscript?: (t: SessionTranscript) => void;
}

export interface SessionOpenOptions {
  /** Token id (or other principal id) that owns the session. */
  owner: string;
  idleTimeoutS?: number;
  cols?: number;
  rows?: number;
  /** Terminal type. Default 'dumb', which keeps shells from emitting colours and bracketed paste. */
  term?: string;
  /**
   * Terminal echo. Default false: the PTY does not echo input, so output (and waitFor) sees only
   * what programs print. Shells with their own line editor (bash/readline, zsh) echo regardless;
   * with those, pick a waitFor that the command text itself does not contain (e.g. `echo DONE-$((1+1))`
   * and wait for 'DONE-2'). The transcript records the input either way.
   */
  echo?: boolean;
  /** Applied to all output returned and to the transcript (the vault redactor). */
  scrub?: Scrubber;
}

export interface SessionInfo {
  id: string;
  owner: string;
  target: string;
  openedAt: string;
  lastActivityAt: string;
  closed: boolean;
}

export interface SendOptions {
  /** Wait until the output since this send contains this string or matches this RegExp. */
  waitFor?: string | RegExp;
  timeoutS?: number;
}

export interface SendResult {
  /** Output since this send (ANSI stripped, scrubbed). */
  output: string;
  matched: boolean;
  timedOut: boolean;
  closed: boolean;
}

export interface ReadResult {
  output: string;
  /** Cursor to pass as `since` next time. */
  next: number;
  closed: boolean;
  /** True when output before `since`… was already dropped from the buffer. */
  dropped: boolean;
}

export type SessionSignal = 'INT' | 'QUIT' | 'TSTP' | 'HUP' | 'TERM' | 'KILL';

export interface TranscriptEntry {
  at: string;
  dir: 'in' | 'out' | 'signal' | 'event';
  data: string;
}

export interface SessionTranscript {
  id: string;
  owner: string;
  target: string;
  openedAt: string;
  closedAt?: string;
  closeReason?: string;
  entries: TranscriptEntry[];
  truncated: boolean;
}

interface Session {
  id: string;
  owner: string;
  target: string;
  openedAt: Date;
  lastActivity: Date;
  client: Client;
  stream: ClientChannel;
  scrub: Scrubber;
  idleMs: number;
  idleTimer: NodeJS.Timeout | undefined;
  decoder: StringDecoder;
  stripper: AnsiStripper;
  buf: string;
  base: number; // chars dropped from the front of buf
  readCursor: number;
  closed: boolean;
  closedAt?: Date;
  closeReason?: string;
  listeners: Set<() => void>;
  chain: Promise<unknown>;
  transcript: TranscriptEntry[];
  transcriptChars: number;
  transcriptTruncated: boolean;
  removeTimer?: NodeJS.Timeout;
}

const CONTROL_KEYS: Partial<Record<SessionSignal, string>> = { INT: '\x03', QUIT: '\x1c', TSTP: '\x1a' };

function notFound(): GatehouseError {
  return new GatehouseError('session_not_found', 'no such SSH session for this token', {
    hint: 'open one with ssh_session_open; sessions close when idle or when their token is revoked',
  });
}

export class SshSessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly closedTranscripts = new Map<string, SessionTranscript>();
  private readonly o: Required<Omit<SessionManagerOptions, keyof ConnectOptions | 'onTranscript'>> & SessionManagerOptions;

  constructor(options: SessionManagerOptions = {}) {
    this.o = {
      ...options,
      idleTimeoutS: options.idleTimeoutS ?? 900,
      maxSessions: options.maxSessions ?? 64,
      maxSessionsPerOwner: options.maxSessionsPerOwner ?? 8,
      bufferChars: options.bufferChars ?? 1024 * 1024,
      transcriptMaxChars: options.transcriptMaxChars ?? 8 * 1024 * 1024,
      settleMs: options.settleMs ?? 300,
      defaultSendTimeoutS: options.defaultSendTimeoutS ?? 10,
      closedRetentionMs: options.closedRetentionMs ?? 60_000,
    };
  }

  async open(spec: SshTargetSpec, getCredentials: CredentialProvider, opts: SessionOpenOptions): Promise<{ id: string }> {
    if (!opts.owner) throw new GatehouseError('invalid_input', 'a session needs an owner', { hint: 'pass the token id' });
    const open = [...this.sessions.values()].filter((s) => !s.closed);
    if (open.length >= this.o.maxSessions) {
      throw new GatehouseError('limit_exceeded', `${open.length} SSH sessions are open (limit ${this.o.maxSessions})`, { hint: 'close a session first' });
    }
    const mine = open.filter((s) => s.owner === opts.owner).length;
    if (mine >= this.o.maxSessionsPerOwner) {
      throw new GatehouseError('limit_exceeded', `this token has ${mine} SSH sessions open (limit ${this.o.maxSessionsPerOwner})`, { hint: 'close a session first' });
    }
    const idleMs = validTimeoutMs(opts.idleTimeoutS, this.o.idleTimeoutS);
    const client = await openConnection(spec, getCredentials, this.o);
    let stream: ClientChannel;
    try {
      stream = await new Promise<ClientChannel>((resolve, reject) => {
        client.shell({ term: opts.term ?? 'dumb', cols: opts.cols ?? 200, rows: opts.rows ?? 50, modes: { ECHO: opts.echo ? 1 : 0 } }, (err, ch) => (err ? reject(err) : resolve(ch)));
      });
    } catch {
      client.end();
      throw new GatehouseError('ssh_error', `SSH target "${spec.name}" refused to open a shell`, { hint: 'check that the user has a login shell' });
    }
    const now = new Date();
    const s: Session = {
      id: 'sess_' + randomBytes(18).toString('base64url'),
      owner: opts.owner,
      target: spec.name,
      openedAt: now,
      lastActivity: now,
      client,
      stream,
      scrub: opts.scrub ?? ((x) => x),
      idleMs,
      idleTimer: undefined,
      decoder: new StringDecoder('utf8'),
      stripper: new AnsiStripper(),
      buf: '',
      base: 0,
      readCursor: 0,
      closed: false,
      listeners: new Set(),
      chain: Promise.resolve(),
      transcript: [],
      transcriptChars: 0,
      transcriptTruncated: false,
    };
    this.sessions.set(s.id, s);
    this.record(s, 'event', `open ${spec.user}@${spec.host}:${spec.port}`);
    const onData = (d: Buffer) => this.append(s, s.stripper.push(s.decoder.write(d)));
    stream.on('data', onData);
    stream.stderr.on('data', onData);
    stream.on('error', () => {});
    stream.on('close', () => this.finish(s, 'remote closed'));
    client.on('error', () => this.finish(s, 'connection error'));
    client.on('close', () => this.finish(s, 'connection closed'));
    this.touch(s);
    return { id: s.id };
  }

  /** Writes input (newline-terminated) and returns the output that follows it. */
  async send(id: string, owner: string, input: string, opts: SendOptions = {}): Promise<SendResult> {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    if (typeof input !== 'string') throw new GatehouseError('invalid_input', 'input must be a string', { hint: 'pass text' });
    if (endsWithContinuation(input)) {
      throw new GatehouseError('invalid_input', 'input ends with an open line continuation (a trailing backslash)', {
        hint: 'send the whole command in one input',
      });
    }
    const timeoutMs = validTimeoutMs(opts.timeoutS, this.o.defaultSendTimeoutS);
    const matcher = toMatcher(opts.waitFor);
    // Sends to one session run one after another, so each one's "output since" is its own.
    const run = s.chain.then(() => this.doSend(s, input, matcher, timeoutMs));
    s.chain = run.catch(() => {});
    return await run;
  }

  /** Output from `since` (a cursor from a previous read; default: what no send/read returned yet). */
  read(id: string, owner: string, opts: { since?: number; limit?: number } = {}): ReadResult {
    const s = this.get(id, owner);
    this.touch(s);
    const total = s.base + s.buf.length;
    let since = opts.since ?? s.readCursor;
    if (!Number.isInteger(since) || since < 0) throw new GatehouseError('invalid_input', 'since must be a non-negative integer cursor', { hint: 'use `next` from a previous read' });
    const limit = opts.limit ?? this.o.bufferChars;
    if (!Number.isInteger(limit) || limit <= 0) throw new GatehouseError('invalid_input', 'limit must be a positive integer', { hint: 'for example 65536' });
    let dropped = false;
    if (since < s.base) {
      since = s.base;
      dropped = true;
    }
    if (since > total) since = total;
    const text = s.buf.slice(since - s.base, since - s.base + limit);
    const next = since + text.length;
    if (next > s.readCursor) s.readCursor = next;
    return { output: s.scrub(text), next, closed: s.closed, dropped };
  }

  signal(id: string, owner: string, sig: SessionSignal): void {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    this.touch(s);
    const key = CONTROL_KEYS[sig];
    this.record(s, 'signal', sig);
    if (key) {
      // On a PTY the terminal driver turns these keys into signals for the foreground job, which
      // is what a person pressing Ctrl-C reaches (a signal request would hit the shell instead).
      s.stream.write(key);
      return;
    }
    if (sig === 'HUP' || sig === 'TERM' || sig === 'KILL') {
      sendChannelSignal(s.stream, sig);
      return;
    }
    throw new GatehouseError('invalid_input', `unsupported signal ${String(sig)}`, { hint: 'use INT, QUIT, TSTP, HUP, TERM or KILL' });
  }

  close(id: string, owner: string): void {
    const s = this.get(id, owner);
    this.finish(s, 'closed by owner');
    this.remove(s);
  }

  list(owner?: string): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) {
      if (owner !== undefined && s.owner !== owner) continue;
      out.push({ id: s.id, owner: s.owner, target: s.target, openedAt: s.openedAt.toISOString(), lastActivityAt: s.lastActivity.toISOString(), closed: s.closed });
    }
    return out;
  }

  /** Closes every session of an owner (token revocation). Returns how many were open. */
  closeAllFor(owner: string, reason = 'token revoked'): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.owner !== owner) continue;
      if (!s.closed) n++;
      this.finish(s, reason);
      this.remove(s);
    }
    return n;
  }

  /** Closes everything (shutdown). */
  closeAll(reason = 'gateway shutdown'): void {
    for (const s of [...this.sessions.values()]) {
      this.finish(s, reason);
      this.remove(s);
    }
  }

  /**
   * Full transcript of an open or recently closed session, for the audit log. Not owner-checked:
   * this is the gateway's own view and must not be exposed to agents as a tool.
   */
  transcript(id: string): SessionTranscript | undefined {
    const s = this.sessions.get(id);
    if (s) return this.snapshot(s);
    return this.closedTranscripts.get(id);
  }

  // ---------------------------------------------------------------------------------------------

  private get(id: string, owner: string): Session {
    const s = typeof id === 'string' ? this.sessions.get(id) : undefined;
    if (!s || s.owner !== owner) throw notFound();
    return s;
  }

  private closedError(s: Session): GatehouseError {
    return new GatehouseError('session_not_found', `SSH session is closed (${s.closeReason ?? 'closed'})`, { hint: 'open a new session' });
  }

  private async doSend(s: Session, input: string, matcher: ((t: string) => boolean) | undefined, timeoutMs: number): Promise<SendResult> {
    if (s.closed) throw this.closedError(s);
    this.touch(s);
    const text = input.endsWith('\n') || input.endsWith('\r') ? input : input + '\n';
    const mark = s.base + s.buf.length;
    this.record(s, 'in', text);
    s.stream.write(text);
    const outcome = await new Promise<{ matched: boolean; timedOut: boolean }>((resolve) => {
      let settle: NodeJS.Timeout | undefined;
      const done = (r: { matched: boolean; timedOut: boolean }) => {
        clearTimeout(overall);
        if (settle) clearTimeout(settle);
        s.listeners.delete(check);
        resolve(r);
      };
      const check = () => {
        if (matcher && matcher(this.since(s, mark))) return done({ matched: true, timedOut: false });
        if (s.closed) return done({ matched: false, timedOut: false });
        if (!matcher) {
          if (settle) clearTimeout(settle);
          settle = setTimeout(() => done({ matched: false, timedOut: false }), this.o.settleMs);
        }
      };
      const overall = setTimeout(() => done({ matched: false, timedOut: true }), timeoutMs);
      s.listeners.add(check);
      check();
    });
    this.touch(s);
    const total = s.base + s.buf.length;
    if (total > s.readCursor) s.readCursor = total;
    return { output: s.scrub(this.since(s, mark)), matched: outcome.matched, timedOut: outcome.timedOut, closed: s.closed };
  }

  private since(s: Session, mark: number): string {
    return s.buf.slice(Math.max(0, mark - s.base));
  }

  private append(s: Session, text: string): void {
    if (!text) return;
    s.buf += text;
    if (s.buf.length > this.o.bufferChars) {
      const cut = s.buf.length - this.o.bufferChars;
      s.buf = s.buf.slice(cut);
      s.base += cut;
    }
    this.record(s, 'out', text);
    for (const l of [...s.listeners]) l();
  }

  private record(s: Session, dir: TranscriptEntry['dir'], data: string): void {
    if (s.transcriptTruncated) return;
    if (s.transcriptChars + data.length > this.o.transcriptMaxChars) {
      s.transcriptTruncated = true;
      s.transcript.push({ at: new Date().toISOString(), dir: 'event', data: 'transcript truncated' });
      return;
    }
    s.transcriptChars += data.length;
    const last = s.transcript[s.transcript.length - 1];
    // Merge consecutive output chunks so the transcript reads as text, not as packets.
    if (dir === 'out' && last && last.dir === 'out') last.data += data;
    else s.transcript.push({ at: new Date().toISOString(), dir, data });
  }

  private snapshot(s: Session): SessionTranscript {
    return {
      id: s.id,
      owner: s.owner,
      target: s.target,
      openedAt: s.openedAt.toISOString(),
      ...(s.closedAt ? { closedAt: s.closedAt.toISOString() } : {}),
      ...(s.closeReason ? { closeReason: s.closeReason } : {}),
      entries: s.transcript.map((e) => ({ ...e, data: s.scrub(e.data) })),
      truncated: s.transcriptTruncated,
    };
  }

  private touch(s: Session): void {
    s.lastActivity = new Date();
    if (s.closed) return;
    if (s.idleTimer) clearTimeout(s.idleTimer);
    s.idleTimer = setTimeout(() => {
      this.finish(s, 'idle timeout');
    }, s.idleMs);
    s.idleTimer.unref();
  }

  private finish(s: Session, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    s.closedAt = new Date();
    s.closeReason = reason;
    if (s.idleTimer) clearTimeout(s.idleTimer);
    this.append(s, s.stripper.push(s.decoder.end()) + s.stripper.flush());
    this.record(s, 'event', `close: ${reason}`);
    try {
      s.stream.close();
    } catch {
      /* gone */
    }
    try {
      s.client.end();
    } catch {
      /* gone */
    }
    for (const l of [...s.listeners]) l();
    const t = this.snapshot(s);
    this.closedTranscripts.set(s.id, t);
    while (this.closedTranscripts.size > 64) this.closedTranscripts.delete(this.closedTranscripts.keys().next().value as string);
    log.info('ssh session closed', { session: s.id, target: s.target, reason });
    if (this.o.onTranscript) {
      try {
        this.o.onTranscript(t);
      } catch (e) {
        log.error('session transcript sink failed', { session: s.id, error: e });
      }
    }
    // A session the remote side closed stays readable for a while; owner closes remove it at once.
    s.removeTimer = setTimeout(() => this.remove(s), this.o.closedRetentionMs);
    s.removeTimer.unref();
  }

  private remove(s: Session): void {
    if (s.removeTimer) clearTimeout(s.removeTimer);
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
  }
}

function toMatcher(w: string | RegExp | undefined): ((t: string) => boolean) | undefined {
  if (w === undefined || w === '') return undefined;
  if (typeof w === 'string') return (t) => t.includes(w);
  // Drop g/y so lastIndex state never makes a match depend on earlier calls.
  const re = new RegExp(w.source, w.flags.replace(/[gy]/g, ''));
  return (t) => re.test(t);
}
