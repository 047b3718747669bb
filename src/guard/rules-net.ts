import { parseOpts, subcommand, texts, type View } from './argv.js';
import type { SimpleCommand } from './extract.js';
import { checkHttpWith } from './http.js';
import { classifyRead } from './paths.js';
import { parsePolicy, type Policy } from './policy.js';
import type { RuleEnv } from './rules-fs.js';
import { credentialLocation, netVarsRule } from './rules-secrets.js';
import { finding, hardDeny, type Finding, type HttpRequestLike } from './types.js';
import type { Word } from './words.js';

/**
 * Data leaving the host (issue 14 item 2) and remote APIs changed through HTTP clients (item 5):
 *
 * - uploads (`curl -T`, `-d @file`, `-F x=@file`, `wget --post-file`, httpie `@file`, raw sockets
 *   fed data, `scp`/`rsync`/`sftp` to a remote, `ssh host CMD` fed data, cloud storage uploads,
 *   pushes, mail) are approve; credential material among what is sent is deny;
 * - curl, wget, httpie and xh requests are judged by the same HTTP rules as api_request
 *   (RuleEnv.http, from the policy; built-in rules otherwise): DELETE, destructive or admin paths,
 *   GraphQL mutations, method overrides. A write to a URL only known at run time is approve.
 */

const ap = (rule: string, reason: string, v: View): Finding => finding('approve', rule, reason, v.text);

let builtinHttpPolicy: Policy | undefined;
/** The HTTP rules with no policy rules and unknown writes allowed (api_request's built-ins). */
function defaultHttp(req: HttpRequestLike): Finding {
  builtinHttpPolicy ??= parsePolicy('version: 1\nname: builtin-http\n', '(built-in HTTP rules)');
  return checkHttpWith(builtinHttpPolicy, req);
}

/** Whether the command's standard input carries data: a pipe into it, a file redirect (not /dev/null), a heredoc or here-string with text. */
export function hasInput(c: SimpleCommand): boolean {
  if (c.stdin) return c.stdin.dynamic || c.stdin.text.trim() !== '';
  for (const r of c.redirects) {
    if ((r.fd === null || r.fd === '0') && (r.op === '<' || r.op === '<>' || r.op === '<&'))
      return !(r.target && !r.target.dynamic && r.target.text === '/dev/null');
  }
  for (const p of c.pipes) if (p.stage > 0) return true;
  return false;
}

/* ---------------- HTTP clients ---------------- */

/** Options whose value is a local file or a setting (never sent as data): `$TOKEN_FILE` there is not sent. */
const LOCAL_VALUE_OPTS =
  /^(-o|--output|-D|--dump-header|-c|--cookie-jar|--cacert|--capath|--cert|-E|--key|-K|--config|--netrc-file|--trace|--trace-ascii|--stderr|--output-dir|--etag-save|--etag-compare|--libcurl|--hsts|--alt-svc|-O|--output-document|--output-file|-a|--append-output|-P|--directory-prefix|--certificate|--private-key|--ca-certificate|--ca-directory|--load-cookies|--save-cookies|-i|--input-file|--session|--session-read-only|--cert-key)$/;

/** A network client's arguments minus the values of local-file options. */
function sentWords(args: readonly Word[]): Word[] {
  const out: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const t = w.text;
    if (LOCAL_VALUE_OPTS.test(t)) {
      i++;
      continue;
    }
    const eq = t.indexOf('=');
    if (t.startsWith('--') && eq > 0 && LOCAL_VALUE_OPTS.test(t.slice(0, eq))) continue;
    out.push(w);
  }
  return out;
}

