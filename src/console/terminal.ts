/**
 * The live terminal of an SSH session in the browser: a WebSocket that carries the session's
 * screen to the page and, while this person holds control, their keystrokes to the session.
 *
 * INVARIANTS, on top of ConsoleKit.upgradeRoute's Host, exact-Origin and session checks:
 * - the upgrade needs a one-time ticket: made by a POST of the same console session (Origin and
 *   CSRF checked) for the same SSH session, good for TICKET_TTL_MS, spent on first use. A cookie
 *   alone never opens a terminal (any page on another localhost port shares it);
 * - what the page receives is the screen as the session manager renders it: scrubbed, as text
 *   (the page writes it with textContent, never as HTML);
 * - input is written only while this console session holds control (checked by the session
 *   manager on every message), and only after the console session was found still live within
 *   the last LIVE_CHECK_MS; a logged-out, expired or revoked session's socket is closed;
 * - sockets count against the same per-session and per-process caps as the live streams, a frame
 *   is at most MAX_FRAME bytes, and a reader that does not read is cut off.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { WebSocket, WebSocketServer } from 'ws';
import { log, truncateText } from '../core/index.js';
import type { ScreenView, SessionInfo } from '../ssh/index.js';
import { refuseUpgrade, type ConsoleKit, type UpgradeCall } from './kit.js';
import type { SessionControl } from './session-routes.js';

/** A ticket is good for this long after it was made, once. */
export const TICKET_TTL_MS = 30_000;
/** Tickets outstanding at most (the oldest go first). */
const MAX_TICKETS = 1000;
/** Largest message a page may send (a paste of a few pages of text). */
const MAX_FRAME = 64 * 1024;
/** Screens are sent at most this often per socket. */
const FRAME_MS = 40;
/** The console session is checked again this often, and before input when the last check is older. */
const LIVE_CHECK_MS = 2_000;
const HEARTBEAT_MS = 15_000;
/** A WebSocket handshake must complete within this. */
const HANDSHAKE_MS = 10_000;
/** Unsent bytes a socket may hold before it is closed. */
const MAX_BUFFERED = 1024 * 1024;

const sha256 = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');

/** One-time tickets for the terminal socket, held in this process (the one holding the SSH session). */
export class TerminalTickets {
  readonly #tickets = new Map<string, { console: string; session: string; expires: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** A fresh ticket for console session `consoleHash` to open SSH session `sessionId`'s terminal. */
  issue(consoleHash: string, sessionId: string): string {
    this.#sweep();
    while (this.#tickets.size >= MAX_TICKETS) this.#tickets.delete(this.#tickets.keys().next().value as string);
    const ticket = randomBytes(32).toString('base64url');
    this.#tickets.set(sha256(ticket), {
      console: consoleHash,
      session: sessionId,
      expires: this.#now() + TICKET_TTL_MS,
    });
    return ticket;
  }

  /** Spends a ticket: true only for an unexpired, unused one made by this console session for this SSH session. */
  spend(ticket: string, consoleHash: string, sessionId: string): boolean {
    const key = sha256(ticket);
    const t = this.#tickets.get(key);
    if (!t) return false;
    this.#tickets.delete(key);
    return t.expires > this.#now() && t.console === consoleHash && t.session === sessionId;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, t] of this.#tickets) if (t.expires <= now) this.#tickets.delete(k);
  }
}

/** What the page is told about who holds the terminal. */
export interface TerminalState {
  type: 'state';
  control: 'agent' | 'person';
  /** The person in control, when one is. */
  by: string | null;
  /** True when this page's person holds control (their keystrokes go to the session). */
  mine: boolean;
  closed: boolean;
  handoff: string | null;
}

function stateOf(info: SessionInfo | undefined, mine: boolean): TerminalState {
  return {
    type: 'state',
    control: info?.control ?? 'agent',
    by: info?.controlledBy?.label ?? null,
    mine,
    closed: !info || info.closed,
    handoff: info?.handoff?.message ?? null,
  };
}

let wss: Promise<WebSocketServer> | undefined;
/** One WebSocket server (no listening socket of its own: it only completes upgrades), loaded on first use. */
function server(): Promise<WebSocketServer> {
  return (wss ??= import('ws').then(
    (m) => new m.WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, perMessageDeflate: false }),
  ));
}

/**
 * Opens the terminal socket for an upgrade that passed the kit's checks, or refuses it.
 * `holderOf(session)` is how the session manager knows this person (their console session hash).
 */
