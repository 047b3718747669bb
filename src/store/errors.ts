/**
 * Whether a database error is a unique (or primary key) violation, on either store: PostgreSQL's
 * SQLSTATE 23505, SQLite's extended codes. Callers turn it into their own typed error (a name
 * taken by a process that got there first) or retry; anything else stays an error.
 */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

// SQLSTATE classes and codes that mean the database is not there to answer (not that the query
// was wrong): connection exceptions, and the server shutting down, crashed or starting up.
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
// The pg client's own connection failures carry no code.
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed)/;

/** Whether a PostgreSQL driver error means the database cannot be reached (rather than that a query failed). */
export function isUnavailable(e: unknown): boolean {
  const x = e as { code?: unknown; message?: unknown } | null;
  if (!x || typeof x !== 'object') return false;
  if (typeof x.code === 'string' && (UNAVAILABLE_SQLSTATE.test(x.code) || UNAVAILABLE_ERRNO.has(x.code))) return true;
  return typeof x.message === 'string' && UNAVAILABLE_MESSAGE.test(x.message);
}
