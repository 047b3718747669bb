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
  },
  { name: 'anthropic', src: `${B}sk-ant-[A-Za-z0-9_-]{16,250}`, replace: prefixed(7) },
  { name: 'openai', src: `${B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,250}`, replace: prefixed(3) },
  { name: 'stripe', src: `${B}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,250}`, replace: prefixed(8) },
  {
    name: 'aws-access-key',
    src: '(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Z0-9])',
    replace: prefixed(4),
  },
  {
    // Secret keys have no prefix: only scrubbed next to a name that says what they are.
    name: 'aws-secret-key',
    // Blanks, not \s: no shape but PEM may span a newline, which lets streams release each line at once.
    // Quotes may be backslash-escaped (JSON inside a JSON string) without a decoded view.
    src: '(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|[Ss]ecret_?[Aa]ccess_?[Kk]ey)(?:\\\\{0,3}["\'])?[ \\t]{0,4}[:=][ \\t]{0,4}(?:\\\\{0,3}["\'])?(?:[A-Za-z0-9+=]|\\\\?/){40}(?![A-Za-z0-9/+=])',
    // The key, 40 characters, each `/` possibly escaped as `\/` (JSON from PHP).
    replace: (m) => m.replace(/(?:[A-Za-z0-9+=]|\\?\/){40}$/, '***'),
  },
  {
    name: 'github',
    src: '(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,250}|github_pat_[A-Za-z0-9_]{22,250})',
    replace: (m) => m.slice(0, m.startsWith('github_pat_') ? 11 : 4) + '***',
  },
  { name: 'gatehouse-token', src: '(?<![A-Za-z0-9_])gh_[A-Za-z0-9_-]{16,250}', replace: prefixed(3) },
  { name: 'slack', src: `${B}xox[abprse]-[A-Za-z0-9-]{10,250}`, replace: prefixed(5) },
  {
    name: 'bearer',
    src: '(?<![A-Za-z0-9_])[Bb][Ee][Aa][Rr][Ee][Rr][ \\t]{1,4}(?:[A-Za-z0-9._~+=-]|\\\\?/){8,250}',
    replace: (m) => cutText(m, 6) + ' ***',
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
