/**
 * One AbortController per exchange that fires on the caller's signal (`cancelled`) or on the total
 * duration limit (`timeout`). The abort reason is the typed error itself, so undici surfaces it
 * unchanged from `request()` and from the body stream.
 */
import { GatehouseError } from '../core/index.js';

export interface Deadline {
  readonly signal: AbortSignal;
  abort(reason: GatehouseError): void;
  dispose(): void;
}

export function cancelledError(): GatehouseError {
  return new GatehouseError('cancelled', 'the request was cancelled', { hint: 'the caller aborted the request' });
}

export function startDeadline(targetName: string, totalMs: number, signal: AbortSignal | undefined): Deadline {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(cancelledError());
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    ctl.abort(
      new GatehouseError('timeout', `target "${targetName}" did not finish within ${totalMs} ms`, {
        hint: 'raise timeout_ms or ask for less data',
        details: { phase: 'total', limitMs: totalMs },
      }),
    );
  }, totalMs);
  timer.unref?.();
  return {
    signal: ctl.signal,
    abort: (reason) => ctl.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
