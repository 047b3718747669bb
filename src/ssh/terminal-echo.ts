/**
 * Turns a session terminal's echo on or off from a separate channel, for a person taking over.
 *
 * Agents' sessions run without echo (their output is only what programs print), but a person
 * typing into a terminal needs to see what they type. Writing `stty echo` into the session would
 * be input to the shell (judged, recorded, and wrong if a program holds the terminal), so the
 * setting is changed beside it: a short exec on the session's own connection runs `stty` on the
 * shell's terminal (`/proc/PID/fd/0`), which changes the terminal's settings and nothing else.
 *
 * Callers change echo only while the shell itself holds the terminal: a program reading a password
 * (sudo) turns echo off for its prompt, and turning it back on under it would show the password.
 */
import type { Client } from 'ssh2';

/** Sets echo on the terminal of shell `pid`; resolves true when `stty` said it did, false otherwise. */
export function setTerminalEcho(client: Client, pid: number, on: boolean, timeoutMs: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    try {
      client.exec(`stty ${on ? '' : '-'}echo < /proc/${pid}/fd/0`, (err, ch) => {
        if (err) return done(false);
        ch.on('data', () => {});
        ch.stderr.on('data', () => {});
        ch.on('error', () => done(false));
        ch.on('exit', (code: number | null) => done(code === 0));
        ch.on('close', () => done(false));
      });
    } catch {
      done(false);
    }
  });
}
