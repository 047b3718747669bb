import { cutText, GatehouseError, truncateText } from '../core/index.js';
import { FIELD_SRC, NAME_SRC } from './names.js';

/**
 * Handle grammar (what agents write in api_request headers/query/body and in ssh/exec env):
 *
 *   {{vault:VAULT/ITEM.FIELD}}            the field's value (same as |raw)
 *   {{vault:VAULT/ITEM.FIELD|FILTER}}     FILTER: raw | base64 | base64url | urlencode | hex | json
 *   {{vault:VAULT/ITEM|basic}}            base64("<username>:<password>") from the item's fields
 *                                         `username` and `password`, for `Authorization: Basic ...`
 *
 * Names: VAULT and ITEM use [A-Za-z0-9_.-] (first char not '.' or '-'); FIELD uses [A-Za-z0-9_-]
 * and is what follows the LAST dot, so `{{vault:ops/api.example.com.token}}` is item
 * `api.example.com`, field `token`.
 *
 * Escaping: only the sequence `{{vault:` is special; any other `{{` passes through untouched.
 * Backslashes directly before `{{vault:` work like C escapes: `\{{vault:x}}` is the literal text
 * `{{vault:x}}` (the backslash is removed); `\\{{vault:a/b.c}}` is a literal backslash followed by
 * the filled value. Backslashes anywhere else are left alone.
 *
 * INVARIANT: an unescaped `{{vault:` that is not a well-formed handle refuses the whole request
 * (fail closed) rather than being sent on as text.
 */
export type HandleFilter = 'raw' | 'base64' | 'base64url' | 'urlencode' | 'hex' | 'json' | 'basic';
const FILTERS: ReadonlySet<string> = new Set(['raw', 'base64', 'base64url', 'urlencode', 'hex', 'json', 'basic']);

export interface ParsedHandle {
  /** The handle as written, e.g. `{{vault:ops/api.token|base64}}` (names only: safe to show). */
  text: string;
  vault: string;
  item: string;
  /** Undefined for `|basic` (uses fields username + password). */
  field?: string;
  filter: HandleFilter;
}

export type Segment = { kind: 'text'; text: string } | { kind: 'handle'; handle: ParsedHandle };

const OPEN = /(\\*)\{\{vault:/g;
const BODY = new RegExp(`^(${NAME_SRC})/(${NAME_SRC})(?:\\|([a-z0-9]{1,16}))?\\}\\}`);
const ITEM_FIELD = new RegExp(`^(${NAME_SRC})\\.(${FIELD_SRC})$`);

export function hasHandles(text: string): boolean {
  return text.includes('{{vault:');
}

/** Splits text into literal segments and handles; throws vault_handle_refused on a malformed handle. */
export function parseHandles(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  let lit = '';
  OPEN.lastIndex = 0;
  for (let m = OPEN.exec(text); m; m = OPEN.exec(text)) {
    const slashes = m[1]!.length; // group 1 of OPEN always takes part (possibly empty)
    lit += text.slice(last, m.index) + '\\'.repeat(slashes >> 1);
    const bodyStart = m.index + m[0].length;
    if (slashes % 2 === 1) {
      lit += '{{vault:';
      last = bodyStart;
      continue;
    }
    const rest = text.slice(bodyStart, bodyStart + 400);
    const b = BODY.exec(rest);
    const vault = b?.[1];
    const item = b?.[2];
    const close = rest.indexOf('}}');
    const shown = `{{vault:${truncateText(close > 0 ? rest.slice(0, close) : cutText(rest, 60), 200)}}}`;
    if (!b || vault === undefined || item === undefined) {
      throw refused(
        shown,
        'it is not a well-formed handle (write {{vault:VAULT/ITEM.FIELD}}, optionally with |raw, |base64, ' +
          '|base64url, |urlencode, |hex, |json; or {{vault:VAULT/ITEM|basic}}; escape a literal as \\{{vault:)',
      );
    }
    const filter = (b[3] ?? 'raw') as HandleFilter;
    if (!FILTERS.has(filter)) throw refused(shown, `unknown filter |${filter}`);
    const handleText = `{{vault:${b[0]}`;
    let handle: ParsedHandle;
    if (filter === 'basic') {
      handle = { text: handleText, vault, item, filter };
    } else {
      const f = ITEM_FIELD.exec(item);
      const itemName = f?.[1];
      const field = f?.[2];
      if (itemName === undefined || field === undefined || itemName.endsWith('.')) {
        throw refused(handleText, 'it names no field (write VAULT/ITEM.FIELD)');
      }
      handle = { text: handleText, vault, item: itemName, field, filter };
    }
    if (lit) out.push({ kind: 'text', text: lit });
    lit = '';
    out.push({ kind: 'handle', handle });
    last = bodyStart + b[0].length;
    OPEN.lastIndex = last;
  }
  lit += text.slice(last);
  if (lit) out.push({ kind: 'text', text: lit });
  return out;
}

export function applyFilter(value: string, filter: Exclude<HandleFilter, 'basic'>): string {
  switch (filter) {
    case 'raw':
      return value;
    case 'base64':
      return Buffer.from(value, 'utf8').toString('base64');
    case 'base64url':
      return Buffer.from(value, 'utf8').toString('base64url');
    case 'urlencode':
      return encodeURIComponent(value);
    case 'hex':
      return Buffer.from(value, 'utf8').toString('hex');
    case 'json':
      return JSON.stringify(value).slice(1, -1);
  }
}

/** The refusal error. INVARIANT: it carries the handle (names only) and the reason, never a value. */
export function refused(handleText: string, reason: string, hint?: string): GatehouseError {
  return new GatehouseError('vault_handle_refused', `vault handle ${handleText} refused: ${reason}`, {
    hint: hint ?? 'use vault_search to find handles usable for this destination',
    details: { handle: handleText },
  });
}