/** curl's short options that take a value. */
const CURL_SHORT_VALUE = 'AbcCdDeEFHKmoPQrtTuUwxXyYz';
/** curl's long options that take a value (the common ones; any other long option is read as a flag, so its value would only add a URL to judge). */
const CURL_LONG_VALUE = new Set([
  'abstract-unix-socket',
  'alt-svc',
  'aws-sigv4',
  'cacert',
  'capath',
  'cert',
  'cert-type',
  'ciphers',
  'config',
  'connect-timeout',
  'connect-to',
  'continue-at',
  'cookie',
  'cookie-jar',
  'create-file-mode',
  'crlfile',
  'curves',
  'data',
  'data-ascii',
  'data-binary',
  'data-raw',
  'data-urlencode',
  'delegation',
  'dns-interface',
  'dns-ipv4-addr',
  'dns-ipv6-addr',
  'dns-servers',
  'doh-url',
  'dump-header',
  'egd-file',
  'engine',
  'etag-compare',
  'etag-save',
  'expect100-timeout',
  'form',
  'form-string',
  'ftp-account',
  'ftp-alternative-to-user',
  'ftp-method',
  'ftp-port',
  'header',
  'hostpubmd5',
  'hostpubsha256',
  'hsts',
  'interface',
  'json',
  'keepalive-time',
  'key',
  'key-type',
  'krb',
  'libcurl',
  'limit-rate',
  'local-port',
  'login-options',
  'mail-auth',
  'mail-from',
  'mail-rcpt',
  'max-filesize',
  'max-redirs',
  'max-time',
  'netrc-file',
  'noproxy',
  'oauth2-bearer',
  'output',
  'output-dir',
  'pass',
  'pinnedpubkey',
  'preproxy',
  'proto',
  'proto-default',
  'proto-redir',
  'proxy',
  'proxy-cacert',
  'proxy-capath',
  'proxy-cert',
  'proxy-cert-type',
  'proxy-ciphers',
  'proxy-header',
  'proxy-key',
  'proxy-key-type',
  'proxy-pass',
  'proxy-pinnedpubkey',
  'proxy-service-name',
  'proxy-tls13-ciphers',
  'proxy-tlspassword',
  'proxy-tlsuser',
  'proxy-user',
  'proxy1.0',
  'pubkey',
  'quote',
  'random-file',
  'range',
  'rate',
  'referer',
  'request',
  'request-target',
  'resolve',
  'retry',
  'retry-delay',
  'retry-max-time',
  'sasl-authzid',
  'service-name',
  'socks4',
  'socks4a',
  'socks5',
  'socks5-gssapi-service',
  'socks5-hostname',
  'speed-limit',
  'speed-time',
  'stderr',
  'telnet-option',
  'tftp-blksize',
  'time-cond',
  'tls-max',
  'tls13-ciphers',
  'tlsauthtype',
  'tlspassword',
  'tlsuser',
  'trace',
  'trace-ascii',
  'unix-socket',
  'upload-file',
  'url',
  'url-query',
  'user',
  'user-agent',
  'variable',
  'write-out',
  'max-time',
  'ip-tos',
  'mptcp',
  'ech',
]);

interface CurlView {
  method: string | undefined;
  urls: Word[];
  headers: string[];
  data: Word[];
  dataOpt: string[];
  get: boolean;
  head: boolean;
  upload: Word[];
  form: Word[];
  json: boolean;
  configFile: boolean;
}

function curlView(args: readonly Word[]): CurlView {
  const c: CurlView = {
    method: undefined,
    urls: [],
    headers: [],
    data: [],
    dataOpt: [],
    get: false,
    head: false,
    upload: [],
    form: [],
    json: false,
    configFile: false,
  };
  const take = (name: string, w: Word, value: string): void => {
    const vw: Word = value === w.text ? w : { ...w, text: value };
    switch (name) {
      case 'X':
      case 'request':
        c.method = value.toUpperCase();
        break;
      case 'H':
      case 'header':
        c.headers.push(value);
        break;
      case 'd':
      case 'data':
      case 'data-ascii':
      case 'data-binary':
      case 'data-raw':
      case 'data-urlencode':
        c.data.push(vw);
        c.dataOpt.push(name);
        break;
      case 'json':
        c.data.push(vw);
        c.dataOpt.push(name);
        c.json = true;
        break;
      case 'F':
      case 'form':
      case 'form-string':
        c.form.push(vw);
        break;
      case 'T':
      case 'upload-file':
        c.upload.push(vw);
        break;
      case 'url':
        c.urls.push(vw);
        break;
      case 'K':
      case 'config':
        c.configFile = true;
        break;
      default:
        break;
    }
  };
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const t = w.text;
    const next = args[i + 1];
    if (t === '--') {
      for (const x of args.slice(i + 1)) c.urls.push(x);
      break;
    }
    if (t.startsWith('--') && t.length > 2) {
      const eq = t.indexOf('=');
      const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
      if (name === 'get') c.get = true;
      if (name === 'head') c.head = true;
      if (eq >= 0) {
        take(name, w, t.slice(eq + 1));
        continue;
      }
      if (CURL_LONG_VALUE.has(name) && next) {
        take(name, next, next.text);
        i++;
      }
      continue;
    }
    if (t.startsWith('-') && t.length > 1) {
      for (let k = 1; k < t.length; k++) {
        const ch = t.charAt(k);
        if (ch === 'G') c.get = true;
        if (ch === 'I') c.head = true;
        if (CURL_SHORT_VALUE.includes(ch)) {
          const rest = t.slice(k + 1);
          if (rest.length) take(ch, w, rest);
          else if (next) {
            take(ch, next, next.text);
            i++;
          }
          break;
        }
      }
      continue;
    }
    c.urls.push(w);
  }
  return c;
}

/** path and query of a URL word (scheme optional, as curl and httpie accept `host/path`). */
function urlPath(u: string): { path: string; scheme: string } | undefined {
  let s = u.trim();
  if (/^:\d*(\/|$)/.test(s)) s = 'http://localhost' + s; // httpie's :3000/x
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) s = 'http://' + s;
  try {
    const url = new URL(s);
    return { path: (url.pathname || '/') + url.search, scheme: url.protocol.replace(/:$/, '').toLowerCase() };
  } catch {
    return undefined;
  }
}

