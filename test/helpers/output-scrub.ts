import type { OutputScrub } from '../../src/core/index.js';
import { Redactor, scrubThenCap } from '../../src/vault/index.js';

/** A real agent-facing redactor holding `secrets`, in the shape executors take (scrub, then cut). */
export function outputScrubFor(...secrets: string[]): OutputScrub & { redactor: Redactor } {
  const redactor = new Redactor({ audience: 'agent' });
  for (const s of secrets) redactor.add(s);
  return {
    redactor,
    holdBack: () => redactor.holdBack(),
    capped: (raw, limit, ended) => scrubThenCap(redactor, raw, { limit, ended }),
  };
}

/** Every prefix of `secret` of at least `min` characters (what a cut-then-scrub bug would leak). */
export function secretPrefixes(secret: string, min = 4): string[] {
  const out: string[] = [];
  for (let n = min; n <= secret.length; n++) out.push(secret.slice(0, n));
  return out;
}
