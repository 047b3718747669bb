/**
 * Masks secrets in a terminal byte stream (`gatehouse run --mask`, issue 20 item 7) without
 * breaking the terminal: colours, cursor moves and every other escape sequence reach the terminal
 * whole and in order, and the text between them goes through the vault's streaming scrubber (key
 * shapes: Anthropic, OpenAI, AWS, GitHub, Gatehouse tokens, bearer tokens, private keys…; vault
 * values in their encodings), the same scrubber every other channel uses.
 *
 *   bytes -> escape parser -> text without the sequences -> scrubber 1
 *         -> its text, one ESC byte put back where each sequence was -> scrubber 2
 *         -> each ESC byte it gives back replaced by its sequence -> terminal
 *
 * Two scrubbers, because neither view alone sees everything:
 * - Scrubber 1 sees the text with the sequences REMOVED, so a secret with colour codes or cursor
 *   moves between its characters (`sk-ant-ab\x1b[1mcd…`, a known way around naive masking) is
 *   one secret to it, matched whole (a run of key characters is never cut by a sequence there).
 *   Sequences inside a secret it replaces move to just after the replacement, in order; the rest
 *   go back exactly where they were (an edit path between its input and output says where).
 * - Scrubber 2 sees that output with each sequence as one ESC byte: a sequence is a word
 *   boundary, as when raw bytes are scrubbed (`…world\x1b[Hsk-ant-…` on a new screen position:
 *   the key starts a word there, and is masked although `worldsk-ant-…` would not be). Each ESC
 *   byte it gives back says exactly where its sequence goes. It runs second because its view
 *   cuts key-character runs at sequences: first, it could mask half a split key and leave the
 *   rest for nobody.
 * - Sequences never enter a scrubber, so a replacement never eats a byte of one.
 *
 * INVARIANTS:
 * - Every text byte that reaches the terminal came out of both scrubbers: what is emitted as text
 *   is exactly scrubber 2's output. Where the sequences go is computed separately and can only
 *   move a sequence, never let a text byte past a scrubber.
 * - Escape sequences are emitted whole and in their original order (OSC/DCS/APC/PM/SOS strings
 *   with their payload scrubbed on its own; a replacement holds no control character, so the
 *   string stays well formed).
 * - Memory is bounded: each scrubber holds at most its own hold-back (a possible secret start),
 *   and pending escape bytes or held text past `maxPendingBytes` release everything at once.
 *
 * A secret split across two reads is masked: the scrubbers hold back a tail that could be the
 * start of a match until the next read completes it or rules it out. Held text is released after
 * `quietMs` without output, so a prompt without a newline, or a typed and echoed character, shows
 * within that time.
 *
 * NOT covered (the README's security model says so): what the terminal DRAWS is not reconstructed.
 * A program that paints a secret out of order (cursor positioning, `\r` or `\b` overwrites), in
 * separate screen regions, slowly with pauses longer than `quietMs`, or transformed (reversed,
 * spaced out, in an encoding the redactor does not decode) gets it on screen; so does a secret
 * split between text and an OSC/DCS payload, or one cut by a forced release (over
 * `maxPendingBytes` of escape sequences queued behind held text). 8-bit C1 controls (U+009B as
 * CSI) are taken as text. Masking protects against accidental exposure (an agent printing `env` or a config file on
 * a shared or recorded screen), not against a program that sets out to show a secret.
 */
import type { FlushableRewriter } from '../core/index.js';

/** The vault's scrubbing sets (`Redactor`, `Scrub`) offer this. */
export interface StreamScrubberSource {
  createScrubber(): FlushableRewriter;
}

export interface TerminalMaskerOptions {
  /** Release what is held after this long without output. */
  quietMs?: number;
  /** Pending escape bytes or held text past this release everything at once (a memory bound). */
  maxPendingBytes?: number;
}

/**
 * 30 ms: below what a person notices in an echo, above the gap between the writes of a program
 * printing one line (a secret split by a longer pause is the documented "slow printing" limit).
 */
