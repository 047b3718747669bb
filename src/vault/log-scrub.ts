import { setLogScrubber } from '../core/index.js';
import type { Redactor } from './redact/redactor.js';

/** Makes every server log line pass through the redactor before it is written (call once at start). */
export function installLogScrubbing(redactor: Redactor): void {
  setLogScrubber((line) => redactor.scrub(line));
}
