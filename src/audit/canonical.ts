/**
 * The canonical form of everything an audit record holds. Every field is brought to it once,
 * before it is scrubbed, hashed and stored, so what the chain hash covers is exactly what either
 * store gives back, whatever string an agent sent.
 *
 * Text (every text column, every payload value, every string and key inside `detail`):
 *  - a lone UTF-16 surrogate becomes U+FFFD (`String.prototype.toWellFormed`). Stores keep UTF-8,
 *    which cannot hold one: PostgreSQL's driver turned it into one U+FFFD, better-sqlite3 into
 *    three, and the hash had covered the escape `\ud800`, so the chain broke at that record.
 *    U+FFFD is also what Node's UTF-8 encoder sends to a socket or a process for it, so the
 *    record shows what actually ran;
 *  - U+0000 (NUL) becomes U+FFFD: PostgreSQL text cannot hold it (the insert failed, refusing the
 *    action), and both stores must hold the same record;
 *  - nothing else changes. C0 and C1 controls, U+FFFE/U+FFFF, byte-order marks, line separators
 *    and any length are kept exactly (both stores hold them unchanged; test/audit tests each).
 *    There is deliberately no Unicode normalisation: NFC would change the bytes that ran, and a
 *    record must show exactly them.
 * Whole numbers (`status`, `duration_ms`, both 32-bit integer columns): rounded to an integer and
 * clamped to the 32-bit range; NaN becomes null. (SQLite stored 1.5 as a real and NaN as NULL;
 * PostgreSQL refused both, and a value past 2^31.)
 * `detail`: JSON whose strings and keys are canonical text (JSON itself escapes every control
 * character); what JSON cannot hold (undefined, functions, cycles, bigints) is written as
 * JSON.stringify would, or as a marker, never an exception.
 * Payload names are not canonicalised: they are the callers' fixed names, checked (payload.ts).
 *
 * INVARIANT: AuditLog brings every field to this form, then scrubs it, then brings it to this
 * form again (whatever the scrubber returned), before hashing and storing (log.ts #prepare).
 */
import { cutText } from '../core/index.js';

/** What replaces text no store can hold (a lone surrogate, NUL). */
export const REPLACEMENT = '\uFFFD';

/** The canonical form of a text (see the module comment). Returns the same string when it already is. */
export function canonicalText(s: string): string {
  // Both checks are native scans: the common case (already canonical) allocates nothing.
  const w = s.isWellFormed() ? s : s.toWellFormed();
  return w.includes('\0') ? w.replaceAll('\0', REPLACEMENT) : w;
}

/** True when `s` is in canonical form (what every stored text must satisfy). */
export function isCanonicalText(s: string): boolean {
  return s.isWellFormed() && !s.includes('\0');
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** The canonical form of a whole-number field: a 32-bit integer, or null. */
export function canonicalInt(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = Math.round(Number(v));
  if (Number.isNaN(n)) return null;
  // `+ 0` turns -0 into 0 (both print as "0", but keep one value).
  return Math.min(INT_MAX, Math.max(INT_MIN, n)) + 0;
}

/**
 * Clips canonical text for a display column to at most `max` UTF-16 units, never inside a
 * surrogate pair (half a pair is a lone surrogate, which no store can hold: the clip itself would
 * break the chain). The caller keeps the whole text elsewhere (a payload value).
 */
export function clipForDisplay(s: string, max: number, marker: string): string {
  return s.length <= max ? s : cutText(s, max) + marker;
}

/** Characters JSON.stringify writes as escapes (after canonicalisation no lone surrogate is left). */
const JSON_ESCAPED = /["\\\u0000-\u001f]/;

/**
 * `detail` as canonical JSON text, scrubbed for operators, in two passes:
 *  - every string and key that JSON would escape (a quote, a backslash, a control character) is
 *    scrubbed on its own, in canonical form, before it is escaped: a secret holding one of those
 *    is no longer itself in the JSON text, so a text scrubber would miss it;
 *  - the JSON text as a whole is scrubbed, as before: shapes that span a key and its value
 *    (`"AWS_SECRET_ACCESS_KEY":"…"`) and every string JSON leaves as it is are found there.
 * The result is canonicalised again whatever the scrubber returned. Keys that become equal (two
 * lone surrogates, two redacted names) are kept apart with a suffix, so no value is dropped.
 */
export function canonicalDetailJson(detail: Record<string, unknown>, scrub: (s: string) => string): string {
  const text = (s: string): string => {
    const c = canonicalText(s);
    return JSON_ESCAPED.test(c) ? canonicalText(scrub(c)) : c;
  };
  const replacerWith = (seen: WeakSet<object> | null) =>
    function (this: unknown, _key: string, value: unknown): unknown {
      if (typeof value === 'string') return text(value);
      if (typeof value === 'bigint') return value.toString();
      if (value === null || typeof value !== 'object') return value;
      // JSON.stringify has already called toJSON; what reaches here is an array or an object.
      if (seen) {
        if (seen.has(value)) return '[repeated or cyclic value]';
        seen.add(value);
      }
      if (Array.isArray(value)) return value;
      return renameKeys(value as Record<string, unknown>, text);
    };
  let json: string | undefined;
  try {
    json = JSON.stringify(detail, replacerWith(null));
  } catch {
    // A cycle (or a toJSON that throws): record what can be, marking the values JSON cannot hold.
    try {
      json = JSON.stringify(detail, replacerWith(new WeakSet()));
    } catch (e) {
      json = JSON.stringify({ unserialisable: text(String((e as Error)?.message ?? e)) });
    }
  }
  // JSON escapes every control character and NUL, so the text is canonical before the scrubber;
  // canonicalised again for whatever the scrubber returns.
  return canonicalText(scrub(json ?? 'null'));
}

/** The object with canonical, scrubbed keys (itself when none changes); equal keys get a suffix. */
function renameKeys(value: Record<string, unknown>, text: (s: string) => string): Record<string, unknown> {
  const keys = Object.keys(value);
  let renamed: Record<string, unknown> | undefined;
  for (const [i, k] of keys.entries()) {
    const ck = text(k);
    if (ck === k && !renamed) continue;
    if (!renamed) {
      // No prototype: a key named __proto__ stays a key.
      renamed = Object.create(null) as Record<string, unknown>;
      for (const earlier of keys.slice(0, i)) renamed[earlier] = value[earlier];
    }
    let name = ck;
    for (let n = 2; Object.hasOwn(renamed, name); n++) name = `${ck}#${n}`;
    renamed[name] = value[k];
  }
  // A new object's properties still pass through the replacer, so its strings are canonicalised.
  return renamed ?? value;
}
