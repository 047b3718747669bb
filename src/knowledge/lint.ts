/**
 * Findings on text that future agents will read (memory now; skills and wiki pages next): what
 * looks like instructions aimed at a model rather than information, and what a person reading the
 * text would not see. Stored text is data, but an injected "ignore previous instructions" in a
 * team memory is exactly how one agent's compromise would reach the next. Findings are computed
 * from the text itself, so the writer is told when it writes and every reader when it reads:
 * nothing is silently stored.
 */
export interface LintFinding {
  rule: 'hidden-unicode' | 'html-comment' | 'instruction-override' | 'model-directed' | 'pipe-to-shell';
  severity: 'warning' | 'danger';
  /** A short, visible excerpt of what matched (control characters escaped). */
  evidence: string;
}

// Bidi overrides and isolates, zero-width characters, the Unicode tag block (invisible ASCII
// look-alikes used to smuggle text), and other format characters a reader does not see.
// Variation selectors too (U+FE00-FE0D, U+E0100-E01EF, or a run of the emoji ones): invisible,
// and a run of them carries bytes. One U+FE0E/FE0F after an emoji is ordinary text.
const HIDDEN =
  /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u{e0000}-\u{e007f}]|(?!\ufe0e|\ufe0f)\p{Variation_Selector}|(?:\ufe0e|\ufe0f){2,}/u;
// A comment a renderer hides, closed or not (an unclosed one hides the rest of the page).
const HTML_COMMENT = /<!--/;
const OVERRIDE =
  /\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:(previous|prior|above|earlier|all|your|the system)\b[^.\n]{0,20}\b(instructions?|prompts?|rules?|guidelines?|messages?)|(instructions?|prompts?|rules?|guidelines?|messages?)\b[^.\n]{0,20}\b(above|before|earlier|previous|prior|so far|you were given))\b/i;
const MODEL_DIRECTED =
  /\b(you are now|from now on,? you|as an ai|system prompt|developer message|do not (tell|inform|mention to) the user|without (telling|asking) the user)\b/i;
const PIPE_TO_SHELL =
  /\b(curl|wget)\b[^|\n]{0,200}\|\s*(sudo(\s+-\S+)*\s+)?(env\s+)?((\/usr)?\/bin\/)?(ba|z|da|k)?sh\b/i;

const visibleExcerpt = (s: string): string =>
  [...s]
    .slice(0, 80)
    .map((ch) =>
      (/\p{C}/u.test(ch) || /\p{Variation_Selector}/u.test(ch)) && ch !== ' '
        ? `\\u{${ch.codePointAt(0)!.toString(16)}}`
        : ch,
    )
    .join('');

/**
 * Findings for a text (empty when nothing looks out of place). Shell line continuations are
 * joined first, so a command split over lines with a trailing backslash reads as one.
 */
export function lintText(raw: string): LintFinding[] {
  const text = raw.replace(/\\\r?\n/g, ' ');
  const out: LintFinding[] = [];
  const hit = (rule: LintFinding['rule'], severity: LintFinding['severity'], re: RegExp) => {
    const m = re.exec(text);
    if (m) {
      const from = Math.max(0, m.index - 10);
      out.push({ rule, severity, evidence: visibleExcerpt(text.slice(from, m.index + Math.max(m[0].length, 1) + 10)) });
    }
  };
  hit('hidden-unicode', 'danger', HIDDEN);
  hit('html-comment', 'warning', HTML_COMMENT);
  hit('instruction-override', 'danger', OVERRIDE);
  hit('model-directed', 'warning', MODEL_DIRECTED);
  hit('pipe-to-shell', 'warning', PIPE_TO_SHELL);
  return out;
}
