/**
 * Content decoding for responses that must be read as plain bytes (buffered mode, and streaming
 * mode when a redaction transform is installed). We ask for identity; this handles upstreams that
 * compress anyway. Unknown or stacked encodings are refused: redaction cannot see inside them.
 */
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { GatehouseError } from '../core/index.js';

export function decoderFor(contentEncoding: string | undefined, targetName: string): Transform | null {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return null;
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.createGunzip();
  if (enc === 'deflate') return zlib.createInflate();
  if (enc === 'br') return zlib.createBrotliDecompress();
  throw new GatehouseError('upstream_error', `target "${targetName}" answered with an unsupported content-encoding`, {
    hint: 'the gateway reads only identity, gzip, deflate or br bodies',
    details: { contentEncoding: enc.slice(0, 40) },
  });
}
