import {
  declaredCharsets,
  isGraphqlMedia,
  isJsonMedia,
  isMultipartForm,
  isNdjsonMedia,
  isTextualRequestMedia,
  mediaParams,
  mediaTypeOf,
  truncateText,
} from '../core/index.js';
import { globToRegExp } from './glob.js';
import { graphqlOperations } from './graphql.js';
import type { Policy } from './policy.js';
import { finding, worst, type Finding, type HttpRequestLike } from './types.js';

/**
 * HTTP request rules for the HTTP tools. The effective method honours method-override headers
 * and `_method` (an agent must not hide a DELETE behind a POST); the path is percent-decoded
 * (repeatedly), dot-segments resolved and the query string examined too.
 *
 * INVARIANT: the body is judged as every server may read it. `req.body` is text whose UTF-8 bytes
 * are the bytes sent (after the caller undid any Content-Encoding, which `bodyDecodedFrom` names).
 * Those bytes are read again with each charset the Content-Type declares, and as UTF-16/UTF-32
 * when they start the way such JSON does (servers such as Jackson sniff it whatever the header
 * says); every reading is judged and the worst verdict wins. A body the guard cannot read (an
 * unknown charset, a coding the caller did not undo, a textual body it was not shown) is approve.
 */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];
const STANDARD = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT']);
const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DESTRUCTIVE =
  /(^|\/)(delete|remove|destroy|drop|purge|wipe|reset|shutdown|terminate|deactivate|revoke|rollback|restart|stop|deploy|refund|truncate|erase|kill|disable|uninstall)([-_.][^/]*)?(\/|$)/;

function decode(s: string): string | undefined {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur.replace(/\+/g, '%20'));
    } catch {
      return undefined;
    }
    if (next === cur) return cur;
    cur = next;
  }
  return /%[0-9a-f]{2}/i.test(cur) ? undefined : cur;
}

export function normalizeHttpPath(p: string): string {
  const segs: string[] = [];
  for (const s of p.replace(/\\/g, '/').split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      segs.pop();
      continue;
    }
    segs.push(s);
  }
  return '/' + segs.join('/');
}

/** Every value of each header under its lowercase name: names that differ only in case are one header, never the last one only. */
function headerLists(h: Readonly<Record<string, string>> | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of Object.entries(h ?? {})) {
    const lower = k.toLowerCase();
    const list = out.get(lower);
    if (list) list.push(v);
    else out.set(lower, [v]);
  }
  return out;
}

/** What the guard can read of a request body: parsed JSON items, form fields, or plain text. */
interface BodyView {
  text: string | undefined;
  /** Top-level JSON objects (one, or each element of a batch). */
  items: Record<string, unknown>[];
  form: URLSearchParams | undefined;
  /** A body is sent that the guard cannot read (not shown to it, or compressed). */
  unread: boolean;
  /**
   * The body looks structured (JSON, multipart) but does not parse strictly, or repeats a key the
   * rules read: lenient servers (trailing data, NaN, trailing commas, first-key-wins) may still
   * act on it, so it proves nothing harmless.
   */
  opaque: boolean;
}

/** Types a server parses as text (and the GraphQL, form and JSON rules read): a body of one the guard was not shown is not harmless. */
function declaresText(contentType: string): boolean {
  const m = mediaTypeOf(contentType);
  return isTextualRequestMedia(m) || isMultipartForm(m);
}
const RULE_KEYS = new Set(['query', '_method', 'operations']);

/** The texts a server may read from the body, or why the guard cannot read it. */
interface Readings {
  /** Distinct readings (BOM removed); empty when there is no body text. */
  texts: string[];
  /** Why the body cannot be read as a server would (set: approve). */
  undecodable?: string;
  /** A content coding the caller did not undo: the body is bytes the guard never sees. */
  encoded: boolean;
}

const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'us-ascii', 'ascii']);

/** UTF-32 as a lenient server decodes it (TextDecoder has none): bad code points become U+FFFD. */
function utf32(bytes: Buffer, littleEndian: boolean): string {
  const parts: string[] = [];
  let chunk: number[] = [];
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const cp = littleEndian ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i);
    chunk.push(cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0xfffd : cp);
    if (chunk.length === 4096) {
      parts.push(String.fromCodePoint(...chunk));
      chunk = [];
    }
  }
  if (bytes.length % 4 !== 0) chunk.push(0xfffd);
  parts.push(String.fromCodePoint(...chunk));
  return parts.join('');
}

