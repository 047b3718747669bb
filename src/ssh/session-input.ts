/**
 * What send() writes to the terminal for an input, and which inputs it refuses.
 *
 * INVARIANT: the bytes the guard judged are the bytes the shell reads, and lines judged as bash
 * are read by bash, not by a program one of them starts:
 * - A line longer than the terminal's canonical line buffer (4095 bytes) is refused: with no
 *   line editor, the kernel's line discipline silently drops the rest of a longer line and hands
 *   the shell the cut-down line (`rm -rf /srv/app/<4000 chars>/cache` would run as
 *   `rm -rf /srv/app/`).
 * - An input ending in an open line continuation is refused (the next send would be joined to it).
 * - Several lines written to the shell are wrapped in `{` … `}`: bash reads the whole group
 *   before it runs any of it, so when line 1 starts `python3`, line 2 has already been consumed
 *   by bash (as the bash line it was judged as) and never reaches python's prompt. A group that
 *   does not parse runs nothing at all. Input to another program is written as it is.
 */
import { GatehouseError } from '../core/index.js';
import { endsWithContinuation } from './split-lines.js';

/** Longest line (bytes, without its newline) a Linux terminal in canonical mode passes on whole. */
export const TTY_LINE_MAX_BYTES = 4095;

/** Largest input one send accepts (characters). */
export const SEND_MAX_CHARS = 1024 * 1024;

/** Throws invalid_input for an input that must not be written (see the header). */
export function checkInput(input: unknown): asserts input is string {
  if (typeof input !== 'string')
    throw new GatehouseError('invalid_input', 'input must be a string', { hint: 'pass text' });
  if (input.length > SEND_MAX_CHARS) {
    throw new GatehouseError('invalid_input', `input is ${input.length} characters (limit ${SEND_MAX_CHARS})`, {
      hint: 'send less at once, or copy a file with ssh_write_file',
    });
  }
  if (endsWithContinuation(input)) {
    throw new GatehouseError('invalid_input', 'input ends with an open line continuation (a trailing backslash)', {
      hint: 'send the whole command in one input',
    });
  }
  // The terminal maps CR to LF (ICRNL), so both end a line.
  for (const line of input.split(/[\r\n]/)) {
    const bytes = Buffer.byteLength(line, 'utf8');
    if (bytes > TTY_LINE_MAX_BYTES) {
      throw new GatehouseError(
        'invalid_input',
        `a line of the input is ${bytes} bytes; a terminal passes at most ${TTY_LINE_MAX_BYTES} bytes of one line and silently drops the rest`,
        {
          hint: 'split the command into shorter lines, or write long data to a file with ssh_write_file and use that',
        },
      );
    }
  }
}

/** The input as the terminal gets it: newline-terminated, multi-line shell input grouped. */
export function textToWrite(input: string, atShell: boolean): { text: string; grouped: boolean } {
  const text = input.endsWith('\n') || input.endsWith('\r') ? input : input + '\n';
  const lines = text.split(/\r\n|[\r\n]/).filter((l) => l.trim() !== '');
  if (!atShell || lines.length < 2) return { text, grouped: false };
  // INVARIANT: bash parses the whole group before running any of it.
  return { text: `{\n${text}}\n`, grouped: true };
}
