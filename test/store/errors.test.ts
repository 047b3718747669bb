import { describe, expect, it } from 'vitest';
import { isUniqueViolation, isUnavailable } from '../../src/store/errors.js';

describe('store error classes', () => {
  it('a unique violation on either store', () => {
    expect(isUniqueViolation({ code: '23505' })).toBe(true);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_UNIQUE' })).toBe(true);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })).toBe(true);
    for (const other of [{ code: '23503' }, { code: 'SQLITE_CONSTRAINT_NOTNULL' }, null, 'x', {}])
      expect(isUniqueViolation(other)).toBe(false);
  });

  it('a database that cannot be reached, as opposed to a query that failed', () => {
    for (const down of [
      { code: 'ECONNREFUSED' },
      { code: 'ECONNRESET' },
      { code: '57P01' }, // admin shutdown
      { code: '57P03' }, // starting up
      { code: '08006' }, // connection failure
      { code: '53300' }, // too many connections
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ])
      expect(isUnavailable(down), JSON.stringify(down)).toBe(true);
    for (const failed of [
      { code: '42P01' }, // undefined table
      { code: '23505' },
      { code: '22P02' }, // bad input
      new Error('syntax error at or near "SELEC"'),
      null,
      'ECONNREFUSED',
    ])
      expect(isUnavailable(failed), JSON.stringify(failed)).toBe(false);
  });
});