function decoded(label: string, bytes: Buffer): string {
  return new TextDecoder(label).decode(bytes);
}

/**
 * The body's bytes read with one declared charset: undefined when the guard does not know it.
 * `utf-16` (and its aliases) without a byte order is read both ways, as servers disagree on it.
 */
function readAs(label: string, bytes: Buffer): string[] | undefined {
  if (label === 'utf-32' || label === 'utf32' || label === 'ucs-4') return [utf32(bytes, true), utf32(bytes, false)];
  if (label === 'utf-32le') return [utf32(bytes, true)];
  if (label === 'utf-32be') return [utf32(bytes, false)];
  let dec;
  try {
    dec = new TextDecoder(label);
  } catch {
    return undefined;
  }
  // The WHATWG "replacement" decoder (iso-2022-kr, hz-gb-2312, …) reads nothing a real server would.
  if (dec.encoding === 'replacement') return undefined;
  const text = dec.decode(bytes);
  return dec.encoding === 'utf-16le' && label !== 'utf-16le' ? [text, decoded('utf-16be', bytes)] : [text];
}

/** Whether the body starts like UTF-16 or UTF-32 JSON (RFC 4627 §3): a NUL among its first four bytes. */
function startsWithNul(text: string): boolean {
  for (let i = 0; i < 4 && i < text.length; i++) if (text.charCodeAt(i) === 0) return true;
  return false;
}

const stripBom = (t: string) => (t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);
const squash = (s: string) => s.replace(/\s+/g, '').toLowerCase();

function bodyReadings(req: HttpRequestLike, headers: Map<string, string[]>): Readings {
  const types = headers.get('content-type') ?? [];
  const ce = (headers.get('content-encoding') ?? []).join(',');
  const sent = req.body !== undefined && req.body !== '';
  const declaredText = types.some(declaresText);
  // A compressed body the caller did not decode for us is bytes the guard never sees: judged as
  // unread, never as empty. One it decoded (bounded) is judged as the server will read it.
  if (squash(ce) !== '' && squash(ce) !== 'identity' && squash(req.bodyDecodedFrom ?? '') !== squash(ce)) {
    return {
      texts: [],
      encoded: true,
      undecodable:
        sent || declaredText ? 'the body is sent with a content coding the guard was not given decoded' : undefined,
    };
  }
  if (req.bodyUnread && declaredText)
    return { texts: [], encoded: false, undecodable: 'a textual body is sent that the guard was not shown' };
  if (!sent) return { texts: [], encoded: false };
  if (types.length > 1) return { texts: [], encoded: false, undecodable: 'the request has more than one Content-Type' };
  const text = req.body!;
  const charsets = declaredCharsets(types[0] ?? '').filter((c) => !UTF8_LABELS.has(c));
  const sniff = startsWithNul(text);
  if (charsets.length === 0 && !sniff) return { texts: [stripBom(text)], encoded: false };
  const bytes = Buffer.from(text, 'utf8');
  const all = [text];
  for (const c of charsets) {
    const r = readAs(c, bytes);
    if (r === undefined)
      return {
        texts: [],
        encoded: false,
        undecodable: `the body's charset ${JSON.stringify(truncateText(c, 40))} is one the guard cannot read`,
      };
    all.push(...r);
  }
  if (sniff) all.push(decoded('utf-16le', bytes), decoded('utf-16be', bytes), utf32(bytes, true), utf32(bytes, false));
  return { texts: [...new Set(all.map(stripBom))], encoded: false };
}

