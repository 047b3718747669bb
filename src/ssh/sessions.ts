/**
 * Interactive PTY sessions (ssh_session_*). Each session has its own connection (so a long-lived
 * shell never holds one of the pool's exec channels, and closing it tears down everything).
 *
 * A session is one bash whose state the agent shapes over many sends. So:
 * - At open, before the agent's first send, the shell is set up and checked (session-init.ts):
 *   it must be bash; line editing, history, history expansion, aliases, functions, traps and
 *   prompt hooks are off, and the prompt hooks are readonly. A shell that is not bash, or whose
 *   setup does not stick, is refused (ssh_error) and the session closed.
 * - `foreground()` says whether the shell or another program holds the terminal, from the
 *   kernel's view on a second channel (session-foreground.ts), never from the output.
 * - `send()` re-checks that right before writing, inside the session's send queue, and refuses
 *   input that was judged for a different holder of the terminal (by default: the shell).
 *
 * INVARIANTS enforced here:
 * - Session ids are 144 random bits; a handle is a name, not a capability: every call re-checks
 *   that the caller's owner (token id) opened the session, and an unknown id and someone else's
 *   id get the same session_not_found answer.
 * - Input is written only to the holder of the terminal it was judged for (see send()).
 * - Output is scrubbed once, as a stream, before it is kept; reads and sends return slices of
 *   the scrubbed buffer, so no way of slicing it can cut a secret in two and let both halves out.
 *   waitFor is matched against scrubbed text, so it never tells whether a secret was printed.
 * - Every input, signal and event goes to the transcript whole (session-transcript.ts); only
 *   output is capped, and the cap is marked where it applied.
 * - Every wait is bounded (timeoutS, init timeout, probe timeout); idle sessions are closed.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';
import { GatehouseError, createLogger, cutText, truncateText } from '../core/index.js';
import { stripAnsi } from './ansi.js';
import { sendChannelSignal } from './channel-signal.js';
import { openConnection, type ConnectOptions } from './connect.js';
import { validTimeoutMs } from './exec-run.js';
import {
  ShellProbe,
  describeForeground,
  judgeForeground,
  sameForeground,
  termiosProblem,
  type Foreground,
  type ShellBaseline,
} from './session-foreground.js';
import { describeInitFlags, initLines, type InitLines } from './session-init.js';
import { checkInput, textToWrite } from './session-input.js';
import { OutputPipeline, lineScrubber, scrubWhole, type ScrubberFactory } from './session-output.js';
import { SessionScreen, type ScreenView } from './session-screen.js';
import { TranscriptRecorder, type SessionRecord, type SessionTranscript } from './session-transcript.js';
import { setTerminalEcho } from './terminal-echo.js';
import type { CredentialProvider, Scrubber, SshTargetSpec } from './types.js';

export type { Foreground } from './session-foreground.js';
export type { ScreenView } from './session-screen.js';
export type { SessionRecord, SessionTranscript, TranscriptEntry } from './session-transcript.js';
export type { ChunkScrubberLike, ScrubberFactory } from './session-output.js';

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
  /** Output kept in the transcript (characters). Default 8 MiB. Inputs are never cut. */
  transcriptMaxChars?: number;
  /** Output kept in the transcript between two inputs (characters). Default 1 MiB. */
  transcriptMaxCharsPerTurn?: number;
  /** Quiet period that ends a send() without waitFor. Default 300 ms. */
  settleMs?: number;
  /** Quiet period after which the scrubber's held-back tail is released. Default 100 ms. */
  scrubQuietMs?: number;
  /** Default wait for send(). Default 10 s. */
  defaultSendTimeoutS?: number;
  /** How long the shell may take to answer the setup at open. Default 15 s. */
  initTimeoutS?: number;
  /** Bound on one foreground probe (ms); past it the answer is "not at the shell". Default 2000. */
  foregroundTimeoutMs?: number;
  /** 'auto' (default): /proc when the host has it, else `ps`. 'ps' forces the fallback. */
  foregroundProbe?: 'auto' | 'ps';
  /** How long a session closed by the remote side stays readable. Default 60 s. */
  closedRetentionMs?: number;
  /** Default stream scrubber for sessions that do not pass their own (the vault redactor's). */
  createScrubber?: ScrubberFactory;
  /** Receives each session's transcript when it closes (for the audit log). */
  onTranscript?: (t: SessionTranscript) => void;
  /** Receives every input, signal and event as it happens (for per-send audit records). */
  onRecord?: (r: SessionRecord) => void;
}

export interface SessionOpenOptions {
  /** Token id (or other principal id) that owns the session. */
  owner: string;
  idleTimeoutS?: number;
  cols?: number;
  rows?: number;
  /** Terminal type. Default 'dumb', which keeps programs from emitting colours and bracketed paste. */
  term?: string;
  /**
   * Terminal echo. Default false: the terminal does not echo input, and the shell has no line
   * editor of its own after setup, so output (and waitFor) sees only what programs print; the
   * transcript records the input either way. With true, the terminal echoes every line written,
   * so pick a waitFor that the input itself does not contain.
   */
  echo?: boolean;
  /** Stream scrubber for this session's output and transcript (the vault redactor's createScrubber). */
  createScrubber?: ScrubberFactory;
  /** A whole-string scrubber, used line by line when no createScrubber is given. */
  scrub?: Scrubber;
}

