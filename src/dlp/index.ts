/**
 * Data loss prevention on the way out (issue 20 item 2): request bodies sent to targets with DLP on
 * (on by default for the model presets) are scanned before they leave. Vault values and their
 * encodings, private keys and cloud keys are always replaced (the operator redactor: every vault
 * value, guessable ones too, since nothing is answered back to the agent here); configured patterns
 * (emails, phone numbers, card numbers with a Luhn check, custom regexes) are redacted or refused,
 * per pattern. What was found is counted per pattern for the audit record; a value never is.
 *
 * INVARIANTS: the scan runs on the agent's text before vault handles are filled (a handle bound
 * to the target is the one way a secret is meant to leave); a refusal names the pattern only; a
 * body DLP cannot read as text is refused rather than sent unscanned.
 */
import { cutText, GatehouseError, truncateText } from '../core/index.js';

export type DlpAction = 'redact' | 'refuse';

/** One configured pattern (`dlp.patterns` in the configuration). */
export interface DlpPatternConfig {
  name: string;
  /** A built-in detector, or a custom JavaScript regex source (`regex`). */
  preset?: 'email' | 'phone' | 'card';
  regex?: string;
  action: DlpAction;
  /** Keep this many leading characters visible (`4242***`). */
  show_prefix?: number;
}

/** The patterns used when the configuration names none: card numbers redacted. */
export const DEFAULT_DLP_PATTERNS: readonly DlpPatternConfig[] = [{ name: 'card', preset: 'card', action: 'redact' }];

interface Detector {
  name: string;
  re: RegExp;
  valid?: (m: string) => boolean;
  action: DlpAction;
  showPrefix: number;
}

/** Luhn's check over the digits of `s` (13 to 19 of them). */
export function luhn(s: string): boolean {
  const digits = s.replace(/[ -]/g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const PRESETS: Record<NonNullable<DlpPatternConfig['preset']>, { re: RegExp; valid?: (m: string) => boolean }> = {
  email: { re: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}/g },
  // International or North American forms with at least 9 digits; a bare run of digits is not one.
  phone: {
    re: /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?!\w)/g,
    valid: (m) => m.replace(/\D/g, '').length >= 9,
  },
  card: { re: /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/g, valid: luhn },
};

function detectors(patterns: readonly DlpPatternConfig[]): Detector[] {
  return patterns.map((p) => {
    const base = p.preset ? PRESETS[p.preset] : undefined;
    let re: RegExp;
    if (base) re = new RegExp(base.re.source, 'g');
    else if (p.regex) {
      try {
        re = new RegExp(p.regex, 'g');
      } catch (e) {
        throw new GatehouseError('config_invalid', `dlp pattern ${p.name}: not a valid regex`, {
          hint: 'fix dlp.patterns in the configuration',
          cause: e,
        });
      }
    } else
      throw new GatehouseError('config_invalid', `dlp pattern ${p.name} needs preset or regex`, {
        hint: 'preset: email | phone | card, or regex: SOURCE',
      });
    return {
      name: p.name,
      re,
      ...(base?.valid ? { valid: base.valid } : {}),
      action: p.action,
      showPrefix: p.show_prefix ?? 0,
    };
  });
}

/** What a scan found (counts per pattern name; `vault-or-key` for what the redactor replaced). */
export type DlpCounts = Record<string, number>;

/** The count of what the operator redactor replaced: vault values, their encodings, key shapes. */
export const VAULT_OR_KEY = 'vault-or-key';

/**
 * The part of a scan's counts an agent may be told: the configured patterns' (undefined when none
 * matched). INVARIANT: what the redactor replaced is never told back to the agent (a refusal's
 * details, a tool result): it would answer whether a string the agent chose is a vault value,
 * guessable ones included. The audit record keeps the whole count.
 */
export function agentCounts(counts: DlpCounts): DlpCounts | undefined {
  let out: DlpCounts | undefined;
  for (const [k, v] of Object.entries(counts)) if (k !== VAULT_OR_KEY) (out ??= {})[k] = v;
  return out;
}

/** The redactor's markers: each replacement leaves one. */
const MARKERS = /\[REDACTED[^\]]{0,40}\]|\*\*\*/g;
const count = (s: string) => s.match(MARKERS)?.length ?? 0;

export class DlpScanner {
  readonly #detectors: Detector[];
  readonly #scrub: (text: string) => string;

  /** @param scrub the operator redactor's scrub (vault values, their encodings, key shapes) */
  constructor(patterns: readonly DlpPatternConfig[], scrub: (text: string) => string) {
    this.#detectors = detectors(patterns);
    this.#scrub = scrub;
  }

  /**
   * The text to send and what was found. Throws `denied` (naming the pattern, never the value)
   * when a pattern whose action is `refuse` matched.
   */
  scan(text: string): { text: string; counts: DlpCounts } {
    const counts: DlpCounts = {};
    let out = this.#scrub(text);
    const replaced = count(out) - count(text);
    if (replaced > 0) counts[VAULT_OR_KEY] = replaced;
    for (const d of this.#detectors) {
      d.re.lastIndex = 0;
      out = out.replace(d.re, (m) => {
        if (d.valid && !d.valid(m)) return m;
        counts[d.name] = (counts[d.name] ?? 0) + 1;
        return d.showPrefix > 0 ? `${cutText(m, d.showPrefix)}***` : `[REDACTED:${d.name}]`;
      });
      if ((counts[d.name] ?? 0) > 0 && d.action === 'refuse')
        throw new GatehouseError(
          'denied',
          `the request body holds data the DLP pattern ${truncateText(d.name, 60)} refuses`,
          {
            hint: 'remove it from what you send (nothing was sent)',
            details: { dlp: agentCounts(counts) },
          },
        );
    }
    return { text: out, counts };
  }
}
