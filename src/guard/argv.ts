import type { SimpleCommand } from './extract.js';
import type { Word } from './words.js';

/** One argv as the rules see it: program name resolved from its path, flags parsed. */
export interface View {
  /** Program basename (`/usr/bin/rm` -> `rm`, `rm.exe` -> `rm`). */
  prog: string;
  /** The command word as written (after quote removal). */
  path: string;
  args: Word[];
  sc: SimpleCommand;
  depth: number;
  /** Text reported as `matched`. */
  text: string;
}

export function progName(word: string): string {
  let b = word.slice(word.lastIndexOf('/') + 1);
  if (b.toLowerCase().endsWith('.exe')) b = b.slice(0, -4);
  return b;
}

export interface Opts {
  short: ReadonlySet<string>;
  long: ReadonlyMap<string, string>;
  values: ReadonlyMap<string, string>;
  pos: Word[];
  /** Index in args of each positional. */
  posIdx: number[];
  dynamicFlag: boolean;
}

/** Shared empty flag collections: most argvs have few kinds of flags, and rules only read them. */
const NO_SHORT: ReadonlySet<string> = new Set();
const NO_LONG: ReadonlyMap<string, string> = new Map();

/**
 * Parses flags so order, grouping and long spellings don't matter: `-rf`, `-r -f`, `-fr`,
 * `--recursive --force`. `valueShort` lists short options that take a value; `valueLong` the
 * long ones. `stopAtPositional` stops at the first operand (for wrappers: the rest is a command).
 * The flag collections are created on first use (three per call were a large share of the guard's
 * allocations); absent ones are shared empty, read-only collections.
 */
export function parseOpts(
  args: readonly Word[],
  valueShort = '',
  valueLong: readonly string[] = [],
  stopAtPositional = false,
): Opts {
  let short: Set<string> | undefined;
  let long: Map<string, string> | undefined;
  let values: Map<string, string> | undefined;
  const pos: Word[] = [];
  const posIdx: number[] = [];
  let dynamicFlag = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const a = w.text;
    if (a === '--') {
      for (let j = i + 1; j < args.length; j++) {
        pos.push(args[j]!);
        posIdx.push(j);
      }
      break;
    }
    if (w.dynamic && a.startsWith('$')) dynamicFlag = true;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      let val = eq < 0 ? '' : a.slice(eq + 1);
      if (eq < 0 && valueLong.includes(name) && i + 1 < args.length) val = args[++i]!.text;
      (long ??= new Map()).set(name, val);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const ch = a.charAt(k);
        (short ??= new Set()).add(ch);
        if (valueShort.includes(ch)) {
          const rest = a.slice(k + 1);
          const val = rest.length ? rest : i + 1 < args.length ? args[++i]!.text : '';
          (values ??= new Map()).set(ch, val);
          break;
        }
      }
      continue;
    }
    pos.push(w);
    posIdx.push(i);
    if (stopAtPositional) {
      for (let j = i + 1; j < args.length; j++) {
        pos.push(args[j]!);
        posIdx.push(j);
      }
      break;
    }
  }
  return { short: short ?? NO_SHORT, long: long ?? NO_LONG, values: values ?? NO_LONG, pos, posIdx, dynamicFlag };
}

export function has(o: Opts, short: string, ...long: string[]): boolean {
  for (const c of short) if (o.short.has(c)) return true;
  for (const l of long) if (o.long.has(l)) return true;
  return false;
}

/** First non-option word (a subcommand), skipping options that take values. */
export function subcommand(args: readonly Word[], valueOpts: readonly string[] = []): { sub: string; index: number } {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.text;
    if (a === '--') return { sub: args[i + 1]?.text ?? '', index: i + 1 };
    if (a.startsWith('-')) {
      if (valueOpts.includes(a)) i++;
      continue;
    }
    return { sub: a, index: i };
  }
  return { sub: '', index: -1 };
}

export function texts(ws: readonly Word[]): string[] {
  return ws.map((w) => w.text);
}
