import { cutText, GatehouseError } from '../../core/index.js';

/**
 * Well-known secret shapes. Each `src` is a regex fragment WITHOUT backreferences (the shapes are
 * combined into one alternation), with a bounded length (so the streaming scrubber's hold-back
 * window covers a whole match). `replace` maps the matched text to what is shown.
 */
export interface Shape {
  name: string;
  src: string;
  replace: (m: string) => string;
  /**
   * Where a match can start, for the scanner's prefilter (engine.ts): every match of `src`
   * contains one of these anchors at one of its offsets from the match's start. A shape without
   * anchors (every custom pattern) makes the scanner run the whole regex over every position.
   */
  anchors?: readonly Anchor[];
}

/**
 * A fixed string (found with indexOf) or a global regex (for case-insensitive words), and the
 * offsets from a match's start at which it occurs in the match.
 * INVARIANT: complete: a match of the shape without one of its anchors at one of these offsets
 * is a match the streaming scrubber would miss. test/vault/scan-prefilter.test.ts plants every
 * shape in random text and compares against the whole regex.
 */
export interface Anchor {
  find: string | RegExp;
  at: readonly number[];
  /** For a string anchor: the characters that may follow it in a match (any when absent). */
  next?: string;
}

/** A custom pattern from configuration. */
export interface CustomPattern {
  name: string;
  /** A JavaScript regex source (no flags, no backreferences). */
  pattern: string;
  /** Keep this many leading characters visible, e.g. 3 gives `sk-***`. Default 0. */
  show_prefix?: number;
}

/** Longest match any built-in shape except PEM can make; the stream holds back at least this much. */
export const SHAPE_MAX = 300;
/** Longest PEM block scrubbed as a whole (larger ones are still masked from the header on). */
export const PEM_MAX = 16_384;

const prefixed = (n: number) => (m: string) => m.slice(0, n) + '***';
const B = '(?<![A-Za-z0-9_-])'; // start boundary that also treats '-' as part of a token

export const BUILTIN_SHAPES: readonly Shape[] = [
  {
    name: 'pem-private-key',
    src: `-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[\\s\\S]{0,${PEM_MAX}}?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\\s:,.-]{0,${PEM_MAX}})`,
    replace: () => '[REDACTED PRIVATE KEY]',
    anchors: [{ find: 'BEGIN ', at: [5] }],
  },
  {
    name: 'anthropic',
    src: `${B}sk-ant-[A-Za-z0-9_-]{16,250}`,
    replace: prefixed(7),
    anchors: [{ find: 'k-', at: [1] }],
  },
  {
    name: 'openai',
    src: `${B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,250}`,
    replace: prefixed(3),
    anchors: [{ find: 'k-', at: [1] }],
  },
  {
    name: 'stripe',
    src: `${B}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,250}`,
    replace: prefixed(8),
    anchors: [{ find: 'k_', at: [1] }],
  },
  {
    name: 'aws-access-key',
    src: '(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Z0-9])',
    replace: prefixed(4),
    // `A` and the letter after it: one indexOf (fast while `A` is rare, as in logs, JSON, prose);
    // a text full of capitals (base64) pays a character test per `A`.
    anchors: [{ find: 'A', at: [0], next: 'KSGIRN' }],
  },
  {
    // Secret keys have no prefix: only scrubbed next to a name that says what they are.
    name: 'aws-secret-key',
    // Blanks, not \s: no shape but PEM may span a newline, which lets streams release each line at once.
    // Quotes may be backslash-escaped (JSON inside a JSON string) without a decoded view.
    src: '(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|[Ss]ecret_?[Aa]ccess_?[Kk]ey)(?:\\\\{0,3}["\'])?[ \\t]{0,4}[:=][ \\t]{0,4}(?:\\\\{0,3}["\'])?(?:[A-Za-z0-9+=]|\\\\?/){40}(?![A-Za-z0-9/+=])',
    // The key, 40 characters, each `/` possibly escaped as `\/` (JSON from PHP).
    replace: (m) => m.replace(/(?:[A-Za-z0-9+=]|\\?\/){40}$/, '***'),
    // `aws_secret…` and `[Ss]ecret…` hold `cret` at 6 and 2, `AWS_SECRET…` holds `CRET` at 6.
    anchors: [
      { find: 'cret', at: [2, 6] },
      { find: 'CRET', at: [6] },
    ],
  },
  {
    name: 'github',
    src: '(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,250}|github_pat_[A-Za-z0-9_]{22,250})',
    replace: (m) => m.slice(0, m.startsWith('github_pat_') ? 11 : 4) + '***',
    // `github` holds no `gh`. Anchors stay under 7 characters: V8 prepares a Boyer-Moore table
    // for longer ones on every indexOf call (~30 µs on this box, more than the search).
    anchors: [
      { find: 'gh', at: [0] },
      { find: '_pat_', at: [6] },
    ],
  },
  {
    name: 'gatehouse-token',
    src: '(?<![A-Za-z0-9_])gh_[A-Za-z0-9_-]{16,250}',
    replace: prefixed(3),
    anchors: [{ find: 'gh', at: [0] }],
  },
  {
    name: 'slack',
    src: `${B}xox[abprse]-[A-Za-z0-9-]{10,250}`,
    replace: prefixed(5),
    // Not `xox`: indexOf crawls through a run of `x` (a masked value, a padded field).
    anchors: [{ find: 'ox', at: [1] }],
  },
  {
    name: 'bearer',
    src: '(?<![A-Za-z0-9_])[Bb][Ee][Aa][Rr][Ee][Rr][ \\t]{1,4}(?:[A-Za-z0-9._~+=-]|\\\\?/){8,250}',
    replace: (m) => cutText(m, 6) + ' ***',
    // Any mix of cases: one case-insensitive regex (ASCII letters only fold to ASCII letters).
    anchors: [{ find: /bearer/gi, at: [0] }],
  },
];

/** Validates and converts custom patterns; refuses backreferences (they break the combined regex). */
export function customShapes(patterns: readonly CustomPattern[]): Shape[] {
  return patterns.map((p) => {
    if (!p || typeof p.name !== 'string' || typeof p.pattern !== 'string' || !p.pattern) {
      throw new GatehouseError('config_invalid', 'a redaction pattern needs a name and a pattern');
    }
    if (/\\[1-9]|\\k</.test(p.pattern)) {
      throw new GatehouseError('config_invalid', `redaction pattern ${p.name} uses a backreference`, {
        hint: 'rewrite it without \\1 or \\k<name>',
      });
    }
    try {
      // Also rejects a pattern that can match the empty string, which would scrub nothing useful.
      if (new RegExp(`^(?:${p.pattern})$`).test('')) throw new Error('matches the empty string');
    } catch (e) {
      throw new GatehouseError('config_invalid', `redaction pattern ${p.name} is invalid: ${(e as Error).message}`);
    }
    const n = Math.max(0, Math.floor(p.show_prefix ?? 0));
    // Named groups inside would collide with ours: strip their names (they become plain groups).
    const src = p.pattern.replace(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g, '(');
    return { name: p.name, src, replace: prefixed(n) };
  });
}
