/**
 * Whether a database error is a unique (or primary key) violation, on either store: PostgreSQL's
 * SQLSTATE 23505, SQLite's extended codes. Callers turn it into their own typed error (a name
 * taken by a process that got there first) or retry; anything else stays an error.
 */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
