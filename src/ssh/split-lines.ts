/**
 * The command lines in an input sent to an interactive session, for the gate to guard one by
 * one before the input is written. Lines joined by a trailing backslash are one command (that is
 * how the shell reads them). Blank lines carry no command and are dropped. Nothing is trimmed from
 * inside a line, so the gate sees exactly what the shell will read; a line the guard cannot
 * parse (an open quote, half a heredoc) must be denied by the guard, never allowed.
 *
 * A continuation left open at the end of the input keeps its backslash (the gate sees exactly
 * that text), and SshSessionManager.send refuses such input: otherwise `rm -rf \` in one send and
 * `/` in the next would be guarded as two harmless halves while the shell joins them.
 */
export function endsWithContinuation(input: string): boolean {
  const text = normalize(input);
  return (/\\+$/.exec(text)?.[0].length ?? 0) % 2 === 1;
}

/** CRLF/CR to LF, and one final newline removed (send() terminates the input with one). */
function normalize(input: string): string {
  return input.replace(/\r\n?/g, '\n').replace(/\n$/, '');
}

export function splitInputLines(input: string): string[] {
  const raw = normalize(input).split('\n');
  const out: string[] = [];
  let acc: string | undefined;
  for (const line of raw) {
    const trailing = /\\+$/.exec(line)?.[0].length ?? 0;
    const continues = trailing % 2 === 1;
    const part = continues ? line.slice(0, -1) : line;
    acc = acc === undefined ? part : acc + part;
    if (continues) continue;
    if (acc.trim() !== '') out.push(acc);
    acc = undefined;
  }
  if (acc !== undefined && acc.trim() !== '') out.push(acc + '\\');
  return out;
}
