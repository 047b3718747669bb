import { globToRegExp } from './glob.js';
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

function graphqlOps(body: string | undefined, query: string): { mutation: boolean; unreadable: boolean; any: boolean } {
  const texts: string[] = [];
  const qm = /(?:^|&)query=([^&]*)/.exec(query);
  if (qm) texts.push(qm[1]);
  let unreadable = false;
  if (body) {
    try {
      const j = JSON.parse(body) as unknown;
      const items = Array.isArray(j) ? j : [j];
      for (const it of items) if (it && typeof it === 'object' && typeof (it as { query?: unknown }).query === 'string') texts.push((it as { query: string }).query);
    } catch {
      if (/^\s*(query|mutation|subscription|\{)/.test(body)) texts.push(body);
      else unreadable = true;
    }
  }
  const mutation = texts.some((t) => /(^|[\s},])mutation\b/.test(t.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/#[^\n]*/g, '')));
  return { mutation, unreadable, any: texts.length > 0 };
}

export function checkHttpWith(policy: Policy, req: HttpRequestLike): Finding {
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const original = req.method.toUpperCase();
  let method = original;
  const matchedBase = `${original} ${req.path}`;
  const out: Finding[] = [];
  const q = req.path.indexOf('?');
  const rawPath = q < 0 ? req.path : req.path.slice(0, q);
  const rawQuery = q < 0 ? '' : req.path.slice(q + 1);
  const dp = decode(rawPath);
  const dq = decode(rawQuery);
  if (dp === undefined || dq === undefined) return finding('approve', 'http.undecodable', 'the request path cannot be decoded unambiguously', matchedBase, { floor: true });
  for (const h of OVERRIDE_HEADERS) {
    const v = headers[h];
    if (v) { method = v.trim().toUpperCase(); out.push(finding(WRITE.has(method) && !WRITE.has(original) ? 'approve' : 'allow', 'http.method-override', `the ${h} header turns ${original} into ${method}`, `${matchedBase} (${h}: ${v})`)); }
  }
  const mq = /(?:^|&)_method=([^&]*)/i.exec(dq);
  if (mq) method = mq[1].toUpperCase();
  const path = normalizeHttpPath(dp).toLowerCase();
  const matched = method === original ? `${original} ${dp}${dq ? '?' + dq : ''}` : `${original}→${method} ${dp}${dq ? '?' + dq : ''}`;
  if (!STANDARD.has(method)) out.push(finding('approve', 'http.unknown-method', `unusual HTTP method ${method}`, matched));
  if (method === 'DELETE') out.push(finding('approve', 'http.delete', 'HTTP DELETE removes a resource', matched));
  if (DESTRUCTIVE.test(path) || DESTRUCTIVE.test('/' + dq.toLowerCase().replace(/[=&]/g, '/'))) out.push(finding('approve', 'http.destructive-path', 'the path names a destructive action', matched));
  if (WRITE.has(method) && /(^|\/)(admin|_admin|administrator|internal|management|actuator|sudo)(\/|$)/.test(path)) out.push(finding('approve', 'http.admin-write', `${method} to an administrative path`, matched));
  if (/(^|\/)(actuator\/(shutdown|env|restart)|debug\/pprof)/.test(path)) out.push(finding('approve', 'http.admin-write', 'management endpoint', matched));
  const isGraphql = /graphql|\/gql(\/|$)/.test(path);
  let gq: { mutation: boolean; unreadable: boolean; any: boolean } | undefined;
  if (isGraphql || (req.body && /"query"\s*:/.test(req.body))) {
    gq = graphqlOps(req.body, dq);
    if (gq.mutation) out.push(finding('approve', 'http.graphql-mutation', 'GraphQL mutation changes data', matched));
    else if (isGraphql && (gq.unreadable || req.bodyUnread) && WRITE.has(method)) out.push(finding('approve', 'http.graphql-unreadable', 'GraphQL request body cannot be read', matched, { floor: true }));
  }
  for (const r of policy.httpRules) {
    if (r.methods.length && !r.methods.includes(method)) continue;
    if (r.paths.length && !r.paths.some((p) => globToRegExp(p.toLowerCase()).test(path))) continue;
    if (r.graphql === 'mutation' && !(gq?.mutation)) continue;
    if (r.graphql === 'any' && !(gq?.any)) continue;
    const user = finding(r.decision, `user:${policy.name}:${r.id}`, r.message, matched);
    const kept = out.filter((f) => f.final || f.floor);
    return worst([...kept, user]) ?? user;
  }
  const w = worst(out);
  if (w && w.decision !== 'allow') return w;
  if (WRITE.has(method) && policy.httpUnknownWrite !== 'allow') return finding(policy.httpUnknownWrite, `policy:${policy.name}:http-write`, `${method} requests need ${policy.httpUnknownWrite} under policy ${policy.name}`, matched);
  return finding('allow', 'http.allow', 'no HTTP rule matched', matched);
}
