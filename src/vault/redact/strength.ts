/**
 * Is a secret value guessable? A conservative estimate of whether an attacker who can try ~10^10
 * candidate strings (an agent echoing guesses through an upstream, or printing them with
 * `seq 100000 999999` on a server) could hit it.
 *
 * Why it matters: a literal scrubber can only ever CONFIRM a guessable value (the agent sends a
 * guess; it comes back `[REDACTED]` exactly when it was right), so agent-facing redactors leave
 * guessable values alone (see redactor.ts). Strong values are scrubbed everywhere: guessing them
 * is infeasible, so scrubbing them tells nothing.
 *
 * The estimate (bits) is the cheapest cover of the value by the pieces an attacker's generator
 * would use, in the spirit of zxcvbn but much smaller:
 * - any character not covered by a pattern: log2 of the value's character pool (26 lower, 26
 *   upper, 10 digits, 33 ASCII symbols, 100 for anything else; 16 when the value is all hex);
 * - a run of letters that looks like a word (≥ 3 letters, lowercase, capitalised or all caps,
 *   vowels at a word-like rate and no long consonant cluster): 16 bits per ~6 letters, +1 for
 *   capitalisation; a common password word or a month/season name: 6 bits; leetspeak (`P@ssw0rd`)
 *   is read as letters too;
 * - a digit run: 3.32 bits a digit; a year 1900–2099 about 7 bits; a 6- or 8-digit date 15 bits;
 * - repeats (`aaaa`), sequences (`abcd`, `1234`, `9876`) and keyboard runs (`qwerty`, `asdf`):
 *   a few bits; a repeated block (`abcabc`, `hunter2hunter2`): the block plus log2(count);
 * - a single separator between two words or numbers (` -_.`…): 1 bit.
 * Guessable: under 12 characters, or under 50 bits (see MIN_STRONG_BITS). Random API keys, hex tokens, UUIDs and
 * base64 secrets of 16 or more characters come out well above; PINs, `Summer2024!`,
 * `password123`, `P@ssw0rd2024!` come out below (test/vault/redact-strength.test.ts).
 */

import { BoundedLru } from '../../core/index.js';

/** Values shorter than this are always guessable. */
export const MIN_STRONG_LENGTH = 12;
/**
 * Estimated bits below which a value is guessable. ~10^10 guesses is 33 bits; 50 leaves a 2^17
 * margin for what the estimate misses. Not 64: a random 16-character hex token has exactly 64 bits,
 * and the chance patterns every random string holds (`eee`, `123`) would put half of them below.
 */
export const MIN_STRONG_BITS = 50;

export function isGuessable(value: string): boolean {
  const known = verdicts.get(value);
  if (known !== undefined) return known;
  const guessable = [...value].length < MIN_STRONG_LENGTH || estimateBits(value) < MIN_STRONG_BITS;
  // The same few credentials are filled into every call: the estimate (dictionary, keyboard and
  // sequence scans, ~75 µs for an API key) is made once per value, not once per request. The map
  // holds values the vault's redactors hold anyway, and is bounded.
  verdicts.set(value, guessable);
  return guessable;
}

const verdicts = new BoundedLru<string, boolean>(1024);

const ANALYSED_CHARS = 256;
const COMMON_WORDS = new Set(
  (
    'password passwd pass secret admin administrator root user login welcome letmein master qwerty ' +
    'dragon monkey shadow sunshine princess football baseball soccer hockey batman superman iloveyou ' +
    'trustno abc test guest default changeme access hello freedom whatever starwars computer internet ' +
    'summer winter spring autumn fall january february march april may june july august september ' +
    'october november december monday tuesday wednesday thursday friday saturday sunday company ' +
    'secure security database server prod production staging dev develop system service token key'
  ).split(' '),
);
const KEYBOARD_ROWS = [
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  '1234567890',
  '!@#$%^&*()',
  'qazwsxedcrfvtgbyhnujmikolp',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p',
];
const LEET: Record<string, string> = {
  '@': 'a',
  '4': 'a',
  '8': 'b',
  '(': 'c',
  '3': 'e',
  '6': 'g',
  '1': 'l',
  '!': 'i',
  '0': 'o',
  $: 's',
  '5': 's',
  '7': 't',
  '+': 't',
  '2': 'z',
};
const SEPARATORS = new Set([' ', '-', '_', '.', ',', '/', ':', ';', '+', '|']);

interface Match {
  start: number;
  end: number;
  bits: number;
}

/** The estimated guessing entropy of `value`, in bits (see the module comment). */
export function estimateBits(value: string): number {
  return estimate(value, true);
}

