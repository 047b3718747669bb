import { GatehouseError } from '../core/index.js';

/** At most this many words of a query are used (the rest are ignored). */
export const MAX_QUERY_WORDS = 16;
/** A longer word is cut: no stored word is longer in practice, and it bounds the query's size. */
const MAX_WORD_CHARS = 64;

/**
 * The words of a search query: runs of letters and digits, lower-cased, the same way both stores
 * split text (SQLite's unicode61 tokenizer and PostgreSQL's `simple` configuration both treat
 * everything else as a separator and fold case). Throws `invalid_input` when there are none.
 */
export function queryWords(input: string): string[] {
  const words = (input.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).map((w) =>
    [...w].slice(0, MAX_WORD_CHARS).join(''),
  );
  const unique = [...new Set(words)].slice(0, MAX_QUERY_WORDS);
  if (unique.length === 0) {
    throw new GatehouseError('invalid_input', 'the search query has no words to look for', {
      hint: 'search for one or more words (letters or digits)',
    });
  }
  return unique;
}

/**
 * An FTS5 MATCH expression that finds items holding every word. Built from quoted words only,
 * never from the raw input: FTS5 has its own query language (NEAR, column filters, `-`, `*`,
 * parentheses) that raw input would reach, and a stray quote is a syntax error. The words hold
 * only letters and digits, so they cannot close their quotes.
 */
export function ftsMatch(words: readonly string[]): string {
  return words.map((w) => `"${w}"`).join(' ');
}

/**
 * The text given to PostgreSQL's `websearch_to_tsquery('simple', …)`: the same words, space
 * separated (all of them must match, as with FTS5). websearch_to_tsquery never fails on its input.
 */
export function websearchText(words: readonly string[]): string {
  return words.join(' ');
}

const WORD = /[\p{L}\p{N}]+/gu;
const wordsOf = (text: string): string[] => text.toLowerCase().match(WORD) ?? [];

/** Field weights: a word in the title says most about an item, one in the body least. */
const WEIGHTS = { key: 10, title: 10, tags: 4, summary: 4, body: 1 } as const;

/**
 * How well an item's own text matches the query words: per field, the query words it holds
 * against its length, weighted (key and title above tags and summary above body). The short
 * fields count their words; the body is measured by its length in characters (about six to a
 * word), so a long page costs one native scan, not a word list. Computed from the item alone,
 * never from statistics over other items, so it tells nothing about what other scopes hold.
 * Returns a scorer for one query (its word pattern is built once).
 */
export function ranker(
  words: readonly string[],
): (item: { key: string; title: string; tags: string; summary: string; body: string }) => number {
  const want = new Set(words);
  // A query word as a whole token: not preceded or followed by another letter or digit. The
  // words hold only letters and digits, so they need no escaping.
  const token = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.join('|')})(?![\\p{L}\\p{N}])`, 'gu');
  return (item) => {
    let score = 0;
    for (const field of ['key', 'title', 'tags', 'summary'] as const) {
      const ws = wordsOf(item[field]);
      if (ws.length === 0) continue;
      let hits = 0;
      for (const w of ws) if (want.has(w)) hits++;
      score += (WEIGHTS[field] * hits) / Math.sqrt(ws.length);
    }
    if (item.body.length > 0) {
      const body = item.body.toLowerCase();
      token.lastIndex = 0;
      let hits = 0;
      while (token.exec(body)) hits++;
      score += (WEIGHTS.body * hits) / Math.sqrt(Math.max(1, body.length / 6));
    }
    return score;
  };
}

/** A short extract of `body` around the first query word it holds, with the query words in [brackets]. */
export function snippet(body: string, words: readonly string[], width = 120): string {
  const want = new Set(words);
  let at = -1;
  for (const m of body.matchAll(WORD)) {
    if (want.has(m[0].toLowerCase())) {
      at = m.index;
      break;
    }
  }
  let start = at < 0 ? 0 : Math.max(0, at - Math.floor(width / 3));
  if (/[\uDC00-\uDFFF]/.test(body[start] ?? '')) start++;
  let end = Math.min(body.length, start + width);
  // Never cut a surrogate pair in two.
  if (end < body.length && /[\uD800-\uDBFF]/.test(body[end - 1] ?? '')) end--;
  const part = body.slice(start, end).replace(WORD, (w) => (want.has(w.toLowerCase()) ? `[${w}]` : w));
  return `${start > 0 ? '…' : ''}${part}${end < body.length ? '…' : ''}`;
}
