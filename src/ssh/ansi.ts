/**
 * Terminal output cleanup for PTY sessions: removes ANSI escape sequences (CSI, OSC, charset and
 * other ESC sequences), turns CRLF into LF and drops other control characters, so agents read
 * plain text. `AnsiStripper` keeps an unfinished escape sequence at a chunk end for the next chunk.
 */

// CSI (incl. private modes like bracketed paste), OSC (BEL or ST terminated), charset selection, other 2-byte ESC.
const ESCAPES =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\^_`a-z{|}~=>]|\x9b[0-?]*[ -/]*[@-~]/g;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

export function stripAnsi(s: string): string {
  return s.replace(ESCAPES, '').replace(/\r+\n/g, '\n').replace(CONTROLS, '');
}

export class AnsiStripper {
  private carry = '';

  /** Returns the cleaned text that is complete so far. */
  push(chunk: string): string {
    let s = this.carry + chunk;
    this.carry = '';
    // Hold back a trailing ESC sequence that may continue in the next chunk (bounded at 256 chars).
    const esc = s.lastIndexOf('\x1b');
    if (esc >= 0 && s.length - esc < 256) {
      const tail = s.slice(esc);
      ESCAPES.lastIndex = 0;
      const m = ESCAPES.exec(tail);
      ESCAPES.lastIndex = 0;
      if (!m || m.index !== 0) {
        this.carry = tail;
        s = s.slice(0, esc);
      }
    }
    // A CR at the very end may be the first half of CRLF.
    if (s.endsWith('\r')) {
      this.carry = '\r' + this.carry;
      s = s.slice(0, -1);
    }
    return stripAnsi(s);
  }

  flush(): string {
    const s = this.carry;
    this.carry = '';
    return stripAnsi(s);
  }
}
