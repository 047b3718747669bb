/**
 * The console's one way of building HTML. INVARIANT: every value interpolated into an `html`
 * template is escaped (text and attribute context alike: `&`, `<`, `>`, `"`, `'`), so text an
 * agent wrote (a command, a reason, a token name) is always shown as text, never parsed as markup.
 * The only things that pass unescaped are fragments this module built itself (`Html` values, which
 * only `html` and `raw` make). `raw()` exists for a value that is already HTML by construction
 * (the stylesheet); nothing that came from a request, the store or an agent is ever given to it.
 */
export class Html {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/** What may be interpolated: text (escaped), numbers, fragments, lists of them; null, undefined and false give nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML text and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function render(v: HtmlValue): string {
  if (v instanceof Html) return v.toString();
  if (Array.isArray(v)) return (v as readonly HtmlValue[]).map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/** The tagged template: `html\`<p>${text}</p>\`` escapes `text`; a nested `html` fragment stays as built. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Marks text that is already HTML by construction (never request, store or agent text). */
export function raw(text: string): Html {
  return new Html(text);
}