function viewBody(
  text: string | undefined,
  r: Readings,
  req: HttpRequestLike,
  type: string,
  isGraphql: boolean,
): BodyView {
  if (r.encoded || r.undecodable !== undefined)
    return { text: undefined, items: [], form: undefined, unread: true, opaque: true };
  const view: BodyView = { text, items: [], form: undefined, unread: req.bodyUnread === true, opaque: false };
  if (!text) return view;
  const media = mediaTypeOf(type);
  if (isMultipartForm(media)) {
    const fields = multipartFields(text, mediaParams(media, 'boundary'));
    if (fields === undefined) view.opaque = true;
    else {
      view.form = fields;
      for (const ops of paramValues(fields, 'operations')) addJson(view, ops);
    }
    return view;
  }
  // Off GraphQL paths the rules read only `query`, `_method` and `operations` from a JSON body: a
  // JSON text that names none of them (even \u-escaped) is not parsed on every request.
  if (!isGraphql && /^\s*[[{]/.test(text) && !/query|_method|operations|\\u/i.test(text)) return view;
  if (addJson(view, text)) return view;
  // JSON by its type, or by its look unless declared a GraphQL document (which may start with `{`).
  const json = isJsonMedia(media) && !isNdjsonMedia(media);
  if (json || (/^\s*[[{]/.test(text) && !isGraphqlMedia(media))) view.opaque = true;
  else if (media?.essence === 'application/x-www-form-urlencoded' || /^[^\s{}"]*=[^\s]*$/.test(text)) {
    view.form = new URLSearchParams(text);
  }
  return view;
}

/** Adds the objects of a strictly valid JSON text; a repeated rule key makes the view opaque. */
function addJson(view: BodyView, text: string): boolean {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return false;
  }
  for (const it of Array.isArray(j) ? j : [j])
    if (it && typeof it === 'object' && !Array.isArray(it)) view.items.push(it as Record<string, unknown>);
  if (repeatsRuleKey(text)) view.opaque = true;
  return true;
}

/**
 * Whether any JSON object in `text` (already known to be valid JSON) names `query`, `_method` or
 * `operations` twice (JSON.parse keeps the last; some servers keep the first). Iterative, and an
 * object allocates its set of seen keys only once it names a rule key, so a body nested 400,000
 * levels deep costs a stack of small entries, not 400,000 sets.
 */
function repeatsRuleKey(text: string): boolean {
  if (!/query|_method|operations|\\u/i.test(text)) return false;
  // Containers open at this point: an object carries the rule keys it has named so far (null: none yet).
  const stack: ({ object: true; seen: Set<string> | null } | { object: false })[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      stack.push({ object: true, seen: null });
      expectKey = true;
      continue;
    }
    if (c === '[') {
      stack.push(ARRAY);
      expectKey = false;
      continue;
    }
    if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
      continue;
    }
    if (c === ',') {
      expectKey = stack[stack.length - 1]?.object === true;
      continue;
    }
    if (c !== '"') continue;
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (expectKey) {
      const top = stack[stack.length - 1];
      const key = (JSON.parse(text.slice(i, j + 1)) as string).toLowerCase();
      if (top?.object && RULE_KEYS.has(key)) {
        if (top.seen?.has(key)) return true;
        (top.seen ??= new Set()).add(key);
      }
      expectKey = false;
    }
    i = j;
  }
  return false;
}
const ARRAY = { object: false } as const;

/**
 * The non-file fields of a multipart/form-data body, or undefined when it cannot be split or a
 * part is encoded in a way the guard does not read (a charset other than UTF-8, a
 * Content-Transfer-Encoding, a `_charset_` field naming another charset): such a body is opaque.
 */
/** The fields of a multipart body; undefined (judged opaque) when it cannot be read one way only. */
function multipartFields(text: string, boundaries: readonly string[]): URLSearchParams | undefined {
  // Exactly one boundary parameter: with two, servers differ on which one splits the body.
  const [boundary] = boundaries;
  if (boundaries.length !== 1 || !boundary) return undefined;
  const parts = text.split(`--${boundary}`);
  if (parts.length < 3) return undefined;
  const out = new URLSearchParams();
  for (const part of parts.slice(1, -1)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) return undefined;
    const head = part.slice(0, split);
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) return undefined;
    if (/filename\*?=/i.test(head)) continue;
    const partCharset = /content-type:[^\r\n]*;\s*charset\s*=\s*"?([^";\s\r\n]+)/i.exec(head)?.[1];
    const cte = /content-transfer-encoding:\s*([^\s;]+)/i.exec(head)?.[1];
    if (partCharset !== undefined && !UTF8_LABELS.has(partCharset.toLowerCase())) return undefined;
    if (cte !== undefined && !/^(7bit|8bit|binary)$/i.test(cte)) return undefined;
    const value = part.slice(split + 4).replace(/\r\n$/, '');
    if (name.toLowerCase() === '_charset_' && !UTF8_LABELS.has(value.trim().toLowerCase())) return undefined;
    out.append(name, value);
  }
  return out;
}