/** Judges one request per URL with the HTTP rules (policy's, or the built-ins). */
function judgeRequests(
  v: View,
  env: RuleEnv,
  method: string,
  urls: readonly Word[],
  headers: Record<string, string>,
  body: string | undefined,
  bodyUnread: boolean,
  query: string | undefined,
): Finding[] {
  const out: Finding[] = [];
  const http = env.http ?? defaultHttp;
  const write = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
  for (const u of urls.slice(0, 16)) {
    if (u.dynamic) {
      if (method === 'DELETE' || write)
        out.push(ap('net.http-dynamic', `${v.prog} sends ${method} to a URL only known at run time (${u.raw})`, v));
      continue;
    }
    const p = urlPath(u.text);
    if (!p) {
      if (write)
        out.push(ap('net.http-dynamic', `${v.prog} sends ${method} to a URL the guard cannot read (${u.text})`, v));
      continue;
    }
    if (!/^https?$/.test(p.scheme)) continue;
    let path = p.path;
    if (query !== undefined && query !== '') path += (path.includes('?') ? '&' : '?') + query;
    const req: HttpRequestLike = { method, path, headers };
    if (body !== undefined) req.body = body;
    if (bodyUnread) req.bodyUnread = true;
    const f = http(req);
    if (f.decision !== 'allow') out.push({ ...f, reason: `${v.prog}: ${f.reason}`, matched: v.text });
  }
  return out;
}

function headerMap(list: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (const x of list) {
    const c = x.indexOf(':');
    if (c > 0) h[x.slice(0, c).trim()] = x.slice(c + 1).trim();
  }
  return h;
}