export async function openTerminal(
  kit: ConsoleKit,
  tickets: TerminalTickets,
  ctl: SessionControl,
  u: UpgradeCall,
): Promise<void> {
  const id = u.ctx.params.id ?? '';
  const ticket = u.ctx.url.searchParams.get('ticket') ?? '';
  if (!tickets.spend(ticket, u.session.idHash, id)) {
    await kit.auditRefusal({ ctx: u.ctx, session: u.session }, 'refused:terminal-ticket', { sshSession: id });
    return refuseUpgrade(u.socket, 403, 'Forbidden');
  }
  const watching = await ctl.info(id);
  if (!watching || watching.closed) return refuseUpgrade(u.socket, 404, 'Not Found');
  const release = kit.holdStream(u.session.idHash);
  if (!release) return refuseUpgrade(u.socket, 429, 'Too Many Requests');
  // A handshake the library rejects never calls back: bounded, and the stream slot given back.
  const ws = await new Promise<WebSocket | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), HANDSHAKE_MS);
    void server().then((s) =>
      s.handleUpgrade(u.req, u.socket, u.head, (w) => {
        clearTimeout(t);
        resolve(w);
      }),
    );
  });
  if (!ws) {
    release();
    return void u.socket.destroy();
  }
  await kit.audit({ ctx: u.ctx, session: u.session }, 'terminal_opened', {
    sshSession: id,
    target: watching.target,
  });
  serve(kit, ctl, id, u, ws, release);
}

function serve(
  kit: ConsoleKit,
  ctl: SessionControl,
  id: string,
  u: UpgradeCall,
  ws: WebSocket,
  release: () => void,
): void {
  const holder = u.session.idHash;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let checkedAt = kit.now();
  let lastState = '';

  const send = (message: (ScreenView & { type: 'screen' }) | TerminalState) => {
    if (closed) return;
    if (ws.bufferedAmount > MAX_BUFFERED) return end('slow reader', 1008);
    ws.send(JSON.stringify(message));
  };
  // One frame at a time: a change while one is being fetched schedules the next.
  let busy = false;
  let again = false;
  const frame = async () => {
    timer = undefined;
    if (busy) return void (again = true);
    busy = true;
    try {
      const v = await ctl.view(id);
      const state = stateOf(v?.info, v?.holder !== undefined && v.holder === holder);
      const text = JSON.stringify(state);
      if (text !== lastState) {
        lastState = text;
        send(state);
      }
      if (v?.screen) send({ type: 'screen', ...v.screen });
      if (!v || v.info.closed) end('the session closed', 1000);
    } catch (e) {
      log.warn('console terminal: the session could not be read', { err: e });
      end('the session could not be read', 1011);
    } finally {
      busy = false;
      if (again && !closed) {
        again = false;
        changed();
      }
    }
  };
  const changed = () => {
    if (!closed && !timer) timer = setTimeout(() => void frame().catch(() => end('error', 1011)), FRAME_MS);
  };
  let unwatch: (() => void) | undefined;
  const live = async (): Promise<boolean> => {
    const ok = await (await kit.sessions()).stillLive(holder).catch(() => false);
    checkedAt = kit.now();
    if (!ok) end('your console session ended', 1008);
    return ok && !closed;
  };
  const beat = setInterval(() => {
    void live()
      .then((ok) => ok && ws.ping())
      .catch(() => end('error', 1011));
  }, HEARTBEAT_MS);
  beat.unref();

  function end(reason: string, code: number): void {
    if (closed) return;
    // Closed first: nothing below can call back in here. The last word is sent only to a reader
    // that keeps up (a slow one is simply closed).
    closed = true;
    if (ws.bufferedAmount <= MAX_BUFFERED && ws.readyState === ws.OPEN)
      ws.send(JSON.stringify({ type: 'ended', reason }));
    clearInterval(beat);
    if (timer) clearTimeout(timer);
    unwatch?.();
    release();
    ws.close(code, truncateText(reason, 100));
  }

  // Keystrokes are written in the order they came: one message at a time (for a session in another
  // process each is a request, and two in flight could arrive swapped).
  let queue: Promise<void> = Promise.resolve();
  ws.on('message', (data, isBinary) => {
    queue = queue
      .then(async () => {
        if (closed) return;
        let msg: unknown;
        try {
          msg = isBinary ? undefined : JSON.parse(data.toString());
        } catch {
          msg = undefined;
        }
        const m = msg as { type?: unknown; data?: unknown } | undefined;
        if (m?.type !== 'input' || typeof m.data !== 'string') return end('unknown message', 1003);
        if (kit.now() - checkedAt > LIVE_CHECK_MS && !(await live())) return;
        try {
          await ctl.personInput(id, holder, m.data);
        } catch (e) {
          // Not in control (any more): the page is told the state, nothing is written.
          log.debug('console terminal: input refused', { err: e });
          lastState = '';
          changed();
        }
      })
      .catch(() => end('error', 1011));
  });
  ws.on('close', () => end('closed', 1000));
  ws.on('error', () => end('error', 1011));
  void ctl.watch(id, changed).then(
    (stop) => {
      if (!stop) return end('the session closed', 1000);
      if (closed) return stop();
      unwatch = stop;
      void frame().catch(() => end('error', 1011));
    },
    () => end('the session could not be watched', 1011),
  );
}
