import { GatehouseError } from '../core/index.js';
import { canonicalJson } from './signed-rows.js';
import { MAX_BODY_BYTES, type ItemContent, type KnowledgeKind, type Scope } from './types.js';

const SEGMENT = /^[\p{L}\p{N}._ -]{1,128}$/u;
const TAG = /^[\p{L}\p{N}_-]{1,64}$/u;
const SCOPE = /^(?:org|proposal:org|draft:org|(?:token|user):[\p{L}\p{N}._@-]{1,200}|ns:[a-z0-9][a-z0-9_-]{0,62})$/u;
export const MAX_KEY_CHARS = 512;
export const MAX_TAGS = 32;
const MAX_TITLE_CHARS = 200;
/** UTF-16 units: room for a skill description of 1024 characters outside the BMP's simplest range. */
const MAX_SUMMARY_CHARS = 2048;
/** A version's meta, as canonical JSON. */
export const MAX_META_BYTES = 64 * 1024;

const invalid = (message: string, hint: string) => new GatehouseError('invalid_input', message, { hint });

/** A scope as the tools build it from a principal; anything else is a bug in the caller. */
export function checkScope(scope: Scope): Scope {
  if (!SCOPE.test(scope)) throw new GatehouseError('internal', `not a knowledge scope: ${JSON.stringify(scope)}`);
  return scope;
}

/**
 * An item's key (a memory path, a skill name, a wiki slug): segments separated by `/`, each of
 * letters, digits, `.`, `_`, `-` and spaces, never `.` or `..`, no leading or trailing `/`. Keys
 * are names inside a scope, not file paths, but they are shown as paths (`/memories/org/…`), so
 * nothing that reads as a traversal is accepted.
 */
export function checkKey(key: string): string {
  const k = key.normalize('NFC');
  if (k.length === 0 || k.length > MAX_KEY_CHARS)
    throw invalid(`a key must be 1 to ${MAX_KEY_CHARS} characters`, 'use a short path such as notes/deploy.md');
  for (const seg of k.split('/')) {
    if (!SEGMENT.test(seg) || seg === '.' || seg === '..' || seg.trim() !== seg) {
      throw invalid(
        `the key ${JSON.stringify(key)} is not a valid path`,
        'use segments of letters, digits, ".", "_", "-" or spaces separated by "/", without "." or ".." segments',
      );
    }
  }
  return k;
}

/** Checks and normalises what a version will hold (tags trimmed, de-duplicated, in order). */
export function checkContent(kind: KnowledgeKind, c: ItemContent): ItemContent {
  if (c.title.length > MAX_TITLE_CHARS) throw invalid(`the title is over ${MAX_TITLE_CHARS} characters`, 'shorten it');
  if (c.summary.length > MAX_SUMMARY_CHARS)
    throw invalid(`the summary is over ${MAX_SUMMARY_CHARS} characters`, 'shorten it; the body holds the rest');
  const tags = [...new Set(c.tags.map((t) => t.trim()))];
  if (tags.length > MAX_TAGS) throw invalid(`at most ${MAX_TAGS} tags`, 'keep the few that help to find it');
  for (const t of tags)
    if (!TAG.test(t)) throw invalid(`the tag ${JSON.stringify(t)} is not valid`, 'use letters, digits, "_" and "-"');
  const bytes = Buffer.byteLength(c.body, 'utf8');
  if (bytes > MAX_BODY_BYTES[kind]) {
    throw new GatehouseError(
      'input_too_large',
      `the ${kind} body is ${bytes} bytes, over the ${MAX_BODY_BYTES[kind]}-byte limit`,
      {
        hint: 'split it into several items',
      },
    );
  }
  const meta = c.meta && Object.keys(c.meta).length > 0 ? c.meta : undefined;
  if (meta && Buffer.byteLength(canonicalJson(meta), 'utf8') > MAX_META_BYTES)
    throw new GatehouseError('input_too_large', `the ${kind} metadata is over ${MAX_META_BYTES} bytes`, {
      hint: 'keep fewer sources or shorter fields',
    });
  return { title: c.title, summary: c.summary, tags, body: c.body, ...(meta ? { meta } : {}) };
}