/** `file:///etc/shadow` read by a client: the path rules judge it as a read. */
function fileUrls(v: View, urls: readonly Word[]): Finding[] {
  for (const u of urls) {
    const m = /^file:\/\/(?:localhost)?(\/[^?#]*)/i.exec(u.text);
    if (!m) continue;
    const file = decodeURIComponent(m[1]!);
    const path: Word = { ...u, text: file, prefix: file };
    const f =
      classifyRead(path, v.text) ??
      (credentialLocation(path)
        ? hardDeny('secrets.read', `${v.prog} reads credentials (${path.text}) through a file:// URL`, v.text)
        : undefined);
    if (f) return [f];
  }
  return [];
}

export function curlRule(v: View, env: RuleEnv): Finding[] {
  const c = curlView(v.args);
  const out: Finding[] = [...netVarsRule({ ...v, args: sentWords(v.args) }, env), ...fileUrls(v, c.urls)];
  // Uploads: a local file or standard input as the body or a form part.
  const fromFile = c.data.some(
    (d, i) => d.text.startsWith('@') || (c.dataOpt[i] === 'data-urlencode' && /^[^=]*@/.test(d.text)),
  );
  const formFile = c.form.some((f) => /^[^=]*=[@<]/.test(f.text));
  if (c.upload.length) out.push(ap('net.upload', `curl uploads ${c.upload.map((w) => w.text).join(', ')}`, v));
  if (fromFile || formFile)
    out.push(
      ap(
        'net.upload',
        `curl sends the content of ${[...c.data, ...c.form].map((w) => w.text).find((x) => /@|</.test(x)) ?? 'a file'}`,
        v,
      ),
    );
  for (const f of [...c.data, ...c.form, ...c.upload]) {
    const m = /^(?:[^=@<]*[=])?[@<]?(.+)$/.exec(f.text.replace(/^@/, ''));
    const path = m ? m[1]!.replace(/;.*$/, '') : '';
    if (
      path &&
      path !== '-' &&
      path !== '.' &&
      (f.text.includes('@') || f.text.includes('<') || c.upload.includes(f))
    ) {
      const loc = sentCredential({ ...f, text: path, prefix: path });
      if (loc) {
        out.push(hardDeny('secrets.exfil', `curl sends credentials (${loc}) to another host`, v.text));
        break;
      }
    }
  }
  if (c.configFile)
    out.push(
      ap('net.http-config', 'curl reads its options (URLs, data, headers) from a file the guard cannot read', v),
    );
  // The request as the HTTP rules see it.
  let method =
    c.method ??
    (c.head ? 'HEAD' : c.upload.length ? 'PUT' : (c.data.length || c.form.length) && !c.get ? 'POST' : 'GET');
  if (c.get && !c.method) method = 'GET';
  const headers = headerMap(c.headers);
  if (c.json && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
    headers['Content-Type'] = 'application/json';
  if (c.data.length && !c.json && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const dataDynamic = c.data.some((d) => d.dynamic || d.text.startsWith('@'));
  const body = c.data.length && !c.get ? c.data.map((d) => d.text).join(c.json ? '' : '&') : undefined;
  const query = c.get && c.data.length && !dataDynamic ? c.data.map((d) => d.text).join('&') : undefined;
  out.push(
    ...judgeRequests(
      v,
      env,
      method,
      c.urls,
      headers,
      body,
      dataDynamic || c.form.length > 0 || c.upload.length > 0,
      query,
    ),
  );
  return out;
}

/** wget's short options that take a value. */
const WGET_SHORT_VALUE = 'OoaiBtTwQPlARDIXUe';

export function wgetRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args, WGET_SHORT_VALUE, [
    'output-document',
    'output-file',
    'append-output',
    'input-file',
    'base',
    'tries',
    'timeout',
    'wait',
    'quota',
    'directory-prefix',
    'level',
    'accept',
    'reject',
    'domains',
    'user-agent',
    'execute',
    'header',
    'post-data',
    'post-file',
    'body-data',
    'body-file',
    'method',
    'user',
    'password',
    'http-user',
    'http-password',
    'referer',
  ]);
  const out: Finding[] = [...netVarsRule({ ...v, args: sentWords(v.args) }, env), ...fileUrls(v, o.pos)];
  const postFile = o.long.get('post-file') ?? o.long.get('body-file');
  if (postFile !== undefined) {
    out.push(ap('net.upload', `wget sends the content of ${postFile}`, v));
    const loc = sentCredential({
      text: postFile,
      dynamic: false,
      glob: false,
      raw: postFile,
      vars: [],
      prefix: postFile,
    });
    if (loc) out.push(hardDeny('secrets.exfil', `wget sends credentials (${loc}) to another host`, v.text));
  }
  const data = o.long.get('post-data') ?? o.long.get('body-data');
  const method = (
    o.long.get('method') ??
    (data !== undefined || postFile !== undefined ? 'POST' : o.long.has('spider') ? 'HEAD' : 'GET')
  ).toUpperCase();
  const headers: string[] = [];
  for (const [i, w] of v.args.entries()) {
    const t = w.text;
    const next = v.args[i + 1];
    if (t === '--header' && next) headers.push(next.text);
    else if (t.startsWith('--header=')) headers.push(t.slice(9));
  }
  const h = headerMap(headers);
  if (data !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type'))
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  out.push(
    ...judgeRequests(
      v,
      env,
      method,
      o.pos,
      h,
      data,
      postFile !== undefined || v.args.some((w) => w.dynamic && /post-data|body-data/.test(w.raw)),
      undefined,
    ),
  );
  return out;
}

const HTTPIE_VALUE = new Set([
  '-a',
  '--auth',
  '-A',
  '--auth-type',
  '-o',
  '--output',
  '--session',
  '--session-read-only',
  '--verify',
  '--cert',
  '--cert-key',
  '--cert-key-pass',
  '--timeout',
  '--proxy',
  '--pretty',
  '-s',
  '--style',
  '-p',
  '--print',
  '-P',
  '--history-print',
  '--max-redirects',
  '--raw',
  '--boundary',
  '--format-options',
  '--response-charset',
  '--response-mime',
  '--default-scheme',
  '--ssl',
  '--ciphers',
  '--max-headers',
  '--unix-socket',
  '--resolve',
  '--interface',
  '--local-port',
  '--https-proxy',
  '--http-version',
]);
const HTTP_METHOD =
  /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT|PURGE|PROPFIND|MKCOL|MOVE|COPY|LOCK|UNLOCK|[A-Z]+)$/i;

/** httpie (`http`, `https`) and xh: `http [METHOD] URL [ITEM…]`. */
export function httpieRule(v: View, env: RuleEnv): Finding[] {
  const a = v.args;
  if (a.some((w) => w.text === '--offline')) return [];
  const pos: Word[] = [];
  let raw: string | undefined;
  let form = false;
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    const t = w.text;
    const next = a[i + 1];
    if (t === '--') {
      pos.push(...a.slice(i + 1));
      break;
    }
    if (t.startsWith('--raw=')) {
      raw = t.slice(6);
      continue;
    }
    if (t === '--raw' && next) {
      raw = next.text;
      i++;
      continue;
    }
    if (/^(-f|--form|--multipart)$/.test(t)) form = true;
    if (t.startsWith('-') && t.length > 1) {
      if (HTTPIE_VALUE.has(t)) i++;
      continue;
    }
    pos.push(w);
  }
  const first = pos[0];
  if (!first) return [];
  let method: string | undefined;
  let k = 0;
  if (pos.length > 1 && HTTP_METHOD.test(first.text) && !/[./:]/.test(first.text)) {
    method = first.text.toUpperCase();
    k = 1;
  }
  const url = pos[k];
  const items = pos.slice(k + 1);
  const out: Finding[] = [...netVarsRule({ ...v, args: sentWords(a) }, env)];
  const headers: Record<string, string> = {};
  const query: string[] = [];
  const fields: string[] = [];
  let unread = false;
  let uploads = 0;
  for (const it of items) {
    const t = it.text;
    let m: RegExpExecArray | null;
    if ((m = /^([^=:@]*)==(.*)$/s.exec(t))) query.push(`${encodeURIComponent(m[1]!)}=${encodeURIComponent(m[2]!)}`);
    else if ((m = /^([^=:@]*):=@(.*)$/s.exec(t)) || (m = /^([^=:@]*)=@(.*)$/s.exec(t))) {
      unread = true;
      uploads++;
      checkCred(m[2]!, it, v, out);
    } else if ((m = /^([^=:@]*)@(.+)$/s.exec(t)) || (m = /^()@(.+)$/s.exec(t))) {
      unread = true;
      uploads++;
      checkCred(m[2]!, it, v, out);
    } else if ((m = /^([^=:@]*):=(.*)$/s.exec(t))) fields.push(`"${m[1]}":${m[2]}`);
    else if ((m = /^([^=:@]*)=(.*)$/s.exec(t))) fields.push(`${JSON.stringify(m[1])}:${JSON.stringify(m[2])}`);
    else if ((m = /^([^=:@]+):(.*)$/s.exec(t))) headers[m[1]!] = m[2]!;
    if (it.dynamic) unread = true;
  }
  if (uploads) out.push(ap('net.upload', `${v.prog} sends the content of a local file`, v));
  const stdinBody = hasInput(v.sc) && !items.length && raw === undefined;
  if (stdinBody) {
    unread = true;
    out.push(ap('net.upload', `${v.prog} sends its standard input`, v));
  }
  const hasData = fields.length > 0 || uploads > 0 || raw !== undefined || stdinBody;
  const m2 = method ?? (hasData ? 'POST' : 'GET');
  let body: string | undefined;
  if (raw !== undefined) body = raw;
  else if (fields.length) {
    if (form) {
      body = fields.map((f) => f.replace(/^"?([^":]*)"?:"?(.*?)"?$/, '$1=$2')).join('&');
      headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
    } else {
      body = `{${fields.join(',')}}`;
      headers['Content-Type'] ??= 'application/json';
    }
  }
  out.push(
    ...judgeRequests(v, env, m2, url ? [url] : [], headers, body, unread, query.length ? query.join('&') : undefined),
  );
  return out;
}

function checkCred(path: string, w: Word, v: View, out: Finding[]): void {
  const loc = sentCredential({ ...w, text: path, prefix: path });
  if (loc) out.push(hardDeny('secrets.exfil', `${v.prog} sends credentials (${loc}) to another host`, v.text));
}

/* ---------------- raw sockets ---------------- */

/** nc/ncat/socat/telnet connecting out, and openssl s_client, with data on standard input: it is sent. */
export function rawNetRule(v: View, env: RuleEnv): Finding[] {
  const a = texts(v.args);
  const out: Finding[] = [...netVarsRule(v, env)];
  if (/^(nc|ncat|netcat|nc\.traditional|nc\.openbsd)$/.test(v.prog)) {
    if (a.some((x) => /^-[a-zA-Z]*[lz]/.test(x) || x === '--listen')) return out; // listening (netRule), or a port scan (sends nothing)
    if (a.some((x) => /^-[a-zA-Z]*[ec]$/.test(x) || /^--(sh-|lua-)?exec/.test(x))) return out; // netRule's reverse-shell deny
    out.push(
      ap(
        'net.raw-connection',
        `${v.prog} sends ${hasInput(v.sc) ? 'standard input' : 'whatever it reads'} to another host`,
        v,
      ),
    );
    return out;
  }
  if (v.prog === 'socat') {
    // FILE:/OPEN:/GOPEN: addresses read (or write) local files: a credential sent through one is deny.
    for (const w of v.args)
      for (const m of w.text.matchAll(/(?:^|[!,])(?:FILE|OPEN|GOPEN|CREATE)[:,]([^,!]+)/gi)) {
        const target = m[1]!;
        const p: Word = { ...w, text: target, prefix: target };
        const loc = sentCredential(p);
        if (loc) {
          out.push(hardDeny('secrets.exfil', `socat sends credentials (${loc}) through a connection`, v.text));
          return out;
        }
      }
  }
  if (v.prog === 'telnet' && hasInput(v.sc))
    out.push(ap('net.raw-connection', 'telnet sends standard input to another host', v));
  if (v.prog === 'openssl' && a[0] === 's_client' && hasInput(v.sc))
    out.push(ap('net.raw-connection', 'openssl s_client sends standard input to another host', v));
  return out;
}

/* ---------------- copies to other hosts ---------------- */

/** `[user@]host:path`, `scp://…`, rsync's `host::module` and `rsync://`. Not `C:\…`, not a path with `/` before the colon. */
export function isRemoteSpec(s: string): boolean {
  return /^(scp|sftp|rsync):\/\//.test(s) || /^([^/@:\s]+@)?(\[[0-9a-fA-F:.]+\]|[^/:\s\\]{2,}):/.test(s);
}

/** scp, rsync, sftp: local files to a remote host are approve; credentials among them deny. */
export function remoteCopyRule(v: View): Finding[] {
  const a = v.args;
  const valueShort = v.prog === 'scp' ? 'cDFiJloPSX' : v.prog === 'sftp' ? 'BbcDFiJloPRSs' : 'eBfTM';
  const o = parseOpts(a, valueShort, [
    'rsh',
    'rsync-path',
    'exclude',
    'include',
    'filter',
    'files-from',
    'exclude-from',
    'include-from',
    'backup-dir',
    'chmod',
    'chown',
    'temp-dir',
    'partial-dir',
    'log-file',
    'password-file',
    'port',
    'timeout',
    'contimeout',
    'compare-dest',
    'copy-dest',
    'link-dest',
    'bwlimit',
    'max-size',
    'min-size',
    'out-format',
    'usermap',
    'groupmap',
    'info',
    'debug',
    'outbuf',
    'remote-option',
    'block-size',
    'checksum-choice',
    'compress-choice',
    'iconv',
    'sockopts',
    'address',
    'skip-compress',
    'suffix',
    'stop-after',
    'stop-at',
    'write-batch',
    'read-batch',
    'protocol',
    'modify-window',
  ]);
  const ops = o.pos;
  if (v.prog === 'sftp') {
    // sftp HOST (a session: commands from stdin or -b) can put files; sftp HOST:PATH [LOCAL] downloads.
    const host = ops[0];
    if (!host) return [];
    if (o.values.has('b') || (!/:./.test(host.text) && !host.text.includes(':')))
      return [ap('net.upload', 'sftp opens a file-transfer session that can send local files to another host', v)];
    return [];
  }
  const dest = ops.at(-1);
  if (ops.length < 2 || !dest) return [];
  const sources = ops.slice(0, -1);
  const remoteDest = !dest.dynamic && isRemoteSpec(dest.text);
  const localSources = sources.filter((s) => !isRemoteSpec(s.text));
  const out: Finding[] = [];
  if (remoteDest && localSources.length) {
    out.push(ap('net.upload', `${v.prog} sends local files to another host (${dest.text.split(':')[0]})`, v));
    for (const s of localSources) {
      const loc = sentCredential(s);
      if (loc) {
        out.push(hardDeny('secrets.exfil', `${v.prog} sends credentials (${loc}) to another host`, v.text));
        break;
      }
    }
  } else if (remoteDest || (dest.dynamic && sources.length)) {
    if (dest.dynamic) out.push(ap('net.upload', `${v.prog} copies to a destination only known at run time`, v));
    else out.push(ap('net.upload', `${v.prog} copies files between hosts`, v));
  }
  return out;
}

/** `ssh HOST CMD` with data on standard input (`tar c . | ssh h 'cat > x'`): the data leaves the host. */
export function sshInputRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args, 'BbcDEeFIiJLlmOopQRSWw', [], true);
  const out: Finding[] = [...netVarsRule(v, env)];
  if (o.pos.length >= 2 && hasInput(v.sc) && !(v.sc.stdin && !v.sc.stdin.dynamic))
    out.push(ap('net.upload', `ssh sends standard input to ${o.pos[0]!.text}`, v));
  return out;
}

