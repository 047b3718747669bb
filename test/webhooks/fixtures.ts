/**
 * What the webhook ingest tests share: a fixed clock, a keyring stand-in, Standard Webhooks
 * signing, and one store's repository, queue and ingest with an audit log that collects records.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Store } from '../../src/store/index.js';
import {
  EndpointRepository,
  WebhookIngest,
  WebhookQueue,
  type EndpointKeys,
  type IngestDeps,
} from '../../src/webhooks/index.js';

export const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
export const T = Math.floor(NOW / 1000);
export const REMOTE = '203.0.113.9';

/** Stable internal keys per purpose, distinct per test file (`label`). */
export const testKeys = (label: string): EndpointKeys => ({
  internalKey: async (purpose) => createHash('sha256').update(`${label}|${purpose}`).digest(),
});

export const b64 = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest('base64');
/** A Standard Webhooks secret (`whsec_` + base64 of the key bytes). */
export const swSecret = (seed: string) => `whsec_${createHash('sha256').update(seed).digest().toString('base64')}`;
export const swSign = (secret: string, id: string, ts: number | string, body: string) =>
  `v1,${b64(Buffer.from(secret.slice('whsec_'.length), 'base64'), `${id}.${ts}.${body}`)}`;

export type AuditEntry = Parameters<IngestDeps['audit']>[0];

/**
 * Everything a test needs around one store: the repository, the queue, ingest (its secrets from
 * `secrets`, by vault reference), the audit records it wrote and the references it opened.
 */
export function ingestHarness(
  store: Store,
  keys: EndpointKeys,
  secrets: Readonly<Record<string, string>>,
  now: () => number = () => NOW,
) {
  const repo = new EndpointRepository(store, keys);
  const queue = new WebhookQueue(store, keys);
  const audit: AuditEntry[] = [];
  const opened: string[] = [];
  const ingest = new WebhookIngest({
    endpoints: repo,
    queue,
    openSecret: async (r) => {
      opened.push(r);
      const v = secrets[r];
      if (v === undefined) throw new Error(`no secret at ${r}`);
      return v;
    },
    audit: async (e) => {
      audit.push(e);
    },
    now,
  });
  return { repo, queue, audit, opened, ingest };
}