export interface SessionInfo {
  id: string;
  owner: string;
  target: string;
  openedAt: string;
  lastActivityAt: string;
  closed: boolean;
  /** The agent asked a person to take over (ssh_session_handoff): its message and when. */
  handoff?: { message: string; at: string };
  /** Who may type: the agent, or a person who took over in the console. */
  control: 'agent' | 'person';
  /** The person in control (their console label) and since when. */
  controlledBy?: { label: string; since: string };
  /** The agent's last input (scrubbed, cut to 200 characters). */
  lastInput?: string;
}

/** A person at the console, as the session manager knows them. */
export interface Person {
  /** Their console session (its hash): only they may type while they hold control. */
  holder: string;
  /** Who, for the transcript and the console (`console:LABEL`). */
  label: string;
}

export interface SendOptions {
  /** Wait until the output since this send contains this string or matches this RegExp. */
  waitFor?: string | RegExp;
  timeoutS?: number;
  /**
   * What the input was judged as written to (from foreground() before the gate judged it).
   * Default: the shell, i.e. the input was judged as bash. Right before writing, the terminal's
   * holder is checked again; when it differs, nothing is written and send() throws `denied`.
   */
  expect?: Foreground;
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
  /** `person` while a person holds the terminal (sends fail with human_control until they return it). */
  control: 'agent' | 'person';
}

export type SessionSignal = 'INT' | 'QUIT' | 'TSTP' | 'HUP' | 'TERM' | 'KILL';

interface Session {
  id: string;
  owner: string;
  target: string;
  openedAt: Date;
  lastActivity: Date;
  client: Client;
  stream: ClientChannel;
  scrubber: ScrubberFactory;
  idleMs: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** One UTF-8 decoder for the whole stream, so no character is split at the end of setup. */
  decoder: StringDecoder;
  /** Until setup is done, output goes here (decoded, not stripped), not to the agent's buffer. */
  init: { raw: string; wake: () => void } | undefined;
  pipeline: OutputPipeline;
  probe: ShellProbe | undefined;
  baseline: ShellBaseline | undefined;
  buf: string;
  base: number; // chars dropped from the front of buf
  readCursor: number;
  closed: boolean;
  closedAt?: Date;
  closeReason?: string;
  listeners: Set<() => void>;
  chain: Promise<unknown>;
  transcript: TranscriptRecorder;
  removeTimer?: NodeJS.Timeout;
  handoff?: { message: string; at: Date };
  /** Opened with terminal echo on (then a takeover leaves echo alone). */
  echo: boolean;
  /** The screen people watching see (raw output in, scrubbed views out). */
  screen: SessionScreen;
  /** Output diverted away from agent and screen while the setup is checked again (after a person). */
  divert: { raw: string; wake: () => void } | undefined;
  /** A person holds the terminal: the agent may read (nothing new) but not type or signal. */
  control: { person: Person; since: Date; echoOn: boolean; keys: number } | undefined;
  /** A person had control: the shell's setup is checked again before the agent's next line. */
  recheck: boolean;
  lastInput: string | undefined;
  /** The console's watchers: told when the screen or the control state changed. */
  watchers: Set<() => void>;
}

const CONTROL_KEYS: Partial<Record<SessionSignal, string>> = { INT: '\x03', QUIT: '\x1c', TSTP: '\x1a' };

/** Output the login shell may print before answering the setup (motd, rc files). */
const INIT_OUTPUT_MAX = 1024 * 1024;

const identityScrubber: ScrubberFactory = () => ({
  push: (c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c),
  end: () => Buffer.alloc(0),
});

/** Marks, in what the agent reads, where a person took the terminal and where they gave it back. */
export const WITHHELD_MARK = '[person in control, output withheld]';

function humanControl(): GatehouseError {
  return new GatehouseError('human_control', 'a person holds this SSH session in the Gatehouse console', {
    hint: 'do not type into it now: wait, and poll ssh_session_read; when the person returns control, their note is in the output and you may send again',
  });
}

function notFound(): GatehouseError {
  return new GatehouseError('session_not_found', 'no such SSH session for this token', {
    hint: 'open one with ssh_session_open; sessions close when idle or when their token is revoked',
  });
}

