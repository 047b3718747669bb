import { globToRegExp } from './glob.js';
import { graphqlOperations } from './graphql.js';
import type { Policy } from './policy.js';
import { finding, worst, type Finding, type HttpRequestLike } from './types.js';

/**
 * HTTP request rules for the HTTP tools. The effective method honours method-override headers
 * and `_method` (an agent must not hide a DELETE behind a POST); the path is percent-decoded
 * (repeatedly), dot-segments resolved and the query string examined too.
 */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];
const STANDARD = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT']);
const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DESTRUCTIVE = /(^|\/)(delete|remove|destroy|drop|purge|wipe|reset|shutdown|terminate|deactivate|revoke|rollback|restart|stop|deploy|refund|truncate|erase|kill|disable|uninstall)([-_.][^/]*)?(\/|$)/;

function decode(s: string): string | undefined {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try { next = decodeURIComponent(cur.replace(/\+/g, '%20')); } catch { return undefined; }
    if (next === cur) return cur;
    cur = next;
  }
  return /%[0-9a-f]{2}/i.test(cur) ? undefined : cur;
}

export function normalizeHttpPath(p: string): string {
  const segs: string[] = [];
  for (const s of p.replace(/\\/g, '/').split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') { segs.pop(); continue; }
    segs.push(s);
  }
  return '/' + segs.join('/');
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

const JSON_TYPE = /^application\/([^;]*\+)?json\b/i;
const RULE_KEYS = new Set(['query', '_method', 'operations']);

function viewBody(req: HttpRequestLike, headers: Record<string, string>, isGraphql: boolean): BodyView {
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase();
  // A compressed body the caller did not decode for us is bytes the guard never sees: judged as
  // unread, never as empty. One it decoded (bounded) is judged as the server will read it.
  if (encoding !== '' && encoding !== 'identity' && req.bodyDecodedFrom?.trim().toLowerCase() !== encoding) {
    return { text: undefined, items: [], form: undefined, unread: true, opaque: true };
  }
  // Servers commonly drop a leading byte-order mark before parsing; judge what they will see.
  const text = req.body === undefined ? undefined : req.body.charCodeAt(0) === 0xfeff ? req.body.slice(1) : req.body;
  const view: BodyView = { text, items: [], form: undefined, unread: req.bodyUnread === true, opaque: false };
  if (!text) return view;
  const type = headers['content-type'] ?? '';
  const multipart = /^multipart\/form-data\b/i.test(type);
  if (multipart) {
    const fields = multipartFields(text, type);
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
  if (JSON_TYPE.test(type) || (/^\s*[[{]/.test(text) && !/^application\/graphql/i.test(type))) view.opaque = true;
  else if (/^application\/x-www-form-urlencoded/i.test(type) || /^[^\s{}"]*=[^\s]*$/.test(text)) view.form = new URLSearchParams(text);
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
  for (const it of Array.isArray(j) ? j : [j]) if (it && typeof it === 'object' && !Array.isArray(it)) view.items.push(it as Record<string, unknown>);
  if (repeatsRuleKey(text)) view.opaque = true;
  return true;
}

/**
 * Whether any JSON object in `text` (already known to be valid JSON) names `query`, `_method` or
 * `operations` twice (JSON.parse keeps the last; some servers keep the first).
 */
function repeatsRuleKey(text: string): boolean {
  if (!/query|_method|operations|\\u/i.test(text)) return false;
  // Containers open at this point: an object carries the rule keys it has named so far.
  const stack: ({ object: true; seen: Set<string> } | { object: false })[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') { stack.push({ object: true, seen: new Set() }); expectKey = true; continue; }
    if (c === '[') { stack.push({ object: false }); expectKey = false; continue; }
    if (c === '}' || c === ']') { stack.pop(); expectKey = false; continue; }
    if (c === ',') { expectKey = stack[stack.length - 1]?.object === true; continue; }
    if (c !== '"') continue;
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (expectKey) {
      const top = stack[stack.length - 1];
      const key = (JSON.parse(text.slice(i, j + 1)) as string).toLowerCase();
      if (top?.object && RULE_KEYS.has(key)) {
        if (top.seen.has(key)) return true;
        top.seen.add(key);
      }
      expectKey = false;
    }
    i = j;
  }
  return false;
}

/** The non-file fields of a multipart/form-data body, or undefined when it cannot be split. */
function multipartFields(text: string, type: string): URLSearchParams | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
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
    out.append(name, part.slice(split + 4).replace(/\r\n$/, ''));
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
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const original = req.method.toUpperCase();
  const matchedBase = `${original} ${req.path}`;
  const out: Finding[] = [];
  const q = req.path.indexOf('?');
  const rawPath = q < 0 ? req.path : req.path.slice(0, q);
  const rawQuery = q < 0 ? '' : req.path.slice(q + 1);
  const dp = decode(rawPath);
  const dq = decode(rawQuery);
  if (dp === undefined || dq === undefined) return finding('approve', 'http.undecodable', 'the request path cannot be decoded unambiguously', matchedBase, { floor: true });
  // Parameters as a server reads them: split on & first, then decode each name and value.
  const params = new URLSearchParams(rawQuery);
  const path = normalizeHttpPath(dp).toLowerCase();
  // A GraphQL endpoint by its path (a `;param` suffix included) or by the body's declared type.
  const isGraphql = /graphql|\/gql([/;]|$)/.test(path) || /^application\/graphql/i.test(headers['content-type'] ?? '');
  const body = viewBody(req, headers, isGraphql);

  // The methods this request may be treated as: its own, and every override a framework might
  // honour (headers, `_method` in the query, a form or a JSON body). Each is judged; the worst wins.
  const overrides: { method: string; where: string }[] = [];
  for (const h of OVERRIDE_HEADERS) if (headers[h]) overrides.push({ method: headers[h].trim().toUpperCase(), where: `${h}: ${headers[h]}` });
  for (const v of paramValues(params, '_method')) overrides.push({ method: v.trim().toUpperCase(), where: `?_method=${v}` });
  for (const v of paramValues(body.form, '_method')) overrides.push({ method: v.trim().toUpperCase(), where: `body _method=${v}` });
  for (const it of body.items) for (const v of stringField(it, '_method')) overrides.push({ method: v.trim().toUpperCase(), where: `body "_method": ${v}` });
  for (const o of overrides) {
    out.push(finding(WRITE.has(o.method) && !WRITE.has(original) ? 'approve' : 'allow', 'http.method-override', `${o.where} turns ${original} into ${o.method}`, `${matchedBase} (${o.where})`));
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
  const gqOpaque = isGraphql && (ops.some((o) => o.unreadable) || body.unread || body.opaque || (body.text !== undefined && body.text.trim() !== '' && !gqAny));
  // Off GraphQL paths too: a body that only lenient parsers read, and that names a GraphQL query or
  // a method override, cannot be shown harmless.
  if (body.opaque && !isGraphql && body.text !== undefined && /query|_method/i.test(body.text)) {
    out.push(finding('approve', 'http.body-unreadable', 'the request body does not parse strictly, and it names a query or a method override', matchedBase, { floor: true }));
  }

  const judged = methods.map((method) => {
    const found: Finding[] = [...out];
    const matched = method === original ? `${original} ${dp}${dq ? '?' + dq : ''}` : `${original}→${method} ${dp}${dq ? '?' + dq : ''}`;
    if (!STANDARD.has(method)) found.push(finding('approve', 'http.unknown-method', `unusual HTTP method ${method}`, matched));
    if (method === 'DELETE') found.push(finding('approve', 'http.delete', 'HTTP DELETE removes a resource', matched));
    if (DESTRUCTIVE.test(path) || DESTRUCTIVE.test('/' + dq.toLowerCase().replace(/[=&]/g, '/'))) found.push(finding('approve', 'http.destructive-path', 'the path names a destructive action', matched));
    if (WRITE.has(method) && /(^|\/)(admin|_admin|administrator|internal|management|actuator|sudo)(\/|$)/.test(path)) found.push(finding('approve', 'http.admin-write', `${method} to an administrative path`, matched));
    if (/(^|\/)(actuator\/(shutdown|env|restart)|debug\/pprof)/.test(path)) found.push(finding('approve', 'http.admin-write', 'management endpoint', matched));
    if (gqMutation) found.push(finding('approve', 'http.graphql-mutation', 'GraphQL mutation changes data', matched));
    else if (gqOpaque && WRITE.has(method)) found.push(finding('approve', 'http.graphql-unreadable', 'GraphQL request body cannot be read', matched, { floor: true }));
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
    if (WRITE.has(method) && policy.httpUnknownWrite !== 'allow') return finding(policy.httpUnknownWrite, `policy:${policy.name}:http-write`, `${method} requests need ${policy.httpUnknownWrite} under policy ${policy.name}`, matched);
    return finding('allow', 'http.allow', 'no HTTP rule matched', matched);
  });
  return worst(judged)!;
}
