/** Timestamps are stored as ISO-8601 UTC text on both databases, so they compare as strings. */
export function nowIso(): string {
  return new Date().toISOString();
}
