/**
 * Hiding a guessable value that Gatehouse itself filled into an action, without telling the
 * agent whether its own text equalled it.
 *
 * The agent-facing redactor does not scrub guessable values (strength.ts), but when an action
 * fills one (a PIN in a request header) its output must not echo it raw. Scrubbing only the value
 * would be an oracle again: the agent puts a guess in the same request and sees whether it comes
 * back hidden. So the action's overlay hides the value AND every string the agent sent that could
 * be the value: for the value and each of its derived forms F, every substring of the agent's
 * texts (and of their decoded and line-joined views) with F's length whose characters all belong
 * to F's character classes. Whether a guess equals the value, the same strings are hidden.
 */
import { deriveForms } from './derive.js';
import { ALL_RELEVANT, decodeView } from './decode.js';
import { rootView, type View } from './views.js';

/** A sensible `max` for guessWindows: past it the caller refuses the action. */
export const GUESS_WINDOW_MAX = 256;

/**
 * Every string in `agentTexts` that could be `value` in one of its forms, or 'too_many' when
 * there are more than `max` (the caller then refuses the action; that depends only on the shape
 * of the value and of the agent's texts, never on equality). Pass `[value, ...windows]` to
 * `Redactor.withExtra`.
 */
export function guessWindows(value: string, agentTexts: readonly string[], max: number): string[] | 'too_many' {
  const forms = deriveForms(value);
  if (!forms.length) return [];
  // For each form: a regex for runs of at least its length in its character classes (native
  // scanning: an agent's text may be large).
  const runs = forms.map((f) => ({ len: f.length, re: new RegExp(`[${classesOf(f)}]{${f.length},}`, 'g') }));
  const out = new Set<string>();
  for (const text of agentTexts) {
    for (const s of viewsOf(text)) {
      for (const { len, re } of runs) {
        for (const m of s.matchAll(re)) {
          for (let i = 0; i + len <= m[0].length; i++) {
            out.add(m[0].slice(i, i + len));
            if (out.size > max) return 'too_many';
          }
        }
      }
    }
  }
  return [...out];
}

/** A regex character class for F's classes: digits, lower, upper (if F has any), F's own symbols. */
function classesOf(form: string): string {
  let cls = '';
  if (/[0-9]/.test(form)) cls += '0-9';
  if (/[a-z]/.test(form)) cls += 'a-z';
  if (/[A-Z]/.test(form)) cls += 'A-Z';
  // Code units, so lengths match the forms' (and a surrogate is a symbol like any other).
  for (const c of new Set(form.split('').filter((ch) => !/[0-9A-Za-z]/.test(ch))))
    cls += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  return cls;
}

const BREAKS = /\r?\n[ \t]*/g;

/** The text as the agent sent it, decoded (two levels), and with line breaks removed. */
function viewsOf(text: string): string[] {
  const out = [text];
  let cur: View = rootView(text);
  for (let depth = 0; depth < 2; depth++) {
    const d = decodeView(cur, 'text', ALL_RELEVANT, true, false);
    if (!d || d.text === cur.text) break;
    out.push(d.text);
    cur = d;
  }
  for (const s of [...out]) if (s.includes('\n')) out.push(s.replace(BREAKS, ''));
  return out;
}