/** `repeats`: whether to look for repeated blocks (off when costing a block itself: no recursion). */
function estimate(value: string, repeats: boolean): number {
  // Only the first ANALYSED_CHARS characters are analysed (bounded time at add()); a longer value
  // is at least as hard to guess as its prefix.
  const chars = [...value].slice(0, ANALYSED_CHARS);
  const n = chars.length;
  if (n === 0) return 0;
  const pool = poolBits(chars);
  const matches: Match[] = [];
  const lower = chars.map((c) => c.toLowerCase());
  wordMatches(chars, matches);
  dictionaryMatches(chars, matches);
  // Leetspeak (`P@ssw0rd`) is read against the dictionary only: read as generic words, the digits
  // of every hex token would turn into letters. Each substitution costs an attacker about a bit.
  const leet = chars.map((c) => LEET[c] ?? c);
  if (leet.some((c, i) => c !== chars[i])) {
    const sub: Match[] = [];
    dictionaryMatches(leet, sub);
    for (const m of sub) {
      let k = 0;
      for (let i = m.start; i < m.end; i++) if (leet[i] !== chars[i]) k++;
      if (k > 0) matches.push({ ...m, bits: m.bits + k });
    }
  }
  if (pool !== 4) digitMatches(chars, matches);
  sequenceMatches(lower, matches);
  keyboardMatches(lower, matches);
  if (repeats) repeatMatches(chars, pool, matches);
  separatorMatches(chars, matches);

  // Cheapest cover: dp[i] = fewest bits to produce the first i characters.
  const dp = new Array<number>(n + 1).fill(Infinity);
  dp[0] = 0;
  const byEnd: Match[][] = Array.from({ length: n + 1 }, () => []);
  for (const m of matches) {
    const ending = byEnd[m.end];
    // Every match ends within the analysed characters; one that does not is a bug (it threw before too).
    if (!ending) throw new RangeError(`strength: a match ends at ${m.end}, past the ${n} characters analysed`);
    ending.push(m);
  }
  let cost = 0; // dp[i - 1], then dp[i]
  for (const [i, ending] of byEnd.entries()) {
    if (i === 0) continue;
    cost += pool;
    for (const m of ending) {
      const via = dp[m.start]! + m.bits; // m.start < m.end === i, so dp[m.start] is set
      if (via < cost) cost = via;
    }
    dp[i] = cost;
  }
  return cost;
}

