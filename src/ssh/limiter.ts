/**
 * FIFO counting semaphore: at most `limit` holders, waiters served in arrival order. Every wait
 * ends in a typed error (queue full, aborted), never a silent hang past the caller's signal.
 */
import { GatehouseError } from '../core/index.js';

interface Waiter {
  grant: () => void;
  reject: (e: Error) => void;
}

export class FifoLimiter {
  private active = 0;
  private peak = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxQueue: number,
    private readonly label: string,
  ) {}

  get stats(): { active: number; queued: number; peak: number; limit: number } {
    return { active: this.active, queued: this.queue.length, peak: this.peak, limit: this.limit };
  }

  /** Resolves with a release function (idempotent). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(cancelledError(this.label));
    const makeRelease = () => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.active--;
        this.pump();
      };
    };
    if (this.active < this.limit && this.queue.length === 0) {
      this.take();
      return Promise.resolve(makeRelease());
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new GatehouseError(
          'limit_exceeded',
          `${this.label}: ${this.queue.length} calls already waiting for a channel`,
          {
            hint: 'retry later or raise the queue limit',
          },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(cancelledError(this.label));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.take();
          resolve(makeRelease());
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Fails every waiter (pool closing). */
  rejectAll(err: Error): void {
    for (const w of this.queue.splice(0)) w.reject(err);
  }

  private take(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  private pump(): void {
    while (this.active < this.limit && this.queue.length > 0) this.queue.shift()!.grant();
  }
}

function cancelledError(label: string): GatehouseError {
  return new GatehouseError('cancelled', `${label}: cancelled while waiting for a channel`, {
    hint: 'nothing ran on the target',
  });
}
