/**
 * Agent- and client-written text shown in an operator's terminal (audit records, memories,
 * proposals): nothing in it may move the cursor, hide text or reorder what is shown. Characters
 * that must not reach a terminal as they are: C0 and C1 controls (ANSI escapes), DEL, bidi
 * overrides and isolates, zero-width characters, line and paragraph separators, BOM.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const escape = (ch: string): string =>
  ch === '\n' ? '\\n' : ch === '\t' ? '\\t' : ch === '\r' ? '\\r' : `\\u{${ch.codePointAt(0)!.toString(16)}}`;

/** Text on one line, every unsafe character (newlines too) as a visible escape. */
export function visible(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * Multi-line text (a transcript, a script) for a terminal: newlines and tabs stay, every other
 * unsafe character becomes a visible escape (`--json` gives the exact text).
 */
export function block(text: string): string {
  return text.replace(UNSAFE, (ch) => (ch === '\n' || ch === '\t' ? ch : escape(ch)));
}

/** A knowledge item's versions as a table (memory, wiki): every text an agent wrote made visible. */
export function historyTable(
  versions: readonly { version: number; op: string; author: string; trust: string; at: string; note?: string }[],
  table: (rows: Record<string, string>[], columns: string[]) => string,
): string {
  return table(
    versions.map((v) => ({
      version: String(v.version),
      op: v.op,
      author: visible(v.author),
      trust: v.trust,
      at: v.at,
      note: visible(v.note ?? ''),
    })),
    ['version', 'op', 'author', 'trust', 'at', 'note'],
  );
}
