import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GatehouseError } from '../core/index.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs in strict mode; unknown flags and missing values become `usage` errors. */
export function parse<O extends Options>(args: string[], options: O, opts: { positionals?: boolean } = {}) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: opts.positionals ?? true });
  } catch (e) {
    throw new GatehouseError('usage', (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''), {
      hint: 'run `gatehouse help` for usage',
    });
  }
}

export function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : text + '\n');
}

/**
 * The one positional argument of a command that has checked (before touching the store) that
 * there is exactly one; a usage error if not.
 */
export function onlyPositional(positionals: readonly string[]): string {
  const [one] = positionals;
  if (one === undefined || positionals.length !== 1) {
    throw new GatehouseError('usage', `expected one argument, got ${positionals.length}`, {
      hint: 'run `gatehouse help` for usage',
    });
  }
  return one;
}

/** Renders rows as aligned columns for humans (`--json` gives machines the real data). */
export function table(rows: Record<string, string>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  // One width per column (padEnd without a width pads nothing, as before).
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))].join(
    '\n',
  );
}
