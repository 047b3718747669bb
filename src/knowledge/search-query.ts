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
