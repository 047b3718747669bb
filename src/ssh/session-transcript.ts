/**
 * A session's transcript for the audit log.
 *
 * INVARIANT: what ran is never dropped. Every input, signal and event is kept whole, whatever the
 * size of the output around it; only output counts against the budget, and output over the budget
 * is replaced by an event that says where and how much was left out. Every input, signal and
 * event is also handed to `onRecord` the moment it happens, so the audit log has it even if the
 * gateway dies before the session closes.
 *
 * Everything stored here is already scrubbed (output by the session's stream scrubber, inputs and
 * events by a one-shot scrubber before they are recorded).
 */
import type { Foreground } from './session-foreground.js';
import { cutText } from '../core/index.js';

export interface TranscriptEntry {
  at: string;
  dir: 'in' | 'out' | 'signal' | 'event';
  data: string;
  /** For 'in': what held the terminal when the input was written (the shell, or a program). */
  foreground?: Foreground;
}

export interface SessionTranscript {
  id: string;
  owner: string;
  target: string;
  openedAt: string;
  closedAt?: string;
  closeReason?: string;
  entries: TranscriptEntry[];
  /** True when some output was left out (inputs, signals and events never are). */
  truncated: boolean;
  /** Characters of output left out; each place is marked by an 'event' entry. */
  outputDroppedChars: number;
}

/** One input, signal or event, delivered as it happens (for per-send audit records). */
export interface SessionRecord {
  session: string;
  owner: string;
  target: string;
  /** Position in the session's transcript (0-based), so records and transcript line up. */
  seq: number;
  at: string;
  dir: 'in' | 'signal' | 'event';
  data: string;
  foreground?: Foreground;
}

export interface TranscriptLimits {
  /** Output kept in total (characters). */
  outputMaxChars: number;
  /** Output kept between two inputs (characters), so one flood cannot use the whole budget. */
  outputMaxCharsPerTurn: number;
}

export class TranscriptRecorder {
  readonly entries: TranscriptEntry[] = [];
  private outputChars = 0;
  private turnChars = 0;
  private dropped = 0;
  /** The event entry counting the output dropped in the current run, if any. */
  private dropEntry: { entry: TranscriptEntry; chars: number } | undefined;

  constructor(
    private readonly limits: TranscriptLimits,
    private readonly ident: { session: string; owner: string; target: string },
    private readonly onRecord?: (r: SessionRecord) => void,
  ) {}

  get droppedChars(): number {
    return this.dropped;
  }

  /** Records an input, signal or event: always, whole. */
  note(dir: 'in' | 'signal' | 'event', data: string, foreground?: Foreground): void {
    const entry: TranscriptEntry = { at: new Date().toISOString(), dir, data, ...(foreground ? { foreground } : {}) };
    this.entries.push(entry);
    this.dropEntry = undefined;
    if (dir === 'in') this.turnChars = 0;
    if (this.onRecord) {
      this.onRecord({
        ...this.ident,
        seq: this.entries.length - 1,
        at: entry.at,
        dir,
        data,
        ...(foreground ? { foreground } : {}),
      });
    }
  }

  /** Records output, within the budgets. */
  output(text: string): void {
    if (!text) return;
    const room = Math.min(
      this.limits.outputMaxChars - this.outputChars,
      this.limits.outputMaxCharsPerTurn - this.turnChars,
    );
    const keep = room > 0 ? cutText(text, room) : '';
    if (keep) {
      this.outputChars += keep.length;
      this.turnChars += keep.length;
      const last = this.entries[this.entries.length - 1];
      // Consecutive output reads as text, not as packets.
      if (last && last.dir === 'out' && !this.dropEntry) last.data += keep;
      else this.entries.push({ at: new Date().toISOString(), dir: 'out', data: keep });
    }
    const lost = text.length - keep.length;
    if (lost > 0) {
      this.dropped += lost;
      if (!this.dropEntry) {
        const entry: TranscriptEntry = { at: new Date().toISOString(), dir: 'event', data: '' };
        this.entries.push(entry);
        this.dropEntry = { entry, chars: 0 };
      }
      this.dropEntry.chars += lost;
      this.dropEntry.entry.data = `output not recorded: ${this.dropEntry.chars} characters (transcript output budget reached)`;
    }
  }

  snapshot(meta: {
    id: string;
    owner: string;
    target: string;
    openedAt: string;
    closedAt?: string;
    closeReason?: string;
  }): SessionTranscript {
    return {
      ...meta,
      entries: this.entries.map((e) => ({ ...e })),
      truncated: this.dropped > 0,
      outputDroppedChars: this.dropped,
    };
  }
}
