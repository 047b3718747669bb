/**
 * The decoded view (see views.ts): JSON/JS escapes, HTML numeric and common named entities,
 * percent-escapes (as UTF-8), `\x`/octal bytes, decoded into a view with a map back to the
 * source; and which escapes make building it worthwhile.
 */
import { MappedView, MAX_ESCAPE, type Mode, type View } from './views.js';

/**
 * The decoders below return the END of the escape at t[i] (or -1 when the text there is literal)
 * and leave its decoded characters in `out`: no object per escape (JSON bodies hold many).
 */
let out = '';

/** HTML named entities for ASCII punctuation and space (what HTML escapers actually emit). */
const ENTITIES: Record<string, string> = {
  amp: '&',
  AMP: '&',
  lt: '<',
  LT: '<',
  gt: '>',
  GT: '>',
  quot: '"',
  QUOT: '"',
  apos: "'",
  nbsp: '\u00a0',
  excl: '!',
  num: '#',
  dollar: '$',
  percnt: '%',
  lpar: '(',
  rpar: ')',
  ast: '*',
  midast: '*',
  plus: '+',
  comma: ',',
  period: '.',
  sol: '/',
  colon: ':',
  semi: ';',
  equals: '=',
  quest: '?',
  commat: '@',
  lsqb: '[',
  lbrack: '[',
  bsol: '\\',
  rsqb: ']',
  rbrack: ']',
  Hat: '^',
  lowbar: '_',
  UnderBar: '_',
  grave: '`',
  DiacriticalGrave: '`',
  lcub: '{',
  lbrace: '{',
  verbar: '|',
  vert: '|',
  VerticalLine: '|',
  rcub: '}',
  rbrace: '}',
  tilde: '~',
  NewLine: '\n',
  Tab: '\t',
  hyphen: '\u2010',
  dash: '\u2010',
};

