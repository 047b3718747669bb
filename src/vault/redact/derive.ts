/**
 * Every form in which a filled secret may come back in output: raw, JSON-escaped, URL-encoded
 * (upper/lower-case escapes, `+` for spaces), hex (both cases), and base64/base64url. Escapes
 * that are not one fixed form (`\/`, `\uXXXX` for some characters only, `&#x73;`, `%73` mixed with
 * literal characters, line-wrapped base64) are decoded by views.ts instead, so these forms are
 * matched there too; the raw form with `+` for each space is here because a decoded view keeps
 * `+` as it is (a `+` may be a literal plus in a secret). For base64
 * we also add, for each of the three byte alignments, the run of characters that encodes only
 * the secret's bytes: it appears in the base64 of ANY text containing the secret (for example
 * `Basic base64(user:secret)`), whatever precedes or follows it.
 */
export const MIN_SECRET_LENGTH = 4;
const MIN_DERIVED = 8;

export function deriveForms(secret: string): string[] {
  const out = new Set<string>();
  if (secret.length < MIN_SECRET_LENGTH) return [];
  out.add(secret);
  const json = JSON.stringify(secret).slice(1, -1);
  out.add(json);
  const url = encodeURIComponent(secret);
  out.add(url);
  out.add(url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  out.add(url.replace(/%20/g, '+'));
  if (secret.includes(' ')) out.add(secret.replace(/ /g, '+'));
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  out.add(hex);
  out.add(hex.toUpperCase());
  for (const variant of ['base64', 'base64url'] as const) {
    out.add(bytes.toString(variant));
    out.add(bytes.toString(variant).replace(/=+$/, ''));
    for (let k = 0; k < 3; k++) {
      // k unknown bytes precede the secret: skip to the next 3-byte group boundary.
      const start = (3 - k) % 3;
      const n = Math.floor((bytes.length - start) / 3);
      if (n <= 0) continue;
      const mid = bytes
        .subarray(start, start + 3 * n)
        .toString(variant)
        .replace(/=+$/, '');
      if (mid.length >= MIN_DERIVED) out.add(mid);
    }
  }
  // JSON encoders that escape every `/` (PHP's default) are common enough to be a fixed form: the
  // decoded view then is not needed for them (see candidatesFor in views.ts).
  for (const f of [...out]) if (f.includes('/')) out.add(f.replace(/\//g, '\\/'));
  return [...out].filter(
    (f) => f.length >= MIN_SECRET_LENGTH && (f === secret || f.length >= Math.min(MIN_DERIVED, secret.length)),
  );
}

/**
 * The secret's UTF-16 bytes (LE and BE), as latin1 strings (one char per byte): the forms a
 * byte stream carries when a program writes UTF-16 (PowerShell, Windows tools, `iconv`). For the
 * byte compilation only: text reaches the redactor already decoded.
 */
export function deriveUtf16Forms(secret: string): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const le = Buffer.from(secret, 'utf16le');
  const be = Buffer.from(le).swap16();
  return [le.toString('latin1'), be.toString('latin1')];
}
