import { log } from '../core/index.js';
import { securityHeaders } from './http-checks.js';
import type { Call, ConsoleKit } from './kit.js';

/** Default longest life of one stream (the browser reconnects, resuming from its last event id). */
export const STREAM_MAX_MS = 5 * 60_000;
/** A comment line this often keeps proxies from closing a quiet stream, and re-checks the session. */
const HEARTBEAT_MS = 15_000;
/** What the browser waits before reconnecting after the server ended a stream. */
const RETRY_MS = 1000;
/** Unsent bytes a stream may hold before it is closed (a reader that does not read). */
const MAX_BUFFERED = 1024 * 1024;

/** An open server-sent events stream to one console page. */
export interface LiveStream {
  /** Sends one event; false once the stream is closed. */
  send(event: string, id: string, data: unknown): Promise<boolean>;
  /** Resolves when the stream closes (the client left, the session ended, or its time was up). */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** The event id the browser last saw (`Last-Event-ID` on a reconnect, else `?after=` from the page). */
export function lastEventId(c: Call): string | null {
  const h = c.req.headers['last-event-id'];
  if (typeof h === 'string') return h;
  return c.ctx.url.searchParams.get('after');
}

/**
 * Opens a `text/event-stream` answer on a checked console GET.
 *
 * INVARIANTS: the stream lives only as long as its session: before every event and at every
 * heartbeat the session is checked again (without counting as activity, so an open tab alone
 * never keeps an idle session alive), and logout, expiry or a revoked token end the stream with
 * an `ended` event; event ids and names never hold a line break (they come from this code, and
 * data is JSON, which has none).
 */
export function openStream(kit: ConsoleKit, c: Call): LiveStream | null {
  const { res, req } = c;
  const idHash = c.session!.idHash;
  // Bounded: a few streams per session and a cap for the process (each holds a connection).
  const release = kit.holdStream(idHash);
  if (!release) {
    res.writeHead(429, {
      ...securityHeaders(c.nonce),
      'content-type': 'text/plain; charset=utf-8',
      'retry-after': '5',
    });
    res.end('Too many live streams for this session: close some console tabs.');
    return null;
  }
  res.writeHead(200, {
    ...securityHeaders(c.nonce),
    'content-type': 'text/event-stream; charset=utf-8',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  res.write(`retry: ${RETRY_MS}\n\n`);
  let closed = false;
  let resolveClosed!: () => void;
  const closedP = new Promise<void>((r) => (resolveClosed = r));
  const close = () => {
    if (closed) return;
    closed = true;
    release();
    clearInterval(beat);
    clearTimeout(max);
    res.end();
    resolveClosed();
  };
  const live = async (): Promise<boolean> => {
    if (closed) return false;
    const ok = await (await kit.sessions()).stillLive(idHash).catch((e: unknown) => {
      log.debug('console stream: session check failed', { err: e });
      return false;
    });
    if (!ok && !closed) {
      res.write('event: ended\ndata: {"reason":"session"}\n\n');
      close();
    }
    return ok && !closed;
  };
  const beat = setInterval(() => {
    void live().then((ok) => ok && res.write(': keep-alive\n\n'));
  }, HEARTBEAT_MS);
  beat.unref();
  const max = setTimeout(close, kit.opts.streamMaxMs ?? STREAM_MAX_MS);
  max.unref();
  req.on('close', close);
  res.on('error', close);
  return {
    closed: closedP,
    isClosed: () => closed,
    send: async (event, id, data) => {
      if (!(await live())) return false;
      // Backpressure: wait for the client to read; one that holds too much unread is cut off
      // (it reconnects with its last event id and resumes).
      if (!res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`)) {
        if (res.writableLength > MAX_BUFFERED) {
          close();
          return false;
        }
        await Promise.race([new Promise((r) => res.once('drain', r)), closedP]);
      }
      return !closed;
    },
  };
}

/**
 * Runs `look` every `pollMs` while the stream is open (one at a time), until it closes. `look`
 * returning true asks to look again at once (a full page: more is waiting).
 */
export async function pollWhileOpen(stream: LiveStream, pollMs: number, look: () => Promise<boolean>): Promise<void> {
  while (!stream.isClosed()) {
    let again = false;
    try {
      again = await look();
    } catch (e) {
      log.warn('console stream: reading changes failed', { err: e });
    }
    if (again) continue;
    await Promise.race([stream.closed, new Promise((r) => setTimeout(r, pollMs).unref())]);
  }
}
