import { PostgresDialect, type CompiledQuery, type DatabaseConnection, type Driver } from 'kysely';
import { GatehouseError } from '../core/index.js';
import { isUnavailable } from './errors.js';

function typed(e: unknown): unknown {
  if (!isUnavailable(e)) return e;
  return new GatehouseError('store_unavailable', 'the database cannot be reached, so nothing was done', {
    hint: 'check that PostgreSQL is running and reachable; Gatehouse reconnects by itself once it is',
    cause: e,
  });
}

/**
 * The connection with every query's failure typed: a database that cannot be reached (down,
 * restarting, the network gone) is `store_unavailable` (HTTP 503) wherever the query was made, not
 * an internal error. Everything else about the connection is the driver's own.
 */
function typedConnection(c: DatabaseConnection): DatabaseConnection {
  // What Kysely calls on a connection; the driver's own methods get the original back (createDriver).
  return {
    executeQuery: <R>(q: CompiledQuery) =>
      c.executeQuery<R>(q).catch((e: unknown) => {
        throw typed(e);
      }),
    streamQuery: <R>(q: CompiledQuery, chunkSize?: number) => c.streamQuery<R>(q, chunkSize),
  };
}

/**
 * PostgreSQL for Kysely, with connection failures typed (see typedConnection). Connections are
 * handed back to the driver as it gave them: the wrapper only covers what queries see. Used for every
 * PostgreSQL store, so every module's queries fail the same typed way when the database is gone.
 */
export class TypedErrorsPostgresDialect extends PostgresDialect {
  override createDriver(): Driver {
    const d = super.createDriver();
    const originals = new WeakMap<object, DatabaseConnection>();
    return new Proxy(d, {
      get(target, prop, receiver) {
        if (prop === 'acquireConnection')
          return async (): Promise<DatabaseConnection> => {
            let c: DatabaseConnection;
            try {
              c = await target.acquireConnection();
            } catch (e) {
              throw typed(e);
            }
            const wrapped = typedConnection(c);
            originals.set(wrapped, c);
            return wrapped;
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        // Every other driver method (transactions, savepoints, release) gets the driver's own
        // connection back, and its failures typed the same way.
        return (first: unknown, ...rest: unknown[]): unknown => {
          const arg = (typeof first === 'object' && first !== null && originals.get(first)) || first;
          const r: unknown = (v as (...a: unknown[]) => unknown).call(target, arg, ...rest);
          return r instanceof Promise
            ? r.catch((e: unknown) => {
                throw typed(e);
              })
            : r;
        };
      },
    });
  }
}
