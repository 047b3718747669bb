/**
 * Issue 13.12: a GraphQL mutation in UTF-16 JSON, sent to a path not named like GraphQL, was not
 * judged as GraphQL: the guard read the bytes as UTF-8 (NUL between every letter) while the server
 * decoded them with the declared charset, or sniffed UTF-16 as Jackson does. The guard now reads
 * the body with every charset a server may use (declared, sniffed, and UTF-8), judges each reading,
 * and fails closed (approve) on a body it cannot read.
 *
 * `body` is text whose UTF-8 bytes are what is sent (as api_request sends a string body), so a
 * UTF-16 body is written here as the JS string whose UTF-8 encoding is those bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
});

const MUTATION = JSON.stringify({ query: 'mutation { deleteAllUsers { id } }' });
const OVERRIDE = JSON.stringify({ _method: 'DELETE', id: 7 });

/** The text whose UTF-8 bytes are `s` encoded as UTF-16 or UTF-32 (ASCII only, so every byte is < 0x80). */
function asBytes(s: string, enc: 'utf16le' | 'utf16be' | 'utf32le' | 'utf32be'): string {
  let buf: Buffer;
  if (enc === 'utf16le') buf = Buffer.from(s, 'utf16le');
  else if (enc === 'utf16be') buf = Buffer.from(s, 'utf16le').swap16();
  else {
    buf = Buffer.alloc(s.length * 4);
    for (let i = 0; i < s.length; i++) {
      if (enc === 'utf32le') buf.writeUInt32LE(s.charCodeAt(i), i * 4);
      else buf.writeUInt32BE(s.charCodeAt(i), i * 4);
    }
  }
  return buf.toString('latin1'); // all bytes < 0x80: latin1 text == its UTF-8 bytes
}

const post = (path: string, body: string, type?: string) =>
  g.checkHttp({ method: 'POST', path, headers: type === undefined ? {} : { 'content-type': type }, body });