export class SshSessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly closedTranscripts = new Map<string, SessionTranscript>();
  private readonly o: Required<
    Omit<SessionManagerOptions, keyof ConnectOptions | 'onTranscript' | 'onRecord' | 'createScrubber'>
  > &
    SessionManagerOptions;

  constructor(options: SessionManagerOptions = {}) {
    this.o = {
      ...options,
      idleTimeoutS: options.idleTimeoutS ?? 900,
      maxSessions: options.maxSessions ?? 64,
      maxSessionsPerOwner: options.maxSessionsPerOwner ?? 8,
      bufferChars: options.bufferChars ?? 1024 * 1024,
      transcriptMaxChars: options.transcriptMaxChars ?? 8 * 1024 * 1024,
      transcriptMaxCharsPerTurn: options.transcriptMaxCharsPerTurn ?? 1024 * 1024,
      settleMs: options.settleMs ?? 300,
      scrubQuietMs: options.scrubQuietMs ?? 100,
      defaultSendTimeoutS: options.defaultSendTimeoutS ?? 10,
      initTimeoutS: options.initTimeoutS ?? 15,
      foregroundTimeoutMs: options.foregroundTimeoutMs ?? 2000,
      foregroundProbe: options.foregroundProbe ?? 'auto',
      closedRetentionMs: options.closedRetentionMs ?? 60_000,
    };
  }

  async open(
    spec: SshTargetSpec,
    getCredentials: CredentialProvider,
    opts: SessionOpenOptions,
  ): Promise<{ id: string }> {
    if (!opts.owner)
      throw new GatehouseError('invalid_input', 'a session needs an owner', { hint: 'pass the token id' });
    const open = [...this.sessions.values()].filter((s) => !s.closed);
    if (open.length >= this.o.maxSessions) {
      throw new GatehouseError('limit_exceeded', `${open.length} SSH sessions are open (limit ${this.o.maxSessions})`, {
        hint: 'close a session first',
      });
    }
    const mine = open.filter((s) => s.owner === opts.owner).length;
    if (mine >= this.o.maxSessionsPerOwner) {
      throw new GatehouseError(
        'limit_exceeded',
        `this token has ${mine} SSH sessions open (limit ${this.o.maxSessionsPerOwner})`,
        { hint: 'close a session first' },
      );
    }
    const idleMs = validTimeoutMs(opts.idleTimeoutS, this.o.idleTimeoutS);
    const initMs = validTimeoutMs(this.o.initTimeoutS, 15);
    const client = await openConnection(spec, getCredentials, this.o);
    let stream: ClientChannel;
    try {
      stream = await new Promise<ClientChannel>((resolve, reject) => {
        client.shell(
          {
            term: opts.term ?? 'dumb',
            cols: opts.cols ?? 200,
            rows: opts.rows ?? 50,
            modes: { ECHO: opts.echo ? 1 : 0 },
          },
          (err, ch) => (err ? reject(err) : resolve(ch)),
        );
      });
    } catch {
      client.end();
      throw new GatehouseError('ssh_error', `SSH target "${spec.name}" refused to open a shell`, {
        hint: 'check that the user has a login shell',
      });
    }
    const scrubber =
      opts.createScrubber ??
      (opts.scrub ? () => lineScrubber(opts.scrub!) : undefined) ??
      this.o.createScrubber ??
      identityScrubber;
    const now = new Date();
    const id = 'sess_' + randomBytes(18).toString('base64url');
    // The pipeline's sink reads `s` only when output arrives, after `s` is built.
    const pipeline = new OutputPipeline(scrubber, (text) => this.append(s, text), this.o.scrubQuietMs);
    const s: Session = {
      id,
      owner: opts.owner,
      target: spec.name,
      openedAt: now,
      lastActivity: now,
      client,
      stream,
      scrubber,
      idleMs,
      idleTimer: undefined,
      decoder: new StringDecoder('utf8'),
      init: { raw: '', wake: () => {} },
      pipeline,
      probe: undefined,
      baseline: undefined,
      buf: '',
      base: 0,
      readCursor: 0,
      closed: false,
      listeners: new Set(),
      chain: Promise.resolve(),
      echo: opts.echo === true,
      screen: new SessionScreen(opts.cols ?? 200, opts.rows ?? 50, () => this.notify(s)),
      divert: undefined,
      control: undefined,
      recheck: false,
      lastInput: undefined,
      watchers: new Set(),
      transcript: new TranscriptRecorder(
        { outputMaxChars: this.o.transcriptMaxChars, outputMaxCharsPerTurn: this.o.transcriptMaxCharsPerTurn },
        { session: id, owner: opts.owner, target: spec.name },
        this.o.onRecord ? (r) => this.deliverRecord(r) : undefined,
      ),
    };
    // Counted against the limits (and closed by closeAllFor) while it is being set up; the id is
    // not handed out before setup succeeded, so no send can reach it earlier.
    this.sessions.set(s.id, s);
    this.note(s, 'event', `open ${spec.user}@${spec.host}:${spec.port}`);
    const onData = (d: Buffer) => {
      const text = s.decoder.write(d);
      const sink = s.init ?? s.divert;
      if (!sink) return this.output(s, text);
      sink.raw += text;
      sink.wake();
    };
    stream.on('data', onData);
    stream.stderr.on('data', onData);
    stream.on('error', () => {});
    stream.on('close', () => this.finish(s, 'remote closed'));
    client.on('error', () => this.finish(s, 'connection error'));
    client.on('close', () => this.finish(s, 'connection closed'));
    try {
      await this.setUp(s, spec, initMs);
    } catch (e) {
      this.finish(s, 'setup failed');
      this.remove(s);
      throw e;
    }
    this.touch(s);
    return { id: s.id };
  }

  /**
   * What holds the session's terminal right now: the shell (`atShell: true`), or another program
   * (input sent now would be input to it, so it must not be judged as a bash line). Fails closed:
   * anything that cannot be determined within the probe's time bound is "not at the shell".
   */
  async foreground(id: string, owner: string): Promise<Foreground> {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    if (s.control) throw humanControl();
    return this.probeNow(s);
  }

  /** Writes input (newline-terminated) and returns the output that follows it. */
  async send(id: string, owner: string, input: string, opts: SendOptions = {}): Promise<SendResult> {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    if (s.control || this.heldNextTo(s)) throw humanControl();
    checkInput(input);
    const timeoutMs = validTimeoutMs(opts.timeoutS, this.o.defaultSendTimeoutS);
    const matcher = toMatcher(opts.waitFor);
    const expect: Foreground = opts.expect ?? { atShell: true };
    // Sends to one session run one after another, so each one's "output since" is its own, and
    // the terminal check below sees the state the previous send left.
    const run = s.chain.then(() => this.doSend(s, input, expect, matcher, timeoutMs));
    s.chain = run.catch(() => {});
    return await run;
  }

  /** Output from `since` (a cursor from a previous read; default: what no send/read returned yet). */
  read(id: string, owner: string, opts: { since?: number; limit?: number } = {}): ReadResult {
    const s = this.get(id, owner);
    this.touch(s);
    const total = s.base + s.buf.length;
    let since = opts.since ?? s.readCursor;
    if (!Number.isInteger(since) || since < 0)
      throw new GatehouseError('invalid_input', 'since must be a non-negative integer cursor', {
        hint: 'use `next` from a previous read',
      });
    const limit = opts.limit ?? this.o.bufferChars;
    if (!Number.isInteger(limit) || limit <= 0)
      throw new GatehouseError('invalid_input', 'limit must be a positive integer', { hint: 'for example 65536' });
    let dropped = false;
    if (since < s.base) {
      since = s.base;
      dropped = true;
    }
    if (since > total) since = total;
    // INVARIANT: the buffer holds scrubbed text only, so any slice of it is safe to return.
    const text = s.buf.slice(since - s.base, since - s.base + limit);
    const next = since + text.length;
    if (next > s.readCursor) s.readCursor = next;
    return { output: text, next, closed: s.closed, dropped, control: s.control ? 'person' : 'agent' };
  }

  signal(id: string, owner: string, sig: SessionSignal): void {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    if (s.control || this.heldNextTo(s)) throw humanControl();
    this.touch(s);
    const key = CONTROL_KEYS[sig];
    if (!key && sig !== 'HUP' && sig !== 'TERM' && sig !== 'KILL') {
      throw new GatehouseError('invalid_input', `unsupported signal ${String(sig)}`, {
        hint: 'use INT, QUIT, TSTP, HUP, TERM or KILL',
      });
    }
    this.note(s, 'signal', sig);
    if (key) {
      // On a PTY the terminal driver turns these keys into signals for the foreground job, which
      // is what a person pressing Ctrl-C reaches (a signal request would hit the shell instead).
      s.stream.write(key);
      return;
    }
    sendChannelSignal(s.stream, sig);
  }

  close(id: string, owner: string): void {
    const s = this.get(id, owner);
    // A person mid-way through a sudo prompt keeps the terminal; the agent closes it afterwards.
    if (s.control && !s.closed) throw humanControl();
    this.finish(s, 'closed by owner');
    this.remove(s);
  }

  list(owner?: string): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) {
      if (s.init) continue; // still being set up: not usable yet
      if (owner !== undefined && s.owner !== owner) continue;
      out.push({
        id: s.id,
        owner: s.owner,
        target: s.target,
        openedAt: s.openedAt.toISOString(),
        lastActivityAt: s.lastActivity.toISOString(),
        closed: s.closed,
        ...(s.handoff ? { handoff: { message: s.handoff.message, at: s.handoff.at.toISOString() } } : {}),
        control: s.control ? 'person' : 'agent',
        ...(s.control ? { controlledBy: { label: s.control.person.label, since: s.control.since.toISOString() } } : {}),
        ...(s.lastInput !== undefined ? { lastInput: s.lastInput } : {}),
      });
    }
    return out;
  }

  /**
   * The agent asks a person to take over (a sudo or 2FA prompt, a judgement call): the message
   * shows in the console until the session closes, the person dismisses it, or the agent asks again.
   */
  handoff(id: string, owner: string, message: string): void {
    const s = this.get(id, owner);
    if (s.closed) throw this.closedError(s);
    s.handoff = { message: truncateText(message, 500), at: new Date() };
    this.notify(s);
  }

  /** A person saw the handoff (the console's Dismiss); false when no such session is open. */
  dismissHandoff(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s || s.closed) return false;
    s.handoff = undefined;
    this.notify(s);
    return true;
  }

  // --- A person at the console (not owner-checked: the console's own view, never an agent's) ---

  /**
   * Calls `changed` whenever the session's screen or control state changes, until the returned
   * function is called; undefined when no such session is open.
   */
  watch(id: string, changed: () => void): (() => void) | undefined {
    const s = this.sessions.get(id);
    if (!s || s.init || s.closed) return undefined;
    s.watchers.add(changed);
    return () => s.watchers.delete(changed);
  }

  /** The session's current screen, scrubbed; undefined when no such session is open. */
  screen(id: string): ScreenView | undefined {
    const s = this.sessions.get(id);
    if (!s || s.init) return undefined;
    return s.screen.view((text) => scrubWhole(s.scrubber, text));
  }

  /** One session's state (any owner), or undefined. */
  info(id: string): SessionInfo | undefined {
    const s = this.sessions.get(id);
    if (!s || s.init) return undefined;
    return this.list(s.owner).find((x) => x.id === id);
  }

  /** The console session (hash) of the person holding the terminal, if one does. */
  holder(id: string): string | undefined {
    return this.sessions.get(id)?.control?.person.holder;
  }

  /**
   * A person takes the terminal. From now on the agent's sends and signals fail with
   * human_control, and what the terminal prints is withheld from the agent.
   *
   * INVARIANTS: output is the agent's up to this point and withheld from here (the scrubbing
   * pipeline is flushed first, then the mark goes into the agent's buffer); a send of the agent's
   * that is waiting for output returns at once; the person's keystrokes and what they see are in
   * neither the agent's buffer nor the transcript (a password typed at a sudo prompt must not be
   * recorded), only the takeover and hand-back as events naming the person.
   */
  async takeOver(id: string, person: Person): Promise<SessionInfo> {
    const s = this.sessions.get(id);
    if (!s || s.init || s.closed) throw new GatehouseError('not_found', 'no such open SSH session');
    const before = s.control;
    if (before?.person.holder === person.holder) return this.info(id)!;
    if (before) {
      this.note(s, 'event', `control passed from ${before.person.label} to ${person.label}`);
      before.person = person;
      this.notify(s);
      return this.info(id)!;
    }
    // INVARIANT: never while the setup is being checked again (it would clear the re-check a
    // takeover asks for, and the person would type into the setup lines).
    if (s.divert)
      throw new GatehouseError('conflict', "the session's setup is being checked right now", {
        hint: 'take over again in a moment',
      });
    s.pipeline.release();
    const control = { person, since: new Date(), echoOn: false, keys: 0 };
    s.control = control;
    s.handoff = undefined;
    s.recheck = true;
    this.agentText(s, `\n${WITHHELD_MARK}\n`);
    this.note(s, 'event', `person in control: ${person.label}; output withheld from the agent`);
    this.touch(s);
    for (const l of [...s.listeners]) l();
    // Echo for the person, only while the shell holds the terminal (see terminal-echo.ts).
    if (!s.echo && s.baseline) {
      const fg = await this.probeNow(s);
      if (fg.atShell && s.control === control && !s.closed) {
        control.echoOn = await setTerminalEcho(s.client, s.baseline.pid, true, this.o.foregroundTimeoutMs);
        // Returned while echo was being turned on: off again for the agent.
        if (s.control !== control && !s.closed)
          await setTerminalEcho(s.client, s.baseline.pid, false, this.o.foregroundTimeoutMs);
      }
    }
    this.notify(s);
    return this.info(id)!;
  }

  /**
   * The person gives the terminal back, with a note the agent reads next. The shell's setup is
   * checked again before the agent's next line is written (a person may have changed it).
   */
  async giveBack(id: string, person: Person, note: string): Promise<SessionInfo> {
    const s = this.sessions.get(id);
    if (!s || s.init || s.closed) throw new GatehouseError('not_found', 'no such open SSH session');
    const control = s.control;
    if (!control) throw new GatehouseError('conflict', 'the agent already has this session');
    // Echo off again for the agent (also when a takeover's `stty echo` may still be on its way).
    if (!s.echo && s.baseline) await setTerminalEcho(s.client, s.baseline.pid, false, this.o.foregroundTimeoutMs);
    // One round trip on the connection, so output of the person's period still in flight arrives
    // (and is withheld) before control changes hands.
    await s.probe?.sample(this.o.foregroundTimeoutMs);
    if (s.control !== control || s.closed) throw new GatehouseError('conflict', 'control changed meanwhile');
    // What the person's period printed is flushed while it is still withheld.
    s.pipeline.release();
    s.control = undefined;
    const said = scrubWhole(s.scrubber, truncateText(note.trim(), 1000));
    this.note(
      s,
      'event',
      `returned to the agent by ${person.label} after ${control.keys} bytes typed${said ? `: ${said}` : ''}`,
    );
    this.agentText(s, `[control returned by a person${said ? `: ${said}` : ''}]\n`);
    this.touch(s);
    this.notify(s);
    return this.info(id)!;
  }

  /**
   * Keystrokes from the person in control, written as typed. Refused (human_control's opposite:
   * `conflict`) unless `holder` holds the session now.
   */
  personInput(id: string, holder: string, data: string): void {
    const s = this.sessions.get(id);
    if (!s || s.init || s.closed) throw new GatehouseError('not_found', 'no such open SSH session');
    if (s.control?.person.holder !== holder)
      throw new GatehouseError('conflict', 'take over the session before typing into it');
    if (data.length === 0) return;
    s.control.keys += Buffer.byteLength(data);
    s.stream.write(data);
    this.touch(s);
  }

  /** Ends a session on a person's word (the console's Terminate), whoever owns it. */
  terminate(id: string, reason: string): SessionInfo | undefined {
    const s = this.sessions.get(id);
    if (!s || s.init) return undefined;
    const info = this.list(s.owner).find((x) => x.id === id);
    this.finish(s, reason);
    this.remove(s);
    return info;
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
   * Transcript of an open or recently closed session, for the audit log. Not owner-checked:
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
    if (!s || s.owner !== owner || s.init) throw notFound();
    return s;
  }

  /** A person holds another session of this owner on the same target (see refuseWhilePersonHolds in tools). */
  private heldNextTo(s: Session): boolean {
    for (const o of this.sessions.values())
      if (o !== s && o.control && !o.closed && o.owner === s.owner && o.target === s.target) return true;
    return false;
  }

  private closedError(s: Session): GatehouseError {
    return new GatehouseError('session_not_found', `SSH session is closed (${s.closeReason ?? 'closed'})`, {
      hint: 'open a new session',
    });
  }

  /** Runs the setup lines, checks them, starts the terminal probe and records the shell's identity. */
  private async setUp(s: Session, spec: SshTargetSpec, initMs: number): Promise<void> {
    const init = s.init!;
    const lines = initLines(randomBytes(16).toString('hex'));
    this.note(s, 'event', `init: ${lines.text}`);
    const where = `${spec.user}@${spec.name}`;
    const hintBash = `interactive sessions need bash as the login shell of ${where} (chsh -s /bin/bash ${spec.user}); ssh_exec works with any shell`;
    const { pid, version, flags, end } = await this.runSetupLines(s, init, lines, initMs, where, hintBash);
    const raw = init.raw;
    // INVARIANT: the setup's own output is an event in the transcript, never output to the agent.
    this.note(s, 'event', `init output: ${stripAnsi(raw.slice(0, end))}`);
    // From here on, output goes through the scrubbing pipeline into the agent's buffer.
    s.init = undefined;
    this.output(s, raw.slice(end));
    const problems = describeInitFlags(flags);
    if (problems.length || !pid) {
      throw new GatehouseError(
        'ssh_error',
        `the shell on ${where} could not be set up for a session: ${problems.join('; ') || 'no process id'}`,
        {
          hint: `check the rc files of ${spec.user} (~/.bashrc, ~/.bash_profile, /etc/bash.bashrc) for readonly or locked settings`,
        },
      );
    }
    this.note(s, 'event', `shell: bash ${version}, pid ${pid}`);

    try {
      s.probe = await ShellProbe.start(s.client, pid, this.o.foregroundProbe, this.o.foregroundTimeoutMs);
    } catch {
      throw new GatehouseError(
        'ssh_error',
        `could not open a second channel to ${where} to watch the session's terminal`,
        {
          hint: 'the SSH server must allow at least two channels per connection (sshd_config MaxSessions, default 10)',
        },
      );
    }
    const sample = await s.probe.sample(this.o.foregroundTimeoutMs);
    const sh = sample?.shell;
    if (!sample || !sh || sh.pid !== pid || !sh.comm) {
      throw new GatehouseError(
        'ssh_error',
        `could not read the state of the shell on ${where} (neither /proc nor ps answered as expected)`,
        {
          hint: 'sessions need /proc or ps on the host to tell the shell from other programs holding the terminal',
        },
      );
    }
    // The login shell leads its own session and process group, and holds the terminal now.
    if (sh.pgrp !== pid || sh.tpgid !== pid) {
      throw new GatehouseError('ssh_error', `the shell on ${where} does not lead its terminal's process group`, {
        hint: 'sessions need the login shell itself on the terminal (no wrapper program or ForceCommand in between)',
      });
    }
    const termios = sample.termios ? termiosProblem(sample.termios) : undefined;
    if (termios) {
      throw new GatehouseError('ssh_error', `the terminal on ${where} is not safe for a session: ${termios}`, {
        hint: `check the rc files of ${spec.user} for stty settings`,
      });
    }
    s.baseline = {
      pid,
      comm: sh.comm,
      pgrp: sh.pgrp,
      session: sh.session,
      startcode: sh.startcode,
      startstack: sh.startstack,
      termios: !!sample.termios,
    };
    const gaps = [
      sample.mode === 'ps' || sh.startcode === 0 ? 'exec detection' : '',
      sample.termios ? '' : 'terminal settings',
    ].filter(Boolean);
    this.note(s, 'event', `terminal watch: ${sample.mode}${gaps.length ? ` (unavailable: ${gaps.join(', ')})` : ''}`);
  }

  /**
   * Writes the setup lines and waits for their markers in `sink` (output diverted away from the
   * agent's buffer and the screen). Resolves with the shell's pid, version and check flags.
   */
  private async runSetupLines(
    s: Session,
    sink: { raw: string; wake: () => void },
    lines: InitLines,
    initMs: number,
    where: string,
    hintBash: string,
  ): Promise<{ pid: number; version: string; flags: string; end: number }> {
    s.stream.write(lines.text);
    let pid = 0;
    let version = '';
    let end = -1;
    let flags = '';
    let check = () => {};
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new GatehouseError(
            'ssh_error',
            `the login shell of ${where} did not answer the session setup within ${Math.round(initMs / 1000)} s`,
            { hint: `${hintBash}; check its rc files for commands that wait for input` },
          ),
        );
      }, initMs);
      const fail = (e: GatehouseError) => {
        clearTimeout(timer);
        reject(e);
      };
      check = () => {
        const raw = sink.raw;
        if (!pid) {
          const [, pidText, versionText] = lines.markerA.exec(raw) ?? [];
          if (versionText !== undefined) {
            pid = Number(pidText);
            version = versionText.trim();
            if (!version)
              return fail(
                new GatehouseError('ssh_error', `the login shell of ${where} is not bash`, { hint: hintBash }),
              );
          }
        }
        const b = lines.markerB.exec(raw);
        // Only a marker that carries its flags ends the wait: flags left at '' would pass every check.
        const checked = b?.[1];
        if (b && checked !== undefined) {
          clearTimeout(timer);
          flags = checked;
          end = b.index + b[0].length;
          return resolve();
        }
        if (s.closed)
          return fail(
            new GatehouseError('ssh_error', `the shell on ${where} closed during session setup`, { hint: hintBash }),
          );
        if (raw.length > INIT_OUTPUT_MAX) {
          return fail(
            new GatehouseError(
              'ssh_error',
              `the login shell of ${where} printed more than ${INIT_OUTPUT_MAX} characters before answering the session setup`,
              { hint: 'check its rc files' },
            ),
          );
        }
      };
      sink.wake = check;
      s.listeners.add(check);
      check();
    }).finally(() => {
      sink.wake = () => {};
      s.listeners.delete(check);
    });
    return { pid, version, flags, end };
  }

  /**
   * After a person had the terminal: runs the session's setup again (it is idempotent) and checks
   * it stuck in the same shell. Its output is diverted, as at open. A shell whose setup cannot be
   * restored is closed: the agent's lines must not run under whatever the person left configured.
   */
  private async reverify(s: Session): Promise<void> {
    const sink = { raw: '', wake: () => {} };
    const lines = initLines(randomBytes(16).toString('hex'));
    this.note(s, 'event', 'setup checked again after a person had control');
    s.pipeline.release();
    s.divert = sink;
    // Anything the person typed and left unsent is discarded first (the terminal's kill
    // character, ^U by default), so it is neither run with the setup lines nor recorded.
    s.stream.write('\x15');
    let result: { pid: number; flags: string; end: number };
    try {
      result = await this.runSetupLines(
        s,
        sink,
        lines,
        validTimeoutMs(this.o.initTimeoutS, 15),
        s.target,
        'open a new session',
      );
    } catch (e) {
      this.finish(s, 'setup could not be checked after a person had control');
      throw e;
    } finally {
      s.divert = undefined;
    }
    // INVARIANT: what the terminal printed before the markers may be the person's (an echo of
    // what they typed): only the checks' verdict is recorded, never that text.
    this.note(s, 'event', `setup checks: ${result.flags}`);
    const problems = describeInitFlags(result.flags);
    if (problems.length || result.pid !== s.baseline?.pid) {
      this.finish(s, 'setup could not be restored after a person had control');
      throw new GatehouseError(
        'ssh_error',
        `the session's shell could not be set up again after a person had control: ${problems.join('; ') || 'another shell answered'}`,
        { hint: 'open a new session' },
      );
    }
    if (!s.control) s.recheck = false;
    this.output(s, sink.raw.slice(result.end));
  }

  private async probeNow(s: Session): Promise<Foreground> {
    if (!s.probe || !s.baseline)
      return { atShell: false, program: 'unknown', pid: 0, reason: 'the terminal is not being watched' };
    if (s.probe.failed)
      return { atShell: false, program: 'unknown', pid: 0, reason: `${s.probe.failed}; open a new session` };
    const sample = await s.probe.sample(this.o.foregroundTimeoutMs);
    if (s.probe.failed)
      return { atShell: false, program: 'unknown', pid: 0, reason: `${s.probe.failed}; open a new session` };
    return judgeForeground(s.baseline, sample);
  }

  private async doSend(
    s: Session,
    input: string,
    expect: Foreground,
    matcher: ((t: string) => boolean) | undefined,
    timeoutMs: number,
  ): Promise<SendResult> {
    if (s.closed) throw this.closedError(s);
    if (s.control || this.heldNextTo(s)) throw humanControl();
    this.touch(s);
    // INVARIANT: input is written only to the holder of the terminal it was judged for, checked
    // here, after every earlier send to this session finished, immediately before the write.
    let fg = await this.probeNow(s);
    // INVARIANT: after a person had the terminal, the shell's setup is checked (and restored)
    // before the agent's next line reaches the shell; until then it is not written.
    if (fg.atShell && s.recheck && !s.control && !s.closed) {
      await this.reverify(s);
      fg = await this.probeNow(s);
    }
    if (s.closed) throw this.closedError(s);
    if (s.control) throw humanControl();
    if (!sameForeground(expect, fg)) {
      const judged = expect.atShell ? 'a bash command line' : `input to ${describeForeground(expect)}`;
      this.note(s, 'event', `input refused: judged as ${judged}, but ${describeForeground(fg)} holds the terminal`);
      throw new GatehouseError(
        'denied',
        `input not sent: it was judged as ${judged}, but ${describeForeground(fg)} holds the session's terminal`,
        {
          hint: fg.atShell
            ? 'send it again; it will be judged as a bash command line'
            : 'send it again: input to a program other than the shell goes to a person for approval',
        },
      );
    }
    const { text } = textToWrite(input, fg.atShell);
    const mark = s.base + s.buf.length;
    this.note(s, 'in', text, fg);
    s.lastInput = cutText(scrubWhole(s.scrubber, text).trimEnd(), 200);
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
        // Matched against scrubbed text: a waitFor equal to a secret never matches.
        if (matcher && matcher(this.since(s, mark))) return done({ matched: true, timedOut: false });
        // A person took the terminal: what follows is withheld, so waiting longer shows nothing.
        if (s.closed || s.control) return done({ matched: false, timedOut: false });
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
    return { output: this.since(s, mark), matched: outcome.matched, timedOut: outcome.timedOut, closed: s.closed };
  }

  private since(s: Session, mark: number): string {
    return s.buf.slice(Math.max(0, mark - s.base));
  }

  /** Raw output after setup: to the people watching, and through the scrubbing pipeline to the agent. */
  private output(s: Session, text: string): void {
    s.screen.write(text);
    s.pipeline.pushText(text);
  }

  /** Scrubbed output from the pipeline. INVARIANT: while a person holds control it is withheld. */
  private append(s: Session, text: string): void {
    if (!text || s.control) return;
    this.agentText(s, text);
  }

  /** Tells the console's watchers that the screen or the control state changed. */
  private notify(s: Session): void {
    for (const w of [...s.watchers]) {
      try {
        w();
      } catch (e) {
        log.error('session watcher failed', { session: s.id, error: e });
      }
    }
  }

  /** Text the agent reads (scrubbed output, or the session's own marks), kept and recorded. */
  private agentText(s: Session, text: string): void {
    s.buf += text;
    if (s.buf.length > this.o.bufferChars) {
      const cut = s.buf.length - this.o.bufferChars;
      s.buf = s.buf.slice(cut);
      s.base += cut;
    }
    s.transcript.output(text);
    for (const l of [...s.listeners]) l();
  }

  /** Records an input, signal or event, scrubbed, whole. */
  private note(s: Session, dir: 'in' | 'signal' | 'event', data: string, foreground?: Foreground): void {
    s.transcript.note(dir, scrubWhole(s.scrubber, data), foreground);
  }

  private deliverRecord(r: SessionRecord): void {
    try {
      this.o.onRecord?.(r);
    } catch (e) {
      log.error('session record sink failed', { session: r.session, error: e });
    }
  }

  private snapshot(s: Session): SessionTranscript {
    return s.transcript.snapshot({
      id: s.id,
      owner: s.owner,
      target: s.target,
      openedAt: s.openedAt.toISOString(),
      ...(s.closedAt ? { closedAt: s.closedAt.toISOString() } : {}),
      ...(s.closeReason ? { closeReason: s.closeReason } : {}),
    });
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
    if (s.init) {
      // Closed during setup: whatever the shell printed is kept as an event.
      const rest = s.init.raw + s.decoder.end();
      if (rest) this.note(s, 'event', `init output: ${stripAnsi(rest)}`);
      s.init.wake();
    } else {
      s.pipeline.pushText(s.decoder.end());
      s.pipeline.end();
    }
    if (s.control) this.note(s, 'event', `closed while ${s.control.person.label} held control`);
    this.note(s, 'event', `close: ${reason}`);
    s.probe?.close();
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
    this.notify(s);
    const t = this.snapshot(s);
    this.closedTranscripts.set(s.id, t);
    while (this.closedTranscripts.size > 64)
      this.closedTranscripts.delete(this.closedTranscripts.keys().next().value as string);
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
    s.watchers.clear();
    s.screen.dispose();
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
