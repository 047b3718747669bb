import type { OutputScrub } from '../core/index.js';

/**
 * Collects stdout+stderr up to a shared byte cap, plus the scrubber's hold-back: the command is
 * stopped past that, and what the agent reads is scrubbed first and cut at the cap after.
 */
export class OutputCap {
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private total = 0;
  private readonly keep: number;
  truncated = false;
  constructor(
    private readonly cap: number,
    private readonly onOutput: ((stream: 'stdout' | 'stderr', chunk: Buffer) => void) | undefined,
    private readonly onOverflow: () => void,
    private readonly output: OutputScrub | undefined,
  ) {
    this.keep = cap + (output?.holdBack() ?? 0);
  }
  push(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.keep - this.total;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    if (part.length > 0) {
      (stream === 'stdout' ? this.out : this.err).push(part);
      this.total += part.length;
      this.onOutput?.(stream, part);
    }
    if (chunk.length > room) {
      this.truncated = true;
      this.onOverflow();
    }
  }
  rawStderrTail(): string {
    return Buffer.concat(this.err).subarray(-4096).toString('utf8');
  }
  /**
   * What the agent reads: each stream scrubbed, then cut so both fit the cap together (stdout
   * first). INVARIANT: a stream that was cut has its scrubber's held tail dropped, never shown.
   */
  text(): { stdout: string; stderr: string; truncated: boolean } {
    const out = Buffer.concat(this.out);
    const err = Buffer.concat(this.err);
    const ended = !this.truncated;
    if (!this.output) {
      const o = out.subarray(0, this.cap);
      const e = err.subarray(0, Math.max(0, this.cap - o.length));
      return {
        stdout: o.toString('utf8'),
        stderr: e.toString('utf8'),
        truncated: this.truncated || o.length + e.length < out.length + err.length,
      };
    }
    const o = this.output.capped(out, this.cap, ended);
    const e = this.output.capped(err, Math.max(0, this.cap - o.output.length), ended);
    return {
      stdout: o.output.toString('utf8'),
      stderr: e.output.toString('utf8'),
      truncated: o.truncated || e.truncated,
    };
  }
}
