import { parseOpts } from './argv.js';
import type { Word } from './words.js';

/** The most runs (and items per run) followed: enough to find a catastrophe, bounded for speed. */
const MAX_RUNS = 8;
const MAX_ITEMS = 64;

/** Options whose effect is modelled (or does not change what runs); any other gives up. */
const KNOWN_SHORT: ReadonlySet<string> = new Set(['0', 'r', 't', 'x', 'I', 'i', 'L', 'l', 'n', 'P', 'd', 's']);
const KNOWN_LONG: ReadonlySet<string> = new Set([
  'null',
  'no-run-if-empty',
  'verbose',
  'exit',
  'replace',
  'max-lines',
  'max-args',
  'max-procs',
  'delimiter',
  'max-chars',
]);

/**
 * The argvs `xargs ARGS` runs when its standard input is the static `input`, or undefined when the
 * guard cannot be sure (a dynamic word, an option it does not model, quotes or backslashes that
 * xargs would process). Batching (-n, -L) is ignored: every item is appended to one run, which
 * holds every argument any real run would (a superset is what a judge needs).
 */
export function xargsRuns(args: readonly Word[], input: string): string[][] | undefined {
  if (args.some((w) => w.dynamic)) return undefined;
  // -i and -l take their (optional) value attached only, so they are plain flags here.
  const o = parseOpts(
    args,
    'ILnPdEsa',
    ['replace', 'max-lines', 'max-args', 'max-procs', 'delimiter', 'eof', 'max-chars', 'arg-file', 'process-slot-var'],
    true,
  );
  for (const f of o.short) if (!KNOWN_SHORT.has(f)) return undefined;
  for (const f of o.long.keys()) if (!KNOWN_LONG.has(f)) return undefined;
  const inner = o.pos.map((w) => w.text);
  const cmd = inner.length ? inner : ['echo'];
  const replace = o.values.get('I') ?? o.long.get('replace') ?? (o.short.has('i') ? '{}' : undefined);

  let items: string[];
  const delim = o.short.has('0') || o.long.has('null') ? '\0' : (o.values.get('d') ?? o.long.get('delimiter'));
  if (replace !== undefined) {
    // -I: one run per input line, leading blanks dropped, the line replacing every occurrence.
    if (/["'\\]/.test(input)) return undefined;
    items = input
      .split('\n')
      .map((l) => l.replace(/^[ \t]+/, ''))
      .filter((l) => l !== '');
    return items.slice(0, MAX_RUNS).map((item) => cmd.map((a) => a.split(replace).join(item)));
  }
  if (delim !== undefined) {
    const d = delim === '\\n' ? '\n' : delim === '\\t' ? '\t' : delim === '\\0' ? '\0' : delim;
    if (d.length !== 1) return undefined;
    items = input.split(d);
    if (items[items.length - 1] === '' || (d !== '\n' && items[items.length - 1] === '\n')) items.pop();
  } else {
    // The default: blank-separated items, with xargs' own quoting (not modelled: give up on it).
    if (/["'\\]/.test(input)) return undefined;
    items = input.split(/[ \t\n]+/).filter((s) => s !== '');
  }
  if (!items.length) return o.short.has('r') || o.long.has('no-run-if-empty') ? [] : [cmd];
  return [[...cmd, ...items.slice(0, MAX_ITEMS)]];
}
