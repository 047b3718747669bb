import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import type { Store } from '../../src/store/index.js';
import type { StoreFixture } from '../helpers/stores.js';

/** One audit log on one store fixture for a describe block: opened before its tests, closed after. */
export interface AuditHarness {
  readonly key: Buffer;
  /** Set once the describe block's first beforeAll has run. */
  readonly store: Store;
  readonly audit: AuditLog;
  /**
   * Empties the log and its blobs, so a test sees only the records it makes, and opens a new log
   * (the old one keeps its chain's head between batches, so it would carry on after the records
   * deleted under it, which verify rightly reports as removed).
   */
  clear(): Promise<void>;
}

/** Call inside a describe: registers the hooks and hands back the store and log they open. */
export function auditHarness(fx: StoreFixture): AuditHarness {
  const key = randomBytes(32);
  let store: Store | undefined;
  let audit: AuditLog | undefined;
  beforeAll(async () => {
    store = await fx.open();
    audit = new AuditLog(store, key);
  });
  afterAll(async () => {
    await audit?.close();
    await store?.close();
    await fx.cleanup();
  });
  return {
    key,
    get store() {
      return store!;
    },
    get audit() {
      return audit!;
    },
    async clear() {
      await audit?.close();
      await store!.db.deleteFrom('audit_log').execute();
      await store!.db.deleteFrom('audit_blobs').execute();
      audit = new AuditLog(store!, key);
    },
  };
}
