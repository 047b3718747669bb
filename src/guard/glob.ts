/**
 * Minimal glob -> RegExp for policy patterns and for testing whether a shell glob in an argument
 * (`/etc/sh*dow`, `~/.ssh/*`) could expand to a protected path. `**` spans directories; `*`, `?`
 * and `[…]` stay within one path segment (as in bash).
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string, opts: { anchored?: boolean; caseInsensitive?: boolean } = {}): RegExp {
  const key = `${opts.anchored === false ? 0 : 1}${opts.caseInsensitive ? 1 : 0}${glob}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        const alts = glob
          .slice(i + 1, end)
          .split(',')
          .map((a) => a.replace(/[.+^$()|\\/]/g, '\\$&').replace(/\*/g, '[^/]*'));
        re += '(?:' + alts.join('|') + ')';
        i = end;
      }
    } else re += c.replace(/[.+^$(){}|\\]/g, '\\$&');
  }
  const out = new RegExp(opts.anchored === false ? re : `^${re}$`, opts.caseInsensitive ? 'i' : '');
  if (cache.size > 5000) cache.clear();
  cache.set(key, out);
  return out;
}

/** One anchored RegExp matching any of the globs (compiled once, tested once per path). */
export function compileGlobs(globs: readonly string[]): RegExp {
  if (!globs.length) return /(?!)/;
  return new RegExp(
    globs
      .map((g) => globToRegExp(g).source.slice(1, -1))
      .map((s) => `(?:${s})`)
      .join('|')
      .replace(/^/, '^(?:') + ')$',
  );
}

export function globMatch(glob: string, text: string): boolean {
  return globToRegExp(glob).test(text);
}
