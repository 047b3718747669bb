/**
 * Text helpers every module shares: the one marker that replaces a scrubbed secret, and the one
 * way to shorten text (issue 22 item 1: there were three `clip` functions with three markers, each
 * slicing UTF-16 and so able to cut a surrogate pair in two).
 */

/** What a scrubbed secret is replaced with, everywhere (tool results, streams, headers, logs). */
export const REDACTED = '[REDACTED]';

/** Appended by `truncateText` when it shortens text. */
export const TRUNCATION_MARKER = '…';

/**
 * The longest prefix of `s` with at most `max` UTF-16 code units that does not end inside a
 * surrogate pair. Use it where a separate flag (`truncated: true`) says that text was cut.
 */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, Math.floor(max));
  // INVARIANT: never split a surrogate pair (a lone surrogate is not valid UTF-8 and breaks hashing).
  if (end > 0 && isHighSurrogate(s.charCodeAt(end - 1)) && isLowSurrogate(s.charCodeAt(end))) end -= 1;
  return s.slice(0, end);
}

/**
 * Shortens `s` to at most `max` UTF-16 code units INCLUDING the marker, cutting on a code-point
 * boundary; text that fits is returned unchanged. The one text truncation: use it for anything
 * shown to a person or stored (summaries, audit fields, error details).
 */
export function truncateText(s: string, max: number, marker: string = TRUNCATION_MARKER): string {
  if (s.length <= max) return s;
  if (max <= marker.length) return cutText(marker, Math.max(0, max));
  return cutText(s, max - marker.length) + marker;
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
