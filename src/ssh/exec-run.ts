/**
 * Runs one command on an open connection: one exec channel, bounded output, a time limit, and
 * cancellation that really stops the remote process (TERM, then KILL, then channel close).
 *
 * INVARIANT: every call ends in a result or a typed error. A timeout or an abort always resolves
 * (with timedOut/cancelled set), even when the server ignores signal requests and keeps the
 * channel open: after TERM, KILL and a channel close, the call stops waiting.
 */
import type { Client, ClientChannel } from 'ssh2';
import { GatehouseError, type OutputScrub } from '../core/index.js';
import { sendChannelSignal } from './channel-signal.js';
import type { ExecOptions, ExecResult } from './types.js';

/** The channel could not be opened; `connectionDead` says whether a fresh connection may help. */
export class ChannelOpenError extends Error {
  constructor(
    readonly connectionDead: boolean,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecRunConfig {
  killGraceMs: number;
  defaultTimeoutS: number;
  defaultMaxOutputBytes: number;
  /** Subscribe to connection loss; returns an unsubscribe function. */
  onLost: (cb: () => void) => () => void;
  isAlive: () => boolean;
}

class Capture {
  private readonly chunks: Buffer[] = [];
  bytes = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(d: Buffer): void {
    const room = this.max - this.bytes;
    if (room <= 0) {
      if (d.length > 0) this.truncated = true;
      return;
    }
    if (d.length > room) {
      this.chunks.push(d.subarray(0, room));
      this.bytes += room;
      this.truncated = true;
    } else {
      this.chunks.push(d);
      this.bytes += d.length;
    }
  }
  /**
   * The stream as the agent reads it, at most `limit` bytes. INVARIANT: scrubbed before it is cut
   * (the capture kept `holdBack` bytes past the limit so a secret straddling it is seen whole).
   */
  text(limit: number, output: OutputScrub | undefined): { text: string; truncated: boolean } {
    const raw = Buffer.concat(this.chunks);
    if (!output) {
      const cut = raw.length > limit;
      return { text: (cut ? raw.subarray(0, limit) : raw).toString('utf8'), truncated: this.truncated || cut };
    }
    const r = output.capped(raw, limit, !this.truncated);
    return { text: r.output.toString('utf8'), truncated: r.truncated };
  }
}

export function validTimeoutMs(timeoutS: number | undefined, fallbackS: number): number {
  const s = timeoutS ?? fallbackS;
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0 || s > 86_400) {
    throw new GatehouseError('invalid_input', 'timeout_s must be a number of seconds between 0 and 86400', {
      hint: 'pass a positive timeout',
    });
  }
  return Math.round(s * 1000);
}

export function runExec(
  client: Client,
  targetName: string,
  command: string,
  opts: ExecOptions,
  cfg: ExecRunConfig,
): Promise<ExecResult> {
  const timeoutMs = validTimeoutMs(opts.timeoutS, cfg.defaultTimeoutS);
  const maxOut = opts.maxOutputBytes ?? cfg.defaultMaxOutputBytes;
  const progressEvery = opts.progressIntervalMs ?? 1000;
  const started = performance.now();

  return new Promise<ExecResult>((resolve, reject) => {
    const onOpen = (err: Error | undefined, stream: ClientChannel) => {
      if (err) {
        reject(new ChannelOpenError(!cfg.isAlive(), `channel open failed on SSH target "${targetName}"`));
        return;
      }
      const keep = maxOut + (opts.output?.holdBack() ?? 0);
      const out = new Capture(keep);
      const errOut = new Capture(keep);
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      let gotExit = false;
      let stopping: 'timeout' | 'cancel' | undefined;
      let lost = false;
      let finished = false;
      let lastProgress = 0;
      const timers: NodeJS.Timeout[] = [];

      const progress = () => {
        if (!opts.onProgress) return;
        const now = performance.now();
        if (now - lastProgress < progressEvery) return;
        lastProgress = now;
        try {
          opts.onProgress(out.bytes + errOut.bytes);
        } catch {
          /* a failing progress sink must not break the command */
        }
      };

      const finish = () => {
        if (finished) return;
        finished = true;
        for (const t of timers) clearTimeout(t);
        opts.signal?.removeEventListener('abort', onAbort);
        unsubscribe();
        if (lost && !gotExit && !stopping) {
          reject(
            new GatehouseError(
              'ssh_error',
              `connection to SSH target "${targetName}" was lost while the command ran; it may or may not have completed`,
              {
                hint: 'check the target state before retrying; the next call reconnects',
              },
            ),
          );
          return;
        }
        try {
          const stdout = out.text(maxOut, opts.output);
          const stderr = errOut.text(maxOut, opts.output);
          const result: ExecResult = {
            exitCode,
            signal: exitSignal,
            stdout: stdout.text,
            stderr: stderr.text,
            truncated: stdout.truncated || stderr.truncated,
            durationMs: Math.round((performance.now() - started) * 100) / 100,
          };
          if (stopping === 'timeout') result.timedOut = true;
          if (stopping === 'cancel') result.cancelled = true;
          resolve(result);
        } catch (e) {
          reject(e);
        }
      };

      const stop = (reason: 'timeout' | 'cancel') => {
        if (stopping || finished) return;
        stopping = reason;
        // TERM lets the command clean up; KILL follows; closing the channel ends our wait even
        // when the server ignores signal requests.
        sendChannelSignal(stream, 'TERM');
        timers.push(
          setTimeout(() => {
            sendChannelSignal(stream, 'KILL');
            timers.push(
              setTimeout(() => {
                try {
                  stream.close();
                } catch {
                  /* already closed */
                }
                timers.push(setTimeout(finish, 2000));
              }, cfg.killGraceMs),
            );
          }, cfg.killGraceMs),
        );
      };
      const onAbort = () => stop('cancel');
      const unsubscribe = cfg.onLost(() => {
        lost = true;
        finish();
      });

      stream.on('data', (d: Buffer) => {
        out.push(d);
        progress();
      });
      stream.stderr.on('data', (d: Buffer) => {
        errOut.push(d);
        progress();
      });
      stream.on('exit', (code: number | null, sig?: string) => {
        gotExit = true;
        if (typeof code === 'number') exitCode = code;
        else if (typeof sig === 'string') exitSignal = sig.replace(/^SIG/, '');
      });
      stream.on('error', () => {
        /* surfaced through close / connection loss */
      });
      stream.on('close', finish);

      if (opts.stdin !== undefined) stream.end(opts.stdin);
      else stream.end();

      timers.push(setTimeout(() => stop('timeout'), timeoutMs));
      if (opts.signal) {
        if (opts.signal.aborted) stop('cancel');
        else opts.signal.addEventListener('abort', onAbort, { once: true });
      }
    };
    try {
      client.exec(command, onOpen);
    } catch {
      reject(new ChannelOpenError(true, `SSH target "${targetName}" is not connected`));
    }
  });
}
