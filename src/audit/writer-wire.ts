/**
 * What the event loop and the audit writer thread (writer-thread.ts, started by thread-writer.ts)
 * say to each other. A module of its own: the thread's entry must not be loaded on the event loop.
 */
import type { SqliteDriverName } from '../store/index.js';
import { CHAINED_FIELDS, type ChainedRecord } from './chain.js';
import type { BlobWrite } from './payload.js';

/** What the event loop sends. */
export type ToWriterThread =
  | {
      op: 'write';
      id: number;
      chain: string;
      records: WireRecords;
      durable: boolean;
      /** Answer `committed` at the commit, before a durable batch's flush. */
      early: boolean;
      /** Each blob's `data` arrives on the thread as a Uint8Array (a structured clone of a Buffer). */
      blobs: BlobWrite[];
    }
  | { op: 'flushLagging'; id: number }
  | { op: 'close'; id: number };

/** What the thread answers, by the request's id. */
export type FromWriterThread =
  /** The connection is open and set up (sent once, before any answer). */
  | { kind: 'ready' }
  | { id: number; kind: 'committed'; seqs: number[] }
  | { id: number; kind: 'done'; seqs: number[] }
  | { id: number; kind: 'failed'; message: string; code?: string };

/**
 * A batch's records as one flat array, WIRE_FIELDS of each in turn: a structured clone of plain
 * values costs far less on the event loop than one of objects (each object's keys are written too).
 */
export type WireRecords = (string | number | null)[];
/** The fields the event loop sets; the thread sets seq, chain, chain_seq, prev_hash and hash. */
export const WIRE_FIELDS = [...CHAINED_FIELDS, 'payload'] as const;

export function toWire(records: readonly ChainedRecord[]): WireRecords {
  const out: WireRecords = [];
  for (const r of records) for (const f of WIRE_FIELDS) out.push(r[f] ?? null);
  return out;
}

export function fromWire(flat: WireRecords): ChainedRecord[] {
  const out: ChainedRecord[] = [];
  for (let i = 0; i < flat.length; i += WIRE_FIELDS.length) {
    const r: Record<string, string | number | null> = {};
    WIRE_FIELDS.forEach((f, j) => (r[f] = flat[i + j] ?? null));
    out.push(r as ChainedRecord);
  }
  return out;
}

export interface WriterThreadData {
  file: string;
  driver: SqliteDriverName;
  key: Uint8Array;
}