/** Every value of a parameter, matching its name without regard to case. */
function paramValues(params: URLSearchParams | undefined, name: string): string[] {
  const out: string[] = [];
  if (params) for (const [k, v] of params) if (k.toLowerCase() === name) out.push(v);
  return out;
}

function stringField(item: Record<string, unknown>, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(item)) if (k.toLowerCase() === name && typeof v === 'string') out.push(v);
  return out;
}

export function checkHttpWith(policy: Policy, req: HttpRequestLike): Finding {
  const headers = headerLists(req.headers);
  const original = req.method.toUpperCase();
  const matchedBase = `${original} ${req.path}`;
  const q = req.path.indexOf('?');
  const rawPath = q < 0 ? req.path : req.path.slice(0, q);
  const rawQuery = q < 0 ? '' : req.path.slice(q + 1);
  const dp = decode(rawPath);
  const dq = decode(rawQuery);
  if (dp === undefined || dq === undefined)
    return finding('approve', 'http.undecodable', 'the request path cannot be decoded unambiguously', matchedBase, {
      floor: true,
    });
  const types = headers.get('content-type') ?? [];
  const type = types[0] ?? '';
  const path = normalizeHttpPath(dp).toLowerCase();
  // A GraphQL endpoint by its path (a `;param` suffix included) or by the body's declared type.
  const isGraphql = /graphql|\/gql([/;]|$)/.test(path) || types.some((t) => isGraphqlMedia(mediaTypeOf(t)));
  const readings = bodyReadings(req, headers);
  const ctx: JudgeContext = {
    policy,
    req,
    headers,
    original,
    matchedBase,
    rawQuery,
    dp,
    dq,
    path,
    isGraphql,
    readings,
  };
  // Each reading of the body is judged on its own (a server reads one of them); the worst wins.
  if (readings.texts.length <= 1) return judge(ctx, viewBody(readings.texts[0], readings, req, type, isGraphql));
  return worst(readings.texts.map((t) => judge(ctx, viewBody(t, readings, req, type, isGraphql))))!;
}

interface JudgeContext {
  policy: Policy;
  req: HttpRequestLike;
  headers: Map<string, string[]>;
  original: string;
  matchedBase: string;
  rawQuery: string;
  dp: string;
  dq: string;
  path: string;
  isGraphql: boolean;
  readings: Readings;
}