export const MASK_QUIET_MS = 30;
/** Far above the scrubbers' own hold-back (a few KiB; 16 KiB for an open private key block). */
export const MAX_PENDING = 256 * 1024;

const ESC = 0x1b;
const ESC_CHAR = '\x1b';
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;

type State = 'ground' | 'esc' | 'escInter' | 'csi' | 'str' | 'strEsc';

/** One escape sequence: its bytes not emitted yet, and whether its place has been emitted. */
interface Escape {
  parts: Buffer[];
  emitted: boolean;
}

/** An escape anchored before position `at` of scrubber 1's held text. */
interface Anchored {
  at: number;
  esc: Escape;
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Edit paths longer than this (a replaced private key block) fall back to prefix/suffix alignment. */
const MAX_EDIT = 1024;

export class TerminalMasker {
  readonly #source: StreamScrubberSource;
  readonly #emit: (b: Buffer) => void;
  readonly #quietMs: number;
  readonly #maxPending: number;
  /** Scrubber 1 (sequences removed). INVARIANT (kept by #settle1): its buffer equals #text1. */
  #scrub1: FlushableRewriter;
  /** Text given to scrubber 1 and not released by it yet (latin1: one char per byte). */
  #text1 = '';
  /** How much of the end of #text1 scrubber 1 has not been given yet. */
  #new1 = 0;
  /** Escapes waiting in scrubber 1's text; `at` is non-decreasing. */
  #anchored: Anchored[] = [];
  /** Scrubber 2 (sequences as ESC bytes) and what it has not been given yet. */
  #scrub2: FlushableRewriter;
  #new2 = '';
  /** Escapes whose ESC byte scrubber 2 has not given back yet, in order. */
  #queue: Escape[] = [];
  /** Bytes of escapes not emitted yet. */
  #escBytes = 0;
  /** The escape being parsed. */
  #cur: Escape | undefined;
  #state: State = 'ground';
  /** Whether the open string is an OSC (BEL ends it, as in xterm; not DCS/APC/PM/SOS). */
  #osc = false;
  /** Scrubs the payload of the open string sequence. */
  #payload: FlushableRewriter | undefined;
  #out: Buffer[] = [];
  #quiet: NodeJS.Timeout | undefined;
  #ended = false;

  /** @param emit receives the masked bytes, in order */
  constructor(source: StreamScrubberSource, emit: (b: Buffer) => void, opts: TerminalMaskerOptions = {}) {
    this.#source = source;
    this.#emit = emit;
    this.#quietMs = opts.quietMs ?? MASK_QUIET_MS;
    this.#maxPending = opts.maxPendingBytes ?? MAX_PENDING;
    this.#scrub1 = source.createScrubber();
    this.#scrub2 = source.createScrubber();
  }