/** log2 of the character pool a brute-force attacker would need for this value. */
function poolBits(chars: string[]): number {
  const s = chars.join('');
  if (/^[0-9a-f]+$/.test(s) || /^[0-9A-F]+$/.test(s))
    return /[a-fA-F]/.test(s) && /[0-9]/.test(s) ? 4 : Math.log2(/[0-9]/.test(s) ? 10 : 26);
  let size = 0;
  if (/[a-z]/.test(s)) size += 26;
  if (/[A-Z]/.test(s)) size += 26;
  if (/[0-9]/.test(s)) size += 10;
  if (/[!-/:-@[-`{-~ ]/.test(s)) size += 33;
  if (/[^\x20-\x7e]/.test(s)) size += 100;
  return Math.log2(Math.max(size, 2));
}

const isLetter = (c: string | undefined): c is string => c !== undefined && /^[A-Za-z]$/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isUpperLetter = (c: string | undefined) => isLetter(c) && c === c.toUpperCase();
const isLowerLetter = (c: string | undefined) => isLetter(c) && c === c.toLowerCase();

/** Letter runs split into words at lower→Upper changes (camelCase); word-like runs are cheap. */
function wordMatches(chars: string[], out: Match[]): void {
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    if (!isLetter(c)) {
      i++;
      continue;
    }
    let j = i + 1;
    // A segment: an optional capital, then lowercase; or an all-caps run.
    const upperRun = c === c.toUpperCase();
    if (upperRun && j < chars.length && isUpperLetter(chars[j])) {
      while (j < chars.length && isUpperLetter(chars[j])) j++;
    } else {
      while (j < chars.length && isLowerLetter(chars[j])) j++;
    }
    addWord(chars, i, j, out);
    i = j;
  }
}

function addWord(chars: string[], start: number, end: number, out: Match[]): void {
  const word = chars.slice(start, end).join('');
  const low = word.toLowerCase();
  const caps = word === low ? 0 : 1;
  if (low.length >= 3 && wordLike(low))
    out.push({ start, end, bits: 16 * Math.max(1, Math.round(low.length / 6)) + caps });
}

/** Common password words anywhere (`mysummer`, `adminuser`, `P@ssw0rd` once read as letters). */
function dictionaryMatches(chars: string[], out: Match[]): void {
  const low = chars.map((c) => c.toLowerCase());
  for (let a = 0; a < low.length; a++) {
    if (!isLetter(low[a])) continue;
    let w = '';
    for (let b = a; b < Math.min(low.length, a + 16) && isLetter(low[b]); b++) {
      w += low[b];
      if (w.length >= 3 && COMMON_WORDS.has(w))
        out.push({ start: a, end: b + 1, bits: 6 + (chars[a] !== low[a] ? 1 : 0) });
    }
  }
}

/** The most common English letter pairs (Norvig's counts): ~78% of the pairs in English words. */
const COMMON_BIGRAMS = new Set(
  (
    'th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ' +
    'ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po ' +
    'we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ' +
    'ap gr od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug'
  ).split(' '),
);

/**
 * Natural words have vowels at ~40%, short consonant clusters and mostly common letter pairs;
 * random letters rarely have all three (a random pair is common with probability ~0.25).
 */
function wordLike(low: string): boolean {
  if (low.length >= 6) {
    let common = 0;
    for (let i = 0; i + 1 < low.length; i++) if (COMMON_BIGRAMS.has(low.slice(i, i + 2))) common++;
    if (common / (low.length - 1) < 0.65) return false;
  }
  let vowels = 0;
  let cluster = 0;
  let worst = 0;
  for (const c of low) {
    if ('aeiouy'.includes(c)) {
      vowels++;
      cluster = 0;
    } else {
      cluster++;
      worst = Math.max(worst, cluster);
    }
  }
  return vowels / low.length >= 0.25 && worst <= 3;
}

function digitMatches(chars: string[], out: Match[]): void {
  let i = 0;
  while (i < chars.length) {
    if (!isDigit(chars[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < chars.length && isDigit(chars[j])) j++;
    out.push({ start: i, end: j, bits: 3.32 * (j - i) });
    // A year or a date is a unit only in a short run (`2024`, `Summer2024`, `19870412`): inside a
    // long random number one turns up by chance, and its position would cost the attacker as much.
    if (j - i <= 6) {
      for (let a = i; a + 4 <= j; a++) {
        const y = Number(chars.slice(a, a + 4).join(''));
        if (y >= 1900 && y <= 2099) out.push({ start: a, end: a + 4, bits: 7 });
      }
    }
    if ((j - i === 6 || j - i === 8) && looksLikeDate(chars.slice(i, j).join('')))
      out.push({ start: i, end: j, bits: 15 });
    i = j;
  }
}

function looksLikeDate(d: string): boolean {
  // Six or eight digits read as a date three ways (year first, day first, month first): the
  // month and day of each reading.
  const two = (i: number) => d.substring(i, i + 2);
  const readings: [string, string][] =
    d.length === 8
      ? [
          [two(4), two(6)],
          [two(2), two(0)],
          [two(0), two(2)],
        ]
      : [
          [two(2), two(4)],
          [two(2), two(0)],
          [two(0), two(2)],
        ];
  return readings.some(([m, day]) => Number(m) >= 1 && Number(m) <= 12 && Number(day) >= 1 && Number(day) <= 31);
}

/** Runs where each character is the previous one ±1 (`abcd`, `1234`, `zyx`). */
function sequenceMatches(low: string[], out: Match[]): void {
  let i = 0;
  while (i < low.length - 2) {
    const step = low[i + 1]!.codePointAt(0)! - low[i]!.codePointAt(0)!;
    if (step !== 1 && step !== -1) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < low.length && low[j]!.codePointAt(0)! - low[j - 1]!.codePointAt(0)! === step) j++;
    // Cost: the first character, the length, the direction.
    if (j - i >= 3) out.push({ start: i, end: j, bits: Math.log2(26) + Math.log2(j - i) + 1 });
    i = j - 1;
  }
}

function keyboardMatches(low: string[], out: Match[]): void {
  const s = low.join('');
  for (const row of KEYBOARD_ROWS) {
    for (const r of [row, [...row].reverse().join('')]) {
      for (let a = 0; a < s.length; a++) {
        let b = a;
        while (b < s.length && r.includes(s.slice(a, b + 1))) b++;
        if (b - a >= 4) out.push({ start: a, end: b, bits: 4 + Math.log2(b - a) });
      }
    }
  }
}

/** One character repeated, and a block repeated (`abab`, `hunter2hunter2`). */
function repeatMatches(chars: string[], pool: number, out: Match[]): void {
  const n = chars.length;
  for (let i = 0; i < n; i++) {
    // The shortest repeating block at i only (a longer one repeating is a multiple of it).
    for (let p = 1; p <= Math.floor((n - i) / 2) && p <= 32; p++) {
      let k = 1;
      while (i + (k + 1) * p <= n && sameBlock(chars, i, i + k * p, p)) k++;
      if (k < 2 || (p === 1 && k < 3)) continue;
      const block = p === 1 ? pool : Math.min(estimate(chars.slice(i, i + p).join(''), false), p * pool);
      out.push({ start: i, end: i + k * p, bits: block + Math.log2(k) });
      break;
    }
  }
}

function sameBlock(chars: string[], a: number, b: number, p: number): boolean {
  for (let k = 0; k < p; k++) if (chars[a + k] !== chars[b + k]) return false;
  return true;
}

/** A lone separator between two alphanumerics costs about a bit. */
function separatorMatches(chars: string[], out: Match[]): void {
  const alnum = (c: string | undefined) => c !== undefined && (isLetter(c) || isDigit(c));
  for (let i = 1; i < chars.length - 1; i++) {
    if (SEPARATORS.has(chars[i]!) && alnum(chars[i - 1]) && alnum(chars[i + 1])) {
      out.push({ start: i, end: i + 1, bits: 1 });
    }
  }
}