/* ---------------- cloud storage, registries, mail ---------------- */

/** Positional words after `n` subcommand words (skipping options; values of `--opt value` may appear, so callers test shapes). */
function operands(args: readonly Word[], from: number): Word[] {
  return args.slice(from).filter((w) => !w.text.startsWith('-'));
}

/** Credential material among what is sent: a credential file or directory, or a file the path rules call secret (`.env`, `*.key`). */
export function sentCredential(w: Word): string | undefined {
  const loc = credentialLocation(w);
  if (loc) return loc;
  const f = classifyRead(w, '');
  return f ? w.text : undefined;
}

function uploadOf(v: View, what: string, sources: readonly Word[]): Finding[] {
  const out = [ap('net.upload', what, v)];
  for (const s of sources) {
    const loc = sentCredential(s);
    if (loc) {
      out.push(hardDeny('secrets.exfil', `${v.prog} sends credentials (${loc}) off the host`, v.text));
      break;
    }
  }
  return out;
}

const BUCKET = /^(s3|gs|r2|az|wasbs?|abfss?|b2|oss|cos|swift):\/\//;

export function cloudUploadRule(v: View): Finding[] {
  const a = v.args;
  const t = texts(a);
  const ops = t.filter((x) => !x.startsWith('-'));
  // SRC… DEST, with option values possibly among the operands: the destination is the last
  // remote operand; the sources are the local operands before it (`-` is standard input).
  const localToRemote = (from: number, remote: (s: string) => boolean): Finding[] => {
    const w = operands(a, from);
    const first = w[0];
    if (!first) return [];
    let d = -1;
    for (let k = w.length - 1; k > 0; k--)
      if (remote(w[k]!.text)) {
        d = k;
        break;
      }
    const dest = d < 0 ? undefined : w[d];
    if (!dest)
      return remote(first.text) && hasInput(v.sc) && first === w[w.length - 1]
        ? uploadOf(v, `${v.prog} uploads standard input`, [])
        : [];
    const before = w.slice(0, d);
    const src = before.filter((s) => !remote(s.text));
    if (src.length)
      return uploadOf(
        v,
        `${v.prog} uploads ${src.map((s) => s.text).join(', ')} to ${dest.text}`,
        src.filter((s) => s.text !== '-'),
      );
    const scheme = (s: string): string => s.replace(/:.*$/s, '');
    if (before.some((s) => scheme(s.text) !== scheme(dest.text)))
      return uploadOf(v, `${v.prog} copies data from ${first.text} to ${dest.text} (another provider)`, []);
    return [];
  };
  switch (v.prog) {
    case 'aws': {
      const i = ops.indexOf('s3');
      if (i >= 0 && /^(cp|mv|sync)$/.test(ops[i + 1] ?? '')) {
        const idx = a.findIndex((w) => w.text === ops[i + 1]);
        return localToRemote(idx + 1, (s) => s.startsWith('s3://'));
      }
      if (ops.includes('s3api') && /^(put-object|upload-part)$/.test(ops[ops.indexOf('s3api') + 1] ?? ''))
        return uploadOf(
          v,
          'aws s3api uploads a local file',
          a.filter((w, k) => t[k - 1] === '--body'),
        );
      if (
        /^(glacier|mediastore-data|cloudsearchdomain|deploy)$/.test(ops[0] ?? '') &&
        /^(upload-archive|put-object|upload-documents|push)$/.test(ops[1] ?? '')
      )
        return uploadOf(v, `aws ${ops[0]} ${ops[1]} uploads local data`, []);
      return [];
    }
    case 'gsutil': {
      const i = ops.findIndex((x) => /^(cp|mv|rsync)$/.test(x));
      if (i < 0) return [];
      return localToRemote(a.findIndex((w) => w.text === ops[i]) + 1, (s) => BUCKET.test(s));
    }
    case 'gcloud': {
      if (ops[0] === 'storage' && /^(cp|mv|rsync)$/.test(ops[1] ?? ''))
        return localToRemote(a.findIndex((w) => w.text === ops[1]) + 1, (s) => BUCKET.test(s));
      if (ops[0] === 'compute' && ops[1] === 'scp')
        return localToRemote(a.findIndex((w) => w.text === 'scp') + 1, (s) => isRemoteSpec(s));
      if (ops[0] === 'builds' && ops[1] === 'submit')
        return uploadOf(v, 'gcloud builds submit uploads the source directory', []);
      return [];
    }
    case 'az':
      if (ops[0] === 'storage' && ops.some((x) => /^(upload|upload-batch|sync)$/.test(x)))
        return uploadOf(
          v,
          `az storage ${ops.slice(1, 3).join(' ')} uploads local files`,
          a.filter((w, k) => /^(-f|--file|-s|--source)$/.test(t[k - 1] ?? '')),
        );
      return [];
    case 'azcopy':
      if (/^(copy|cp|sync)$/.test(ops[0] ?? ''))
        return localToRemote(a.findIndex((w) => w.text === ops[0]) + 1, (s) => /^https?:\/\//.test(s));
      return [];
    case 'rclone':
      if (/^(copy|copyto|sync|move|moveto|bisync)$/.test(ops[0] ?? ''))
        return localToRemote(
          a.findIndex((w) => w.text === ops[0]) + 1,
          (s) => /^[A-Za-z0-9_.-]+:/.test(s) && !/^[A-Za-z]:[\\/]/.test(s),
        );
      if (ops[0] === 'rcat') return uploadOf(v, 'rclone rcat uploads standard input', []);
      return [];
    case 's3cmd':
      if (/^(put|sync|mv|cp|modify)$/.test(ops[0] ?? ''))
        return localToRemote(a.findIndex((w) => w.text === ops[0]) + 1, (s) => s.startsWith('s3://'));
      return [];
    case 'mc':
      if (/^(cp|mirror|mv|pipe|put)$/.test(ops[0] ?? ''))
        return uploadOf(v, `mc ${ops[0]} copies data to or between object stores`, operands(a, 1).slice(0, -1));
      return [];
    case 'b2':
      if (/^(upload-file|upload_file|upload-unbound-stream|sync)$/.test(ops[0] ?? ''))
        return uploadOf(v, `b2 ${ops[0]} uploads local files`, operands(a, 1));
      return [];
    case 'restic':
      if (ops.includes('backup'))
        return uploadOf(v, 'restic backup sends files to a repository', operands(a, t.indexOf('backup') + 1));
      return [];
    case 'borg':
      if (ops[0] === 'create' && ops.slice(1).some((x) => /^(ssh:\/\/|[^/\s]+@[^/\s]+:)/.test(x)))
        return uploadOf(v, 'borg create sends files to a remote repository', operands(a, 2));
      return [];
    case 'duplicity': {
      // duplicity [full|incr|incremental|backup] SRC URL backs up; restore, verify, list…, remove…, cleanup do not send.
      if (
        ops[0] !== undefined &&
        /^(restore|verify|collection-status|list-current-files|remove-\S+|cleanup)$/.test(ops[0])
      )
        return [];
      const url = ops.findIndex((x) => /^[a-z][a-z0-9+]*:\/\//.test(x));
      if (url > 0 && !/^file:\/\//.test(ops[url]!))
        return uploadOf(
          v,
          'duplicity sends files to a remote target',
          a.filter(
            (w) => !w.text.startsWith('-') && !/:\/\//.test(w.text) && !/^(full|incr|incremental|backup)$/.test(w.text),
          ),
        );
      return [];
    }
    case 'kubectl':
    case 'oc': {
      const cp = a.findIndex((x) => x.text === 'cp');
      if (cp < 0 || cp > 4) return [];
      // kubectl cp SRC DEST [-c CONTAINER] [-n NS]: operands without the option values.
      const w = parseOpts(a.slice(cp + 1), 'cn', ['container', 'namespace', 'retries', 'context', 'kubeconfig']).pos;
      const pod = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?:/;
      if (w.length >= 2 && pod.test(w[w.length - 1]!.text) && !pod.test(w[0]!.text))
        return uploadOf(v, `${v.prog} cp copies local files into a pod`, w.slice(0, -1));
      return [];
    }
    case 'docker':
    case 'podman':
    case 'nerdctl':
    case 'buildah':
    case 'skopeo': {
      const { sub } = subcommand(a, ['-H', '--host', '--context', '-c', '--config']);
      if (
        sub === 'push' ||
        (sub === 'image' && ops[1] === 'push') ||
        (sub === 'manifest' && ops[1] === 'push') ||
        ((sub === 'buildx' || sub === 'build') && t.includes('--push')) ||
        (v.prog === 'skopeo' && sub === 'copy')
      )
        return uploadOf(v, `${v.prog} pushes an image to a registry`, []);
      return [];
    }
    case 'gh':
      if (ops[0] === 'gist' && ops[1] === 'create')
        return uploadOf(v, 'gh gist create publishes files', operands(a, 2));
      if (ops[0] === 'release' && ops[1] === 'upload')
        return uploadOf(v, 'gh release upload publishes files', operands(a, 3));
      if (
        ops[0] === 'api' &&
        t.some(
          (x, k) =>
            (/^(-F|--field)$/.test(t[k - 1] ?? '') && /=@/.test(x)) ||
            /^(-F|--field=)[^=]*=@/.test(x) ||
            /^--input$/.test(t[k - 1] ?? ''),
        )
      )
        return uploadOf(v, 'gh api sends the content of a local file', []);
      if (ops[0] === 'codespace' && ops[1] === 'cp' && /^remote:/.test(ops[ops.length - 1] ?? ''))
        return uploadOf(v, 'gh codespace cp copies local files into a codespace', operands(a, 2).slice(0, -1));
      return [];
    case 'git': {
      const { sub, index } = subcommand(a, ['-C', '-c', '--git-dir', '--work-tree']);
      if (sub === 'send-email' || sub === 'imap-send') return uploadOf(v, `git ${sub} sends patches by mail`, []);
      if (sub === 'push') {
        const remote = operands(a, index + 1)[0];
        if (remote && /:\/\/|^[^/\s]+@[^/\s]+:|^[^/\s.]+\.[^/\s]+:/.test(remote.text))
          return uploadOf(v, `git push sends the repository to ${remote.text}`, []);
      }
      return [];
    }
    case 'mail':
    case 'mailx':
    case 'Mail':
    case 'mutt':
    case 'neomutt':
    case 's-nail':
    case 'sendmail':
    case 'msmtp':
    case 'ssmtp':
    case 'swaks':
    case 'mpack': {
      const reading =
        /^(mail|mailx|Mail|s-nail|mutt|neomutt)$/.test(v.prog) &&
        !t.some((x) => /@|^-[a-zA-Z]*[tsaA]/.test(x)) &&
        !hasInput(v.sc);
      if (reading) return [];
      return uploadOf(
        v,
        `${v.prog} sends mail${hasInput(v.sc) ? ' with standard input' : ''}`,
        a.filter((w, k) => /^(-a|-A|--attach)$/.test(t[k - 1] ?? '')),
      );
    }
    case 'lftp':
    case 'smbclient':
    case 'tftp':
    case 'ftp': {
      const cmds = a
        .filter((w, k) => /^(-c|-e)$/.test(t[k - 1] ?? ''))
        .map((w) => w.text)
        .join(';');
      if (
        /\b(put|mput|reput|mirror\s+(-R|--reverse)|send|append)\b/.test(cmds) ||
        (v.prog === 'tftp' && t.includes('put'))
      )
        return uploadOf(v, `${v.prog} sends local files to another host`, []);
      return [];
    }
    default:
      return [];
  }
}

/** DNS and ICMP tools with a host or payload only known at run time: data can leave in the name or packet. */
export function dynamicTargetRule(v: View): Finding[] {
  for (const w of v.args)
    if (w.dynamic && /\$\(|`/.test(w.raw))
      return [
        ap(
          'net.dynamic-target',
          `${v.prog} sends a name or payload computed at run time (${w.raw}), a way data leaves the host`,
          v,
        ),
      ];
  return [];
}