describe('the guard reads a body with every charset a server may use', () => {
  it.each([
    ['utf-16 declared (LE, no BOM)', asBytes(MUTATION, 'utf16le'), 'application/json; charset=utf-16'],
    [
      'utf-16 declared, read big-endian by servers that default to it',
      asBytes(MUTATION, 'utf16be'),
      'application/json; charset=UTF-16',
    ],
    ['utf-16le declared', asBytes(MUTATION, 'utf16le'), 'application/json;charset="utf-16le"'],
    ['utf-16be declared', asBytes(MUTATION, 'utf16be'), 'application/json; charset=utf-16be'],
    ['utf-32 declared', asBytes(MUTATION, 'utf32le'), 'application/json; charset=utf-32'],
    ['utf-32be declared', asBytes(MUTATION, 'utf32be'), 'application/json; charset=utf-32be'],
    ['utf-16le sniffed, declared utf-8', asBytes(MUTATION, 'utf16le'), 'application/json; charset=utf-8'],
    ['utf-16be sniffed, no type', asBytes(MUTATION, 'utf16be'), undefined],
    ['utf-32le sniffed', asBytes(MUTATION, 'utf32le'), 'application/json'],
  ])('a GraphQL mutation in %s on a path not named like GraphQL needs approval', (_name, body, type) => {
    expect(post('/api/v2/run', body, type)).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
  });

  it('a method override in a UTF-16 JSON or form body is seen', () => {
    // POST -> DELETE: the override is seen, and the DELETE it makes is judged (http.delete).
    expect(post('/api/items/7', asBytes(OVERRIDE, 'utf16le'), 'application/json; charset=utf-16')).toMatchObject({
      decision: 'approve',
      matched: expect.stringContaining('POST→DELETE'),
    });
    expect(
      post(
        '/api/items/7',
        asBytes('_method=DELETE&x=1', 'utf16be'),
        'application/x-www-form-urlencoded; charset=utf-16be',
      ),
    ).toMatchObject({ decision: 'approve', matched: expect.stringContaining('POST→DELETE') });
    expect(post('/api/items/7', OVERRIDE.replace('DELETE', 'GET'), 'application/json').decision).toBe('allow');
  });

  it('a charset the guard cannot read, or two Content-Types, fail closed (approve)', () => {
    for (const type of [
      'application/json; charset=utf-7',
      'application/json; charset=x-unknown',
      'application/json; charset=iso-2022-kr',
    ]) {
      expect(post('/api/x', '{"a":1}', type), type).toMatchObject({
        decision: 'approve',
        rule: 'http.body-undecodable',
      });
    }
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/api/x',
        headers: { 'Content-Type': 'text/plain', 'content-type': 'application/json; charset=utf-16' },
        body: '{"a":1}',
      }),
    ).toMatchObject({ decision: 'approve', rule: 'http.body-undecodable' });
  });

  it('a textual body the guard was not shown, or a content coding it was not given decoded, is approve on any path', () => {
    // /gateway passes bytes that are not UTF-8 (UTF-16 with a byte-order mark) as unread.
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/api/x',
        headers: { 'content-type': 'application/json; charset=utf-16' },
        bodyUnread: true,
      }),
    ).toMatchObject({ decision: 'approve', rule: 'http.body-undecodable' });
    // A string body declared compressed (api_request): the server inflates what the guard never saw.
    expect(post('/api/x', 'x\x9c not really deflate', 'application/json').decision).toBe('allow');
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/api/x',
        headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' },
        body: 'x\x9cK',
      }),
    ).toMatchObject({ decision: 'approve', rule: 'http.body-undecodable' });
    // A binary stream the guard was not shown stays as it was: unread, judged on GraphQL paths only.
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/v1/upload',
        headers: { 'content-type': 'application/octet-stream' },
        bodyUnread: true,
      }).decision,
    ).toBe('allow');
  });

  it('a multipart part in another charset or transfer encoding is opaque, and a GraphQL multipart field names it', () => {
    const b = 'XyZ';
    const part = (name: string, head = '') => `--${b}\r\nContent-Disposition: form-data; name="${name}"${head}\r\n\r\n`;
    const body = `${part('operations', '\r\nContent-Type: application/json; charset=utf-16')}${asBytes(MUTATION, 'utf16le')}\r\n--${b}--\r\n`;
    expect(post('/api/upload', body, `multipart/form-data; boundary=${b}`)).toMatchObject({ decision: 'approve' });
    const b64 = `${part('_method', '\r\nContent-Transfer-Encoding: base64')}${Buffer.from('DELETE').toString('base64')}\r\n--${b}--\r\n`;
    expect(post('/api/items/7', b64, `multipart/form-data; boundary=${b}`)).toMatchObject({ decision: 'approve' });
  });

  it('ordinary bodies keep their verdicts (no false positives from the extra readings)', () => {
    expect(
      post('/api/items', JSON.stringify({ name: 'x', note: 'query the docs' }), 'application/json; charset=utf-8')
        .decision,
    ).toBe('allow');
    expect(
      post('/api/items', 'name=caf\u00e9&x=1', 'application/x-www-form-urlencoded; charset=iso-8859-1').decision,
    ).toBe('allow');
    expect(
      post('/api/items', JSON.stringify({ a: '\u00e9\u00e8' }), 'application/json; charset=shift_jis').decision,
    ).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '{ a }' }), 'application/json; charset=utf-8').decision).toBe(
      'allow',
    );
  });

  it('every reading counts, so a UTF-16 write to a GraphQL path needs approval even when it is a read (its UTF-8 reading cannot be lexed)', () => {
    // The accepted cost of judging every reading: a server that ignored the charset would see
    // NULs, which proves nothing harmless. UTF-16 GraphQL is rare; the verdict is approve, not deny.
    expect(
      post('/graphql', asBytes(JSON.stringify({ query: '{ a }' }), 'utf16le'), 'application/json; charset=utf-16le'),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-unreadable' });
  });

  it('two spellings of one header are one header: every value counts', () => {
    const d = g.checkHttp({
      method: 'GET',
      path: '/api/items/7',
      headers: { 'X-HTTP-Method-Override': 'DELETE', 'x-http-method-override': 'GET' },
    });
    expect(d).toMatchObject({ decision: 'approve', rule: 'http.method-override' });
  });
});