  /** Raw bytes from the program's terminal. */
  push(chunk: Buffer): void {
    if (this.#ended || chunk.length === 0) return;
    this.#parse(chunk);
    this.#release(false);
    this.#arm();
  }

  /** Releases everything held (the quiet timer calls it); the stream goes on. */
  flush(): void {
    if (this.#ended) return;
    this.#disarm();
    this.#release(true);
  }

  /** The stream ended: everything left is scrubbed and emitted. */
  end(): void {
    if (this.#ended) return;
    this.#disarm();
    // An unterminated string sequence: its payload is scrubbed like the rest.
    if (this.#payload) this.#appendEsc(this.#payload.end());
    this.#payload = undefined;
    if (this.#state === 'strEsc') this.#appendEsc(Buffer.from([ESC]));
    this.#release(true, true);
    this.#ended = true;
  }

  // --- parsing --------------------------------------------------------------------------------

  #parse(b: Buffer): void {
    const n = b.length;
    let i = 0;
    while (i < n) {
      if (this.#state === 'ground') {
        const j = b.indexOf(ESC, i);
        const end = j < 0 ? n : j;
        if (end > i) {
          this.#text1 += b.toString('latin1', i, end);
          this.#new1 += end - i;
        }
        if (j < 0) break;
        this.#begin();
        i = j + 1;
        continue;
      }
      const c = b[i] as number;
      switch (this.#state) {
        case 'esc':
          if (c === 0x5b) {
            this.#appendEsc(b.subarray(i, i + 1));
            this.#state = 'csi';
          } else if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) {
            // OSC ] , DCS P, SOS X, PM ^, APC _: strings whose payload may hold a secret (a window
            // title, a hyperlink, a clipboard write) and is scrubbed on its own.
            this.#appendEsc(b.subarray(i, i + 1));
            this.#state = 'str';
            this.#osc = c === 0x5d;
            this.#payload = this.#source.createScrubber();
          } else if (c >= 0x20 && c <= 0x2f) {
            this.#appendEsc(b.subarray(i, i + 1));
            this.#state = 'escInter';
          } else if (c === ESC) {
            this.#finish();
            this.#begin();
          } else if ((c >= 0x30 && c <= 0x7e) || c === CAN || c === SUB) {
            this.#appendEsc(b.subarray(i, i + 1));
            this.#finish();
          } else if (c < 0x20) {
            // A terminal executes a C0 control inside a sequence and goes on: never text.
            this.#appendEsc(b.subarray(i, i + 1));
          } else {
            this.#finish();
            continue; // DEL or a high byte: the sequence is over and the byte is text
          }
          i++;
          break;
        case 'escInter':
        case 'csi': {
          const csi = this.#state === 'csi';
          // Parameter and intermediate bytes (CSI: 0x20-0x3f; ESC: 0x20-0x2f), taken as a run.
          let k = i;
          while (k < n && (b[k] as number) >= 0x20 && (b[k] as number) <= (csi ? 0x3f : 0x2f)) k++;
          if (k > i) this.#appendEsc(b.subarray(i, k));
          if (k === n) {
            i = n;
            break;
          }
          const f = b[k] as number;
          if (f === ESC) {
            this.#finish();
            this.#begin();
          } else if ((f >= (csi ? 0x40 : 0x30) && f <= 0x7e) || f === CAN || f === SUB) {
            this.#appendEsc(b.subarray(k, k + 1));
            this.#finish();
          } else if (f < 0x20) {
            this.#appendEsc(b.subarray(k, k + 1));
          } else {
            this.#finish();
            i = k;
            continue;
          }
          i = k + 1;
          break;
        }
        case 'str': {
          let k = i;
          while (k < n) {
            const x = b[k] as number;
            if (x === ESC || x === CAN || x === SUB || (this.#osc && x === BEL)) break;
            k++;
          }
          if (k > i) this.#appendEsc((this.#payload as FlushableRewriter).push(b.subarray(i, k)));
          if (k === n) {
            i = n;
            break;
          }
          const x = b[k] as number;
          if (x === ESC) {
            this.#state = 'strEsc';
          } else {
            this.#appendEsc((this.#payload as FlushableRewriter).end());
            this.#payload = undefined;
            this.#appendEsc(b.subarray(k, k + 1));
            this.#finish();
          }
          i = k + 1;
          break;
        }
        case 'strEsc': {
          this.#appendEsc((this.#payload as FlushableRewriter).end());
          this.#payload = undefined;
          if (c === 0x5c) {
            // ST (ESC \) ends the string.
            this.#appendEsc(Buffer.from([ESC, c]));
            this.#finish();
            i++;
          } else {
            // An ESC inside a string ends it (as in xterm) and starts a new sequence.
            this.#finish();
            this.#begin();
          }
          break;
        }
      }
    }
  }

  #begin(): void {
    this.#cur = { parts: [], emitted: false };
    this.#anchored.push({ at: this.#text1.length, esc: this.#cur });
    this.#state = 'esc';
    this.#appendEsc(Buffer.from([ESC]));
  }

  #appendEsc(b: Buffer): void {
    if (b.length === 0 || !this.#cur) return;
    if (this.#cur.emitted) {
      // Its place was emitted: everything before it is out, and nothing after it has been parsed
      // yet (it is still open), so the rest of it goes out now.
      this.#emit(b);
      return;
    }
    this.#cur.parts.push(b);
    this.#escBytes += b.length;
    // INVARIANT: pending escape bytes stay under the bound (everything is released past it).
    if (this.#escBytes > this.#maxPending) this.#release(true);
  }

  #finish(): void {
    this.#cur = undefined;
    this.#state = 'ground';
    this.#osc = false;
  }

  // --- releasing ------------------------------------------------------------------------------

  /**
   * Runs the new text through both scrubbers and emits what comes out; with `all`, everything
   * held (`last`: the stream ends).
   */
  #release(all: boolean, last = false): void {
    if (this.#new1 > 0) {
      const fresh = this.#text1.slice(this.#text1.length - this.#new1);
      this.#new1 = 0;
      this.#settle1(this.#scrub1.push(latin1(fresh)).toString('latin1'), false);
    } else if (!all) {
      // Nothing new for scrubber 1: only escapes after text it fully released can move on.
      this.#settle1('', false);
    }
    if (all) this.#settle1((last ? this.#scrub1.end() : this.#scrub1.flush()).toString('latin1'), true);
    if (this.#new2) {
      const fresh = this.#new2;
      this.#new2 = '';
      this.#from2(this.#scrub2.push(latin1(fresh)).toString('latin1'));
    }
    if (all) {
      this.#from2((last ? this.#scrub2.end() : this.#scrub2.flush()).toString('latin1'));
      // Scrubber 2 gave back everything: a sequence whose ESC byte a replaced span swallowed
      // (only a private key block can span one) goes right after it.
      for (const esc of this.#queue) this.#emitEsc(esc);
      this.#queue = [];
    }
    if (this.#out.length > 0) {
      const b = Buffer.concat(this.#out);
      this.#out = [];
      this.#emit(b);
    }
    if (this.#text1.length > this.#maxPending) this.#release(true);
  }

  /**
   * `out` is what scrubber 1 released for a prefix of #text1. Finds how long that prefix is and
   * hands `out` to scrubber 2 with an ESC byte where each escape of that prefix goes.
   */
  #settle1(out: string, all: boolean): void {
    const text = this.#text1;
    let used: number;
    if (all) used = text.length;
    else if (text.startsWith(out)) used = out.length;
    else used = this.#consumed(text);
    // An escape at `used` comes before text still held, unless nothing is held.
    const limit = used === text.length ? used + 1 : used;
    let k = 0;
    while (k < this.#anchored.length && (this.#anchored[k] as Anchored).at < limit) k++;
    const escs = this.#anchored.slice(0, k);
    this.#anchored = this.#anchored.slice(k);
    for (const a of this.#anchored) a.at -= used;
    this.#text1 = text.slice(used);
    const src = text.slice(0, used);
    const places = src === out ? escs.map((a) => a.at) : placesIn(src, out, escs);
    let pos = 0;
    escs.forEach((a, i) => {
      // Places never go back (see placesIn); kept so even if not: the text is exactly `out`.
      const y = Math.max(pos, Math.min(out.length, places[i] as number));
      this.#new2 += out.slice(pos, y) + ESC_CHAR;
      pos = y;
      this.#queue.push(a.esc);
    });
    this.#new2 += out.slice(pos);
  }

  /** Scrubber 2's output: text as is, each ESC byte replaced by its sequence (in order). */
  #from2(out: string): void {
    let i = 0;
    for (let j = out.indexOf(ESC_CHAR); j >= 0; j = out.indexOf(ESC_CHAR, i)) {
      if (j > i) this.#out.push(latin1(out.slice(i, j)));
      // Every ESC byte scrubber 2 holds is one of ours (a replacement never contains one).
      const esc = this.#queue.shift();
      if (esc) this.#emitEsc(esc);
      i = j + 1;
    }
    if (i < out.length) this.#out.push(latin1(out.slice(i)));
  }

  #emitEsc(esc: Escape): void {
    for (const p of esc.parts) {
      this.#out.push(p);
      this.#escBytes -= p.length;
    }
    esc.parts = [];
    esc.emitted = true;
  }

  /**
   * How much of `text` scrubber 1 consumed when its output holds a replacement: a fresh scrubber
   * given the same buffer holds back the same tail, which it gives back on `end()` (unchanged
   * unless the tail itself holds a match; then the length is an estimate). Only where escapes go
   * depends on it, and the next release of everything puts it right again.
   */
  #consumed(text: string): number {
    const probe = this.#source.createScrubber();
    probe.push(latin1(text));
    const rest = probe.end().toString('latin1');
    return Math.max(0, Math.min(text.length, text.length - rest.length));
  }

  /** After output, what is held is released once `quietMs` pass without more. */
  #arm(): void {
    this.#disarm();
    this.#quiet = setTimeout(() => this.flush(), this.#quietMs);
    this.#quiet.unref();
  }

  #disarm(): void {
    if (this.#quiet) clearTimeout(this.#quiet);
    this.#quiet = undefined;
  }
}

/**
 * Where each escape anchored in `src` goes in `out` (scrubbed `src`: spans replaced). From an
 * edit path between them: an escape before a kept character goes before that character; at the
 * start of a replaced span, before its replacement; inside or at the end of one, after it.
 */
function placesIn(src: string, out: string, escs: readonly Anchored[]): number[] {
  const n = src.length;
  const m = out.length;
  // keptAt[x]: where src[x] is in out, or -1 when it was replaced.
  const keptAt = new Int32Array(n).fill(-1);
  let p = 0;
  while (p < n && p < m && src.charCodeAt(p) === out.charCodeAt(p)) keptAt[p] = p++;
  let s = 0;
  while (s < n - p && s < m - p && src.charCodeAt(n - 1 - s) === out.charCodeAt(m - 1 - s)) {
    keptAt[n - 1 - s] = m - 1 - s;
    s++;
  }
  // The middle: an exact edit path when it is short, else all of it counts as replaced.
  const path = editPath(src.slice(p, n - s), out.slice(p, m - s), MAX_EDIT);
  if (path) for (const [x, y] of path) keptAt[p + x] = p + y;
  return escs.map(({ at }) => {
    if (at >= n) return m;
    if (keptAt[at] !== -1) return keptAt[at] as number;
    if (at === 0 || keptAt[at - 1] !== -1) return at === 0 ? 0 : (keptAt[at - 1] as number) + 1;
    let e = at;
    while (e < n && keptAt[e] === -1) e++;
    return e === n ? m : (keptAt[e] as number);
  });
}

/**
 * The kept characters of a shortest edit path from `a` to `b` (Myers' O(ND) diff), as pairs of
 * positions; undefined when the path is longer than `maxD` edits.
 */
function editPath(a: string, b: string, maxD: number): Array<[number, number]> | undefined {
  const n = a.length;
  const m = b.length;
  const off = maxD + 1;
  const v = new Int32Array(2 * maxD + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= maxD && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number))
          ? (v[off + k + 1] as number)
          : (v[off + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a.charCodeAt(x) === b.charCodeAt(y)) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    trace.push(v.slice(off - d - 1, off + d + 2));
  }
  if (found < 0) return undefined;
  const at = (d: number, k: number): number => (trace[d] as Int32Array)[k + d + 1] as number;
  const kept: Array<[number, number]> = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const k = x - y;
    const prevK = k === -d || (k !== d && at(d - 1, k - 1) < at(d - 1, k + 1)) ? k + 1 : k - 1;
    const px = at(d - 1, prevK);
    const py = px - prevK;
    // The diagonal run that ends at (x, y) starts one edit after (px, py).
    const sx = prevK === k + 1 ? px : px + 1;
    while (x > sx) {
      x--;
      y--;
      kept.push([x, y]);
    }
    x = px;
    y = py;
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    kept.push([x, y]);
  }
  return kept;
}