const hexVal = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/** Reads exactly `n` hex digits at t[i…]; -1 if they are not all there. */
function readHex(t: string, i: number, n: number): number {
  if (i + n > t.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const h = hexVal(t.charCodeAt(i + k));
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/** A code point as the view's characters: itself in text, its UTF-8 bytes in bytes. */
function emit(cp: number, mode: Mode): string {
  if (mode === 'text' || cp < 0x80) return String.fromCodePoint(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  if (cp < 0x10000) return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  return String.fromCharCode(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

const validCp = (cp: number) => cp >= 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);

/**
 * A run of byte escapes (`%HH`, `\xHH`, `\NNN`) read as one UTF-8 character: the lead byte and
 * as many continuation escapes of the same kind as it needs. An invalid sequence decodes the lead
 * byte alone (as U+00HH in text; in bytes, `%HH` as the raw byte, `\xHH` as U+00HH, JS-style).
 */
function byteRun(
  t: string,
  i: number,
  mode: Mode,
  read: (t: string, i: number) => number,
  width: number,
  rawBytes: boolean,
): number {
  const lead = read(t, i);
  if (lead < 0) return -1;
  if (lead < 0x80) {
    out = String.fromCharCode(lead);
    return i + width;
  }
  const need =
    lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
  let cp = need === 1 ? lead & 0x1f : need === 2 ? lead & 0x0f : lead & 0x07;
  let k = 1;
  for (; k <= need; k++) {
    const b = read(t, i + k * width);
    if (b < 0x80 || b > 0xbf) break;
    cp = (cp << 6) | (b & 0x3f);
  }
  const min = need === 1 ? 0x80 : need === 2 ? 0x800 : 0x10000;
  if (need > 0 && k === need + 1 && cp >= min && validCp(cp)) {
    out = emit(cp, mode);
    return i + (need + 1) * width;
  }
  out = mode === 'bytes' && rawBytes ? String.fromCharCode(lead) : emit(lead, mode);
  return i + width;
}

const readPercent = (t: string, i: number): number => (t.charCodeAt(i) === 37 ? readHex(t, i + 1, 2) : -1);
const readBackslashX = (t: string, i: number): number =>
  t.charCodeAt(i) === 92 && t.charCodeAt(i + 1) === 120 ? readHex(t, i + 2, 2) : -1;
function readOctal(t: string, i: number): number {
  if (t.charCodeAt(i) !== 92 || i + 4 > t.length) return -1;
  const a = t.charCodeAt(i + 1) - 48;
  const b = t.charCodeAt(i + 2) - 48;
  const c = t.charCodeAt(i + 3) - 48;
  return a >= 0 && a <= 3 && b >= 0 && b <= 7 && c >= 0 && c <= 7 ? a * 64 + b * 8 + c : -1;
}

/** `\uXXXX` (a surrogate pair as one character), `%uXXXX`, `\u{X…}`. */
function unicodeEscape(t: string, i: number, mode: Mode): number {
  if (t.charCodeAt(i + 2) === 123 /* { */ && t.charCodeAt(i) === 92) {
    let j = i + 3;
    let cp = 0;
    while (j < t.length && j - (i + 3) < 8 && hexVal(t.charCodeAt(j)) >= 0) cp = cp * 16 + hexVal(t.charCodeAt(j++));
    if (j === i + 3 || t.charCodeAt(j) !== 125 || !validCp(cp)) return -1;
    out = emit(cp, mode);
    return j + 1;
  }
  const u = readHex(t, i + 2, 4);
  if (u < 0) return -1;
  if (u >= 0xd800 && u <= 0xdbff && t.charCodeAt(i + 6) === t.charCodeAt(i) && (t.charCodeAt(i + 7) | 0x20) === 117) {
    const lo = readHex(t, i + 8, 4);
    if (lo >= 0xdc00 && lo <= 0xdfff) {
      out = emit(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00), mode);
      return i + 12;
    }
  }
  if (u >= 0xd800 && u <= 0xdfff) {
    // A lone surrogate: as itself in text; in bytes it has no UTF-8 form, so it stays undecoded.
    if (mode === 'bytes') return -1;
    out = String.fromCharCode(u);
    return i + 6;
  }
  out = emit(u, mode);
  return i + 6;
}

function htmlEntity(t: string, i: number, mode: Mode): number {
  if (t.charCodeAt(i + 1) === 35 /* # */) {
    const hex = (t.charCodeAt(i + 2) | 0x20) === 120; /* x or X */
    let j = i + (hex ? 3 : 2);
    const start = j;
    let cp = 0;
    // INVARIANT: at most 12 digits (leading zeros included), so an escape stays under MAX_ESCAPE.
    while (j < t.length && j - start < 12) {
      const c = t.charCodeAt(j);
      const d = hex ? hexVal(c) : c >= 48 && c <= 57 ? c - 48 : -1;
      if (d < 0) break;
      cp = cp * (hex ? 16 : 10) + d;
      j++;
    }
    if (j === start || !validCp(cp)) return -1;
    if (t.charCodeAt(j) === 59 /* ; */) j++;
    out = emit(cp, mode);
    return j;
  }
  let j = i + 1;
  while (j < t.length && j - i <= 17) {
    const c = t.charCodeAt(j);
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) break;
    j++;
  }
  if (j === i + 1 || t.charCodeAt(j) !== 59) return -1;
  const ch = ENTITIES[t.slice(i + 1, j)];
  if (ch === undefined) return -1;
  out = emit(ch.codePointAt(0)!, mode);
  return j + 1;
}

/**
 * The end of the escape starting at t[i] (an introducer), its decoded characters left in
 * `lastDecoded()`; -1 when the text there is literal.
 */
export function parseEscape(t: string, i: number, mode: Mode): number {
  const c = t.charCodeAt(i);
  if (c === 37 /* % */)
    return (t.charCodeAt(i + 1) | 0x20) === 117 /* u */
      ? unicodeEscape(t, i, mode)
      : byteRun(t, i, mode, readPercent, 3, true);
  if (c === 38 /* & */) return htmlEntity(t, i, mode);
  if (c !== 92 /* \ */ || i + 1 >= t.length) return -1;
  const code = t.charCodeAt(i + 1);
  switch (code) {
    case 117 /* u */:
      return unicodeEscape(t, i, mode);
    case 120 /* x */:
      return byteRun(t, i, mode, readBackslashX, 4, false);
    case 110 /* n */:
      out = '\n';
      return i + 2;
    case 114 /* r */:
      out = '\r';
      return i + 2;
    case 116 /* t */:
      out = '\t';
      return i + 2;
    case 98 /* b */:
      out = '\b';
      return i + 2;
    case 102 /* f */:
      out = '\f';
      return i + 2;
    case 118 /* v */:
      out = '\v';
      return i + 2;
    case 10:
    case 13:
      // A line break after a backslash is not an escape (it would join lines: the chains' job).
      return -1;
  }
  if (code >= 48 && code <= 51 && readOctal(t, i) >= 0) return byteRun(t, i, mode, readOctal, 4, false);
  if (code === 48) {
    out = '\0';
    return i + 2;
  }
  // `\/`, `\\`, `\"`, `\$`…: the character itself. In bytes a non-ASCII byte is left as it is.
  if (mode === 'bytes' && code >= 0x80) return -1;
  out = ASCII[code] ?? String.fromCharCode(code); // ASCII holds exactly the codes below 0x80
  return i + 2;
}

const ASCII = Array.from({ length: 0x80 }, (_, k) => String.fromCharCode(k));

export const lastDecoded = (): string => out;

/** A decoded view, and whether decoding produced an introducer (so a second level may find more). */
export interface Decoded extends View {
  readonly nested: boolean;
}

/**
 * Which decoded characters make a decoded view worth building. A match in the decoded view that
 * the raw view did not find contains at least one decoded character, so:
 * - a character some literal uses (`lit`, never CR/LF);
 * - a line break with literal characters on both sides (a wrapped form inside an escaped string);
 * - a letter or digit a shape uses (no ordinary encoder escapes those: an escaped letter is
 *   deliberate), or any character a shape uses (`shape`) when a shape's anchor (`anchors`:
 *   `Bearer`, `access_key`, `sk-`…) occurs at most `reach` characters before it. Without
 *   `anchors` every shape character counts (custom patterns have no known anchor).
 * `candidates` finds, natively, every escape that could be any of these (a superset), so plain
 * JSON (`\"` and `\n` between values) and HTML text never reach the per-escape checks.
 */
export interface Relevance {
  lit: Uint8Array;
  shape: Uint8Array | undefined;
  anchors: RegExp | undefined;
  reach: number;
  candidates: RegExp;
}

/** Every escape is a candidate (the candidate regex when nothing narrower is known). */
export const ANY_ESCAPE = /[\\&%]/g;

/**
 * The candidate regex for a literal alphabet: numeric and percent escapes and entities (their
 * character is only known once decoded), a backslash before a letter or digit (exotic) or before
 * a literal or shape punctuation character, and `\n`/`\r` after a literal character.
 */
export function candidatesFor(lit: Uint8Array, shapePunct = ''): RegExp {
  const punct: string[] = [];
  const before: string[] = [];
  const esc = (ch: string) => (/[\]\\^\-[]/.test(ch) ? `\\${ch}` : ch);
  for (let c = 0x20; c < 0x7f; c++) {
    if (!lit[c]) continue;
    const ch = String.fromCharCode(c);
    before.push(esc(ch));
    // `\/` is not a candidate: every literal with a `/` also has its `\/` form, and the shapes
    // accept `\/` (an encoder escapes every slash or none; a mixture has other escapes too).
    if (!/[A-Za-z0-9/]/.test(ch)) punct.push(esc(ch));
  }
  // A backslash before shape punctuation may complete a shape near its anchor.
  for (const ch of shapePunct) if (ch >= ' ' && ch !== '/' && !punct.includes(esc(ch))) punct.push(esc(ch));
  // Literal characters outside ASCII may precede a line break too.
  const nonAscii = lit.subarray(0x80).some((x) => x === 1);
  const prev = `[${before.join('')}${nonAscii ? '\\u0080-\\uffff' : ''}]`;
  // A backslash before a letter other than b f n r t v (control escapes), or a digit, or `{`.
  const parts = ['%', '&#', '&[A-Za-z]{2,17};', '\\\\[ac-eg-mo-qsuw-zA-Z0-9{]'];
  if (punct.length) parts.push(`\\\\[${punct.join('')}]`);
  // The lookbehind comes after the backslash, so every alternative starts with a fixed character
  // and the regex engine can skip ahead natively.
  if (before.length || nonAscii) parts.push(`\\\\(?<=${prev}\\\\)[nr]`);
  return new RegExp(parts.join('|'), 'g');
}

/** Every decoded character is relevant (e.g. to list what an agent's text could decode to). */
export const ALL_RELEVANT: Relevance = {
  lit: new Uint8Array(0x10000).fill(1),
  shape: undefined,
  anchors: undefined,
  reach: 0,
  candidates: ANY_ESCAPE,
};

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * Decodes every escape in `parent` into a new view, or returns undefined when that would change
 * nothing a match could use (see Relevance) and `force` is off. In a stream, the view knows which
 * of its characters may still change (`stable`); an escape still incomplete in the tail of a
 * buffer with no relevant escape builds no view: the scanner holds back before it instead.
 */
export function decodeView(
  parent: View,
  mode: Mode,
  rel: Relevance,
  final: boolean,
  force: boolean,
): Decoded | undefined {
  const t = parent.text;
  if (!force && t.indexOf('\\') < 0 && t.indexOf('&') < 0 && t.indexOf('%') < 0) return undefined;
  if (!force && !relevantEscape(t, mode, rel)) return undefined;
  const { text, seg, nested } = build(t, mode);
  const view = MappedView.from(text, parent, seg, nested);
  if (final) return view;
  // An escape that starts MAX_ESCAPE or more before the parent's unsettled part is complete.
  return view.withStable(view.viewIndexOf(Math.max(0, parent.stable - MAX_ESCAPE)));
}

/**
 * Escapes in order, found with indexOf (native, several times faster than a loop over every
 * character): `next()` returns the start of the next escape (its end in `end`, its decoded
 * characters in `out`), or -1.
 */
class Escapes {
  end = 0;
  #nb: number;
  #na: number;
  #np: number;
  #from = 0;

  constructor(
    private readonly t: string,
    private readonly mode: Mode,
  ) {
    this.#nb = t.indexOf('\\');
    this.#na = t.indexOf('&');
    this.#np = t.indexOf('%');
  }

  next(): number {
    const t = this.t;
    const n = t.length;
    for (;;) {
      if (this.#nb >= 0 && this.#nb < this.#from) this.#nb = t.indexOf('\\', this.#from);
      if (this.#na >= 0 && this.#na < this.#from) this.#na = t.indexOf('&', this.#from);
      if (this.#np >= 0 && this.#np < this.#from) this.#np = t.indexOf('%', this.#from);
      const i = Math.min(this.#nb < 0 ? n : this.#nb, this.#na < 0 ? n : this.#na, this.#np < 0 ? n : this.#np);
      if (i >= n) return -1;
      const end = parseEscape(t, i, this.mode);
      this.#from = end < 0 ? i + 1 : end;
      if (end < 0) continue;
      this.end = end;
      return i;
    }
  }
}

/** Whether any escape in `t` is relevant (see Relevance); stops at the first. */
function relevantEscape(t: string, mode: Mode, rel: Relevance): boolean {
  const lit = rel.lit;
  const re = rel.candidates;
  let punct = false;
  re.lastIndex = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const i = m.index;
    const end = parseEscape(t, i, mode);
    if (end < 0) continue;
    re.lastIndex = end;
    const o = out;
    for (let k = 0; k < o.length; k++) {
      const code = o.charCodeAt(k);
      if (code >= lit.length || lit[code]) return true;
      // An escape that decodes to an escape character (`%5C`, `%25`, `&amp;`) hides another layer:
      // what it decodes to is looked at, whatever the secrets hold (`%5Cu0026` is `&` two layers down).
      if (code === 92 || code === 37 || code === 38) return true;
      if (code === 10 || code === 13) {
        if (breakJoins(t, i, end, lit)) return true;
      } else if (rel.shape?.[code]) {
        if (!rel.anchors || isAlnum(code)) return true;
        punct = true;
      }
    }
  }
  // Escaped punctuation completes a shape only near the shape's anchor: look there only (and
  // only when some escape decoded to such punctuation).
  if (punct && rel.shape && rel.anchors) {
    rel.anchors.lastIndex = 0;
    for (let a = rel.anchors.exec(t); a; a = rel.anchors.exec(t)) {
      const scan = /[\\&%]/g;
      scan.lastIndex = a.index;
      for (let m = scan.exec(t); m && m.index <= a.index + rel.reach; m = scan.exec(t)) {
        const end = parseEscape(t, m.index, mode);
        if (end < 0) continue;
        scan.lastIndex = end;
        for (let k = 0; k < out.length; k++) if (rel.shape[out.charCodeAt(k)]) return true;
      }
    }
  }
  return false;
}

/**
 * A decoded line break matters when a literal character precedes it (raw, or decoded just
 * before) and one may follow it after blanks (a literal character, or an introducer).
 */
function breakJoins(t: string, i: number, end: number, lit: Uint8Array): boolean {
  let left = i > 0 ? t.charCodeAt(i - 1) : -1;
  if (
    left === 59 /* ; */ ||
    (left >= 48 && left <= 57) ||
    (left >= 65 && left <= 70) ||
    (left >= 97 && left <= 102) ||
    left === 125
  )
    left = -2; // may end an escape: decide conservatively
  const n = t.length;
  let j = end;
  while (j < n && (t.charCodeAt(j) === 32 || t.charCodeAt(j) === 9)) j++;
  const right = j < n ? t.charCodeAt(j) : -1;
  const leftOk = left === -2 || (left >= 0 && (left >= lit.length || lit[left] === 1));
  const rightOk =
    right === 92 || right === 38 || right === 37 || (right >= 0 && (right >= lit.length || lit[right] === 1));
  return leftOk && rightOk;
}

/**
 * The decoded text and its segments. Built as UTF-16 code units in one buffer (in bytes mode
 * each unit holds a byte) and converted once: a string piece per escape costs several times more
 * in an escape-dense body. No escape is longer than what it decodes to, so the view fits in
 * t.length units.
 */
function build(t: string, mode: Mode): { text: string; seg: Int32Array; nested: boolean } {
  const n = t.length;
  const units = new Uint16Array(n);
  const bytes = LITTLE_ENDIAN ? Buffer.from(units.buffer, units.byteOffset, units.byteLength) : undefined;
  let seg = new Int32Array(256);
  let ns = 0;
  const add = (vAt: number, pAt: number, pEnd: number, copy: number) => {
    if (ns + 4 > seg.length) {
      const grown = new Int32Array(seg.length * 2);
      grown.set(seg);
      seg = grown;
    }
    seg[ns++] = vAt;
    seg[ns++] = pAt;
    seg[ns++] = pEnd;
    seg[ns++] = copy;
  };
  let v = 0;
  let last = 0;
  let nested = false;
  const esc = new Escapes(t, mode);
  for (let i = esc.next(); ; i = esc.next()) {
    const s = i < 0 ? n : i;
    if (s > last || (i < 0 && ns === 0)) {
      add(v, last, s, 1);
      // Long runs natively ('utf16le' copies code units as they are, lone surrogates included).
      if (bytes && s - last >= 64) bytes.write(t.slice(last, s), v * 2, 'utf16le');
      else for (let c = last; c < s; c++) units[v + c - last] = t.charCodeAt(c);
      v += s - last;
    }
    if (i < 0) break;
    add(v, i, esc.end, 0);
    const o = out;
    for (let c = 0; c < o.length; c++) {
      const code = o.charCodeAt(c);
      if (code === 92 || code === 38 || code === 37) nested = true;
      units[v++] = code;
    }
    last = esc.end;
  }
  const text =
    mode === 'bytes'
      ? Buffer.from(units.subarray(0, v)).toString('latin1')
      : bytes
        ? bytes.toString('utf16le', 0, v * 2)
        : new TextDecoder('utf-16le').decode(units.subarray(0, v));
  return { text, seg: seg.subarray(0, ns), nested };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
