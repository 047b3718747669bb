/**
 * How an executor with an output limit (SSH exec, the sandbox) produces what an agent reads:
 * scrub first, then cut. The executor keeps `holdBack()` raw bytes past its limit, so a secret
 * straddling the limit is seen whole, and hands each stream to `capped`. The vault's redactor
 * implements it (`scrubThenCap`); executors know only this shape.
 *
 * INVARIANT: when a stream did not end (it was cut), what the scrubber still holds is dropped,
 * never shown: it may be the start of a secret whose rest lies past the cut.
 */
export interface OutputScrub {
  /** Raw bytes to keep past a limit so that a secret straddling it is seen whole. */
  holdBack(): number;
  /** Scrubs what was read of one stream, then cuts it at `limit` bytes. */
  capped(raw: Buffer, limit: number, ended: boolean): { output: Buffer; truncated: boolean };
}