function judge(c: JudgeContext, body: BodyView): Finding {
  const { policy, headers, original, matchedBase, dp, dq, path, isGraphql } = c;
  const out: Finding[] = [];
  // Parameters as a server reads them: split on & first, then decode each name and value.
  const params = new URLSearchParams(c.rawQuery);

  // The methods this request may be treated as: its own, and every override a framework might
  // honour (headers, `_method` in the query, a form or a JSON body). Each is judged; the worst wins.
  const overrides: { method: string; where: string }[] = [];
  for (const h of OVERRIDE_HEADERS)
    for (const v of headers.get(h) ?? [])
      if (v) overrides.push({ method: v.trim().toUpperCase(), where: `${h}: ${v}` });
  for (const v of paramValues(params, '_method'))
    overrides.push({ method: v.trim().toUpperCase(), where: `?_method=${v}` });
  for (const v of paramValues(body.form, '_method'))
    overrides.push({ method: v.trim().toUpperCase(), where: `body _method=${v}` });
  for (const it of body.items)
    for (const v of stringField(it, '_method'))
      overrides.push({ method: v.trim().toUpperCase(), where: `body "_method": ${v}` });
  for (const o of overrides) {
    out.push(
      finding(
        WRITE.has(o.method) && !WRITE.has(original) ? 'approve' : 'allow',
        'http.method-override',
        `${o.where} turns ${original} into ${o.method}`,
        `${matchedBase} (${o.where})`,
      ),
    );
  }
  const methods = [original, ...new Set(overrides.map((o) => o.method).filter((m) => m !== original))];

  // GraphQL text: the `query` parameters on a GraphQL path, every JSON item's `query` string (on
  // any path), and on a GraphQL path a non-JSON body (application/graphql) or its form fields.
  const texts: string[] = [];
  if (isGraphql) texts.push(...paramValues(params, 'query'));
  for (const it of body.items) texts.push(...stringField(it, 'query'));
  if (isGraphql && body.text && body.items.length === 0 && !body.opaque) {
    if (body.form) texts.push(...paramValues(body.form, 'query'));
    else texts.push(body.text);
  }
  const ops = texts.map(graphqlOperations);
  const gqMutation = ops.some((o) => o.mutation);
  const gqAny = texts.length > 0;
  // On a GraphQL path, a body the guard cannot read, cannot lex, or that carries no query text
  // (a persisted query names its operation by hash) cannot be shown to be a read.
  const gqOpaque =
    isGraphql &&
    (ops.some((o) => o.unreadable) ||
      body.unread ||
      body.opaque ||
      (body.text !== undefined && body.text.trim() !== '' && !gqAny));
  // Off GraphQL paths too: a body that only lenient parsers read, and that names a GraphQL query,
  // a method override or GraphQL multipart `operations`, cannot be shown harmless.
  if (body.opaque && !isGraphql && body.text !== undefined && /query|_method|operations/i.test(body.text)) {
    out.push(
      finding(
        'approve',
        'http.body-unreadable',
        'the request body does not parse strictly, and it names a query, a method override or GraphQL operations',
        matchedBase,
        { floor: true },
      ),
    );
  }

  const judged = methods.map((method) => {
    const found: Finding[] = [...out];
    const matched =
      method === original
        ? `${original} ${dp}${dq ? '?' + dq : ''}`
        : `${original}→${method} ${dp}${dq ? '?' + dq : ''}`;
    if (!STANDARD.has(method))
      found.push(finding('approve', 'http.unknown-method', `unusual HTTP method ${method}`, matched));
    if (method === 'DELETE') found.push(finding('approve', 'http.delete', 'HTTP DELETE removes a resource', matched));
    if (DESTRUCTIVE.test(path) || DESTRUCTIVE.test('/' + dq.toLowerCase().replace(/[=&]/g, '/')))
      found.push(finding('approve', 'http.destructive-path', 'the path names a destructive action', matched));
    if (WRITE.has(method) && /(^|\/)(admin|_admin|administrator|internal|management|actuator|sudo)(\/|$)/.test(path))
      found.push(finding('approve', 'http.admin-write', `${method} to an administrative path`, matched));
    if (/(^|\/)(actuator\/(shutdown|env|restart)|debug\/pprof)/.test(path))
      found.push(finding('approve', 'http.admin-write', 'management endpoint', matched));
    if (gqMutation) found.push(finding('approve', 'http.graphql-mutation', 'GraphQL mutation changes data', matched));
    else if (gqOpaque && WRITE.has(method))
      found.push(
        finding('approve', 'http.graphql-unreadable', 'GraphQL request body cannot be read', matched, { floor: true }),
      );
    // INVARIANT: a body the guard cannot read as the server will is never allowed unseen.
    if (c.readings.undecodable !== undefined)
      found.push(finding('approve', 'http.body-undecodable', c.readings.undecodable, matched, { floor: true }));
    for (const r of policy.httpRules) {
      if (r.methods.length && !r.methods.includes(method)) continue;
      if (r.paths.length && !r.paths.some((p) => globToRegExp(p.toLowerCase()).test(path))) continue;
      if (r.graphql === 'mutation' && !gqMutation) continue;
      if (r.graphql === 'any' && !gqAny) continue;
      const user = finding(r.decision, `user:${policy.name}:${r.id}`, r.message, matched);
      const kept = found.filter((f) => f.final || f.floor);
      return worst([...kept, user]) ?? user;
    }
    const w = worst(found);
    if (w && w.decision !== 'allow') return w;
    if (WRITE.has(method) && policy.httpUnknownWrite !== 'allow')
      return finding(
        policy.httpUnknownWrite,
        `policy:${policy.name}:http-write`,
        `${method} requests need ${policy.httpUnknownWrite} under policy ${policy.name}`,
        matched,
      );
    return finding('allow', 'http.allow', 'no HTTP rule matched', matched);
  });
  return worst(judged)!;
}
