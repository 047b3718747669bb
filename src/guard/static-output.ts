import type { Word } from './words.js';

/**
 * What `echo` or `printf` with literal arguments writes, exactly as bash's builtins write it, or
 * undefined when the guard cannot be sure (a dynamic word, a printf conversion other than %s, %b
 * or %%, an escape it does not model). Used to follow static text piped into `xargs`.
 */
export function staticEchoOutput(argv: readonly Word[]): string | undefined {
  const head = argv[0];
  if (!head || argv.slice(1).some((w) => w.dynamic)) return undefined;
  const prog = head.text;
  const args = argv.slice(1).map((w) => w.text);
  if (prog === 'echo') {
    let newline = true;
    let escapes = false;
    let i = 0;
    // bash's echo takes -n, -e, -E (and their combinations) only before the first other word.
    for (const a of args) {
      if (!/^-[neE]+$/.test(a)) break;
      for (const ch of a.slice(1)) {
        if (ch === 'n') newline = false;
        else if (ch === 'e') escapes = true;
        else escapes = false;
      }
      i++;
    }
    let text = args.slice(i).join(' ');
    if (escapes) {
      const r = backslashEscapes(text, true);
      if (r === undefined) return undefined;
      text = r.text;
      if (r.stop) newline = false;
    }
    return newline ? `${text}\n` : text;
  }
  if (prog === 'printf') {
    const [format, ...rest] = args;
    if (format === undefined || format === '-v' || format.startsWith('--')) return undefined;
    return printfOutput(format, rest);
  }
  return undefined;
}

/** bash's printf for %s, %b and %%: the format is reused while arguments remain. */
function printfOutput(format: string, args: string[]): string | undefined {
  let out = '';
  let k = 0;
  do {
    let i = 0;
    let consumed = false;
    while (i < format.length) {
      const c = format[i];
      if (c === '\\') {
        const r = backslashEscapes(format.slice(i, i + 5), false, true);
        if (r === undefined || r.used === 0 || r.stop) return undefined;
        out += r.text;
        i += r.used;
        continue;
      }
      if (c !== '%') {
        out += c;
        i++;
        continue;
      }
      const conv = format[i + 1];
      if (conv === '%') out += '%';
      else if (conv === 's') {
        out += args[k++] ?? '';
        consumed = true;
      } else if (conv === 'b') {
        const r = backslashEscapes(args[k++] ?? '', true);
        if (r === undefined) return undefined;
        out += r.text;
        consumed = true;
        if (r.stop) return out;
      } else return undefined;
      i += 2;
    }
    if (!consumed) break;
  } while (k < args.length);
  return out;
}

const SIMPLE: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  e: '\x1b',
  E: '\x1b',
  '\\': '\\',
};

/**
 * Backslash escapes as echo -e / %b (whole text) or a printf format (one escape, `single`) reads
 * them. `\c` stops all output. Octal and hex escapes are decoded; anything else is undefined.
 */
function backslashEscapes(
  text: string,
  zeroPrefixOctal: boolean,
  single = false,
): { text: string; stop: boolean; used: number } | undefined {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '\\') {
      if (single) break;
      out += text[i++];
      continue;
    }
    const n = text[i + 1];
    if (n === undefined) {
      out += '\\';
      i++;
    } else if (n in SIMPLE) {
      out += SIMPLE[n];
      i += 2;
    } else if (n === 'c') {
      return { text: out, stop: true, used: i + 2 };
    } else if (n === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2));
      if (!m) return undefined;
      out += String.fromCharCode(parseInt(m[0], 16));
      i += 2 + m[0].length;
    } else if (/[0-7]/.test(n)) {
      // echo -e and %b spell octal as \0NNN; a printf format as \NNN.
      const m = zeroPrefixOctal ? /^0[0-7]{0,3}/.exec(text.slice(i + 1)) : /^[0-7]{1,3}/.exec(text.slice(i + 1));
      if (!m) return undefined;
      out += String.fromCharCode(parseInt(zeroPrefixOctal ? m[0].slice(1) || '0' : m[0], 8) & 0xff);
      i += 1 + m[0].length;
    } else if (n === '"' || n === "'" || n === '?') {
      out += n;
      i += 2;
    } else return undefined;
    if (single) break;
  }
  return { text: out, stop: false, used: i };
}
