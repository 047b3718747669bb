/**
 * Bounded nesting for JSON that an agent or an upstream supplies. V8 parses JSON without
 * recursion, but `JSON.stringify` (MCP results, request bodies, digests) recurses and overflows
 * the stack somewhere past a few thousand levels, which surfaced as an untyped `internal` error
 * (issue 13.12: a body nested 400,000 arrays deep). Both walks here are iterative and stop as
 * soon as the limit is passed, so their cost is bounded by the input's size, never its depth.
 *
 * This module loads nothing else: tools import it at cold start.
 */
import { GatehouseError } from '../core/index.js';

/**
 * Deepest nesting of arrays and objects accepted in a JSON body or returned as parsed JSON. No
 * API we know of nests this deep; V8's recursive JSON.stringify fails far beyond it (about 5,000
 * levels on Node 20's default stack, fewer with a replacer or a deep call stack).
 */
export const MAX_JSON_DEPTH = 128;

/**
 * The nesting depth of a JSON text, counting `[` and `{` outside strings; stops and returns
 * `max + 1` as soon as the depth passes `max`. Not a validator: malformed text is measured as far
 * as it goes.
 */
export function jsonTextDepth(text: string, max: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return max + 1;
      }
    } else if (c === 0x5d || c === 0x7d) {
      if (depth > 0) depth--;
    }
  }
  return deepest;
}

/** Whether a value nests arrays and objects more than `max` levels deep (a cycle counts as too deep). */
export function valueTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) return true;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return false;
}

export function tooDeep(what: string, max: number = MAX_JSON_DEPTH): GatehouseError {
  return new GatehouseError('invalid_input', `${what} nests arrays or objects more than ${max} levels deep`, {
    hint: `flatten the structure to at most ${max} levels, or send it as a string`,
    details: { maxDepth: max },
  });
}

/** A JSON request body as text, refusing a value nested past `max` with `invalid_input` (never a stack overflow). */
export function jsonBodyText(value: unknown, max: number = MAX_JSON_DEPTH): string {
  if (valueTooDeep(value, max)) throw tooDeep('the request body', max);
  return JSON.stringify(value);
}
