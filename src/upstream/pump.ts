/**
 * Moves a response body to the client: source -> Transforms -> res, with backpressure, a byte cap
 * and one settled outcome (the caller cancels by destroying the source). Used when the body needs
 * stream stages (decompression, a caller's Transform). Hand-written rather than stream.pipeline,
 * which on Node 20 builds an AbortController, a DOMException and an error with a stack trace for
 * every completed exchange (measurable on the /gateway hot path).
 */
import type { ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import type { GatehouseError } from '../core/index.js';
import { cancelledError } from './deadline.js';

export interface PumpOptions {
  maxBytes: number;
  capError: () => GatehouseError;
  onBytes: (total: number) => void;
}

const noop = () => undefined;

export function pump(source: Readable, stages: Transform[], res: ServerResponse, opts: PumpOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const all: Array<Readable | Transform> = [source, ...stages];
    let out: Readable = source;
    for (const t of stages) out = out.pipe(t);
    let size = 0;
    let settled = false;

    const cleanup = () => {
      for (const s of all) {
        s.off('error', onError);
        s.on('error', noop); // late errors after destroy must not crash the process
      }
      out.off('data', onData);
      out.off('end', onEnd);
      res.off('drain', onDrain);
      res.off('finish', onFinish);
      res.off('close', onClose);
      res.off('error', onError);
    };
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (err === undefined) return resolve();
      for (const s of all) if (!s.destroyed) s.destroy();
      reject(err);
    };
    function onData(chunk: Buffer) {
      size += chunk.length;
      opts.onBytes(size);
      if (size > opts.maxBytes) return settle(opts.capError());
      if (!res.write(chunk)) out.pause();
    }
    function onDrain() {
      out.resume();
    }
    function onEnd() {
      res.end();
    }
    function onFinish() {
      settle();
    }
    function onClose() {
      if (!res.writableFinished) settle(cancelledError());
    }
    function onError(e: unknown) {
      settle(e);
    }

    for (const s of all) s.on('error', onError);
    out.on('data', onData);
    out.on('end', onEnd);
    res.on('drain', onDrain);
    res.on('finish', onFinish);
    res.on('close', onClose);
    res.on('error', onError);
  });
}
