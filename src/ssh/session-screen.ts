/**
 * What a person watching an interactive session sees: the terminal's current screen, kept by a
 * headless terminal emulator (@xterm/headless) fed with the session's raw output, so someone who
 * joins late gets the screen as it is now (cursor movement, carriage returns, backspaces and
 * line wrapping applied), never a replay of every byte since the session opened.
 *
 * INVARIANT: a view leaves this module scrubbed. The emulator holds the raw output (as the
 * session's connection already does); `view()` renders the visible text and scrubs it as one
 * text, with wrapped rows joined into their logical line first, so a secret that wraps at the
 * right edge or was drawn with cursor moves is scrubbed as it appears, not byte by byte.
 */
import { createRequire } from 'node:module';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';

// @xterm/headless is CommonJS; loaded when the first session opens (the SSH modules are lazy).
const { Terminal } = createRequire(import.meta.url)('@xterm/headless') as typeof import('@xterm/headless');

/** A rendered, scrubbed screen. */
export interface ScreenView {
  cols: number;
  rows: string[];
  /** The cursor's column and row within `rows`. */
  cursor: { x: number; y: number };
}

export class SessionScreen {
  readonly #term: HeadlessTerminal;
  readonly #changed: () => void;
  #pending = 0;

  /** @param changed called after written output has been applied (views are then current) */
  constructor(cols: number, rows: number, changed: () => void) {
    this.#term = new Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
    this.#changed = changed;
  }

  get cols(): number {
    return this.#term.cols;
  }

  get rows(): number {
    return this.#term.rows;
  }

  /** Applies raw (decoded, unscrubbed) output; `changed` runs once it is on the screen. */
  write(text: string): void {
    if (!text) return;
    this.#pending++;
    this.#term.write(text, () => {
      if (--this.#pending === 0) this.#changed();
    });
  }

  /** The visible screen, scrubbed by `scrub` (a whole-text scrubber). */
  view(scrub: (text: string) => string): ScreenView {
    const b = this.#term.buffer.active;
    const cols = this.#term.cols;
    // Logical lines: rows the emulator wrapped are joined back before scrubbing.
    const logical: { text: string; firstRow: number }[] = [];
    for (let y = 0; y < this.#term.rows; y++) {
      const line = b.getLine(b.viewportY + y);
      const text = line?.translateToString(false) ?? '';
      const last = logical.at(-1);
      if (line?.isWrapped && last) last.text += text;
      else logical.push({ text, firstRow: y });
    }
    const scrubbed = scrub(logical.map((l) => l.text.trimEnd()).join('\n')).split('\n');
    const rows: string[] = [];
    let cursorY = b.cursorY;
    for (const [i, text] of scrubbed.entries()) {
      const first = logical[i]?.firstRow ?? rows.length;
      // A scrubbed line may be shorter or longer than the original: rows shift by the difference.
      if (first <= b.cursorY) cursorY = b.cursorY + (rows.length - first);
      if (text.length <= cols) rows.push(text);
      else for (let at = 0; at < text.length; at += cols) rows.push(text.slice(at, at + cols));
    }
    const overflow = Math.max(0, rows.length - this.#term.rows);
    return {
      cols,
      rows: rows.slice(overflow),
      cursor: { x: Math.min(b.cursorX, cols - 1), y: Math.max(0, Math.min(cursorY - overflow, this.#term.rows - 1)) },
    };
  }

  dispose(): void {
    this.#term.dispose();
  }
}
