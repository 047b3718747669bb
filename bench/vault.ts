import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openStore } from '../src/store/index.js';
import { AD, open, seal } from '../src/vault/seal.js';
import { openKeyring, openVault, Redactor } from '../src/vault/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function perOp(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

/**
 * ~8 MB of log-like output with secrets and shapes sprinkled in, cut into 16 KiB chunks. As
 * `json`, each line is a JSON document (escaped quotes, a `\n` escape, a URL with `&` and `%20`);
 * as `json-slashes`, also with every `/` escaped (`\/`, PHP's default): escape-dense text, where
 * the scrubber must build a decoded view.
 */
function makeOutput(secrets: string[], kind: 'log' | 'json' | 'json-slashes' = 'log'): Buffer[] {
  const lines: string[] = [];
  let size = 0;
  let i = 0;
  while (size < 8 * 1024 * 1024) {
    let l = `2026-11-25T12:00:${String(i % 60).padStart(2, '0')}Z INFO request id=${i.toString(16)} path=/api/v1/items/${i} status=200 bytes=${(i * 7919) % 100000} user-agent="curl/8.5"`;
    if (i % 997 === 0) l += ` echo=${secrets[i % secrets.length]}`;
    if (i % 1499 === 0) l += ` auth=Bearer ${randomBytes(24).toString('base64url')}`;
    if (i % 2003 === 0) l += ` key=sk-proj-${randomBytes(24).toString('base64url')}`;
    if (kind !== 'log') l = JSON.stringify({ msg: l, url: `https://x.example/a?b=${i}&c=%20d` }) + '\\n';
    if (kind === 'json-slashes') l = l.replace(/\//g, '\\/');
    lines.push(l);
    size += l.length + 1;
    i++;
  }
  const all = Buffer.from(lines.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let o = 0; o < all.length; o += 16384) chunks.push(all.subarray(o, o + 16384));
  return chunks;
}

async function streamMBs(chunks: Buffer[], make: () => Transform): Promise<number> {
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  const t0 = process.hrtime.bigint();
  let outBytes = 0;
  await pipeline(
    Readable.from(chunks),
    make(),
    new Writable({
      write(c: Buffer, _e, cb) {
        outBytes += c.length;
        cb();
      },
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (outBytes === 0) throw new Error('no output');
  return bytes / 1024 / 1024 / s;
}

export async function benchVault(): Promise<Record<string, unknown>> {
  const key = randomBytes(32);
  const small = randomBytes(64);
  const kib = randomBytes(1024);
  const ad = AD.field('00000000-0000-0000-0000-000000000000', '11111111-1111-1111-1111-111111111111', 'token');
  const sealedSmall = await seal(small, ad, key);
  const sealedKib = await seal(kib, ad, key);
  await perOp(2000, () => seal(small, ad, key)); // warm-up
  const sealSmall: number[] = [];
  const openSmall: number[] = [];
  const sealKib: number[] = [];
  const openKib: number[] = [];
  for (let r = 0; r < 5; r++) {
    sealSmall.push(await perOp(5000, () => seal(small, ad, key)));
    openSmall.push(await perOp(5000, () => open(sealedSmall, ad, key, 'bench')));
    sealKib.push(await perOp(5000, () => seal(kib, ad, key)));
    openKib.push(await perOp(5000, () => open(sealedKib, ad, key, 'bench')));
  }

  // Handle fill end to end on the embedded store (4 indexed reads + one open).
  const home = mkdtempSync(join(tmpdir(), 'gh-vault-bench-'));
  let fillUs: number;
  try {
    const store = await openStore({ sqliteFile: join(home, 'gatehouse.db') });
    const kr = await openKeyring({ home, masterKeyFile: join(home, 'master.key'), env: {}, store, create: true });
    const v = openVault({ store, keyring: kr });
    await v.createVault('ops');
    await v.setField('ops/api.token', 'bench-secret-0123456789', { bind: ['host:*.example.com'] });
    const opts = { destination: { host: 'api.example.com' }, grantedVaults: ['ops'] };
    await perOp(200, () => v.fillHandles('Bearer {{vault:ops/api.token}}', opts));
    fillUs = median([
      await perOp(1000, () => v.fillHandles('Bearer {{vault:ops/api.token}}', opts)),
      await perOp(1000, () => v.fillHandles('Bearer {{vault:ops/api.token}}', opts)),
    ]);
    await store.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }

  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    seal_64B_us: round(median(sealSmall)),
    open_64B_us: round(median(openSmall)),
    seal_1KiB_us: round(median(sealKib)),
    open_1KiB_us: round(median(openKib)),
    fill_handle_sqlite_us: round(fillUs),
    redaction: await benchRedaction(20),
  };
}

/**
 * Redaction throughput: `count` registered secrets (+ their derived forms) and the built-in
 * shapes, over ~8 MB of log lines, JSON lines and JSON with every `/` escaped, streamed in 16 KiB
 * chunks and scrubbed as one string. Each figure is the median of `runs` rounds, each round
 * measuring passthrough, stream and string in turn.
 */
export async function benchRedaction(count: number, runs = 3): Promise<Record<string, unknown>> {
  const secrets = Array.from({ length: count }, (_, i) => `secret-${i}-${randomBytes(12).toString('base64url')}`);
  const [probe] = secrets;
  const redactor = new Redactor({ audience: 'agent' });
  for (const s of secrets) redactor.add(s);
  // Compiling the combined regexes happens on first use; measured apart from throughput.
  const c0 = process.hrtime.bigint();
  redactor.scrub('warm-up \\u0041 %41 &#65;\n');
  const sc = redactor.createScrubber();
  sc.push(Buffer.from('warm-up \\u0041 %41 &#65;\n'));
  sc.end();
  const compileMs = Number(process.hrtime.bigint() - c0) / 1e6;
  const measure = async (kind: 'log' | 'json' | 'json-slashes') => {
    const chunks = makeOutput(secrets, kind);
    const text = Buffer.concat(chunks).toString('utf8');
    const mb = text.length / 1024 / 1024;
    const baseline: number[] = [];
    const streamed: number[] = [];
    const str: number[] = [];
    for (let r = 0; r < runs; r++) {
      baseline.push(await streamMBs(chunks, () => new PassThrough()));
      streamed.push(await streamMBs(chunks, () => redactor.createScrubStream()));
      const t0 = process.hrtime.bigint();
      const out = redactor.scrub(text);
      str.push(mb / (Number(process.hrtime.bigint() - t0) / 1e9));
      if (probe !== undefined && out.includes(probe)) throw new Error('bench: secret survived');
    }
    return { mb, streamed: median(streamed), str: median(str), baseline: median(baseline) };
  };
  const chunked = chunkFigures(redactor, secrets, runs);
  const log = await measure('log');
  const json = await measure('json');
  const slashes = await measure('json-slashes');
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    output_MB: round(log.mb),
    chunk_bytes: 16384,
    registered_secrets: secrets.length,
    literal_forms: redactor.size,
    compile_ms: round(compileMs, 1),
    streamed_MBps: round(log.streamed, 1),
    string_scrub_MBps: round(log.str, 1),
    baseline_passthrough_MBps: round(log.baseline, 1),
    // Escaped text: a decoded view is built only where an escape could complete a match.
    json_streamed_MBps: round(json.streamed, 1),
    json_string_scrub_MBps: round(json.str, 1),
    json_escaped_slashes_streamed_MBps: round(slashes.streamed, 1),
    json_escaped_slashes_string_scrub_MBps: round(slashes.str, 1),
    // The scrubber alone (no stream), as /gateway feeds it: 64 KiB reads of a download, and one
    // push per server-sent event.
    chunk_64KiB: chunked,
  };
}

/**
 * The byte scrubber's push() alone on what /gateway streams (issue 19 target 2): 64 KiB chunks of
 * the bench upstream's log line (bench/upstream.ts), 64 KiB chunks of JSON lines, and one push per
 * SSE event of the upstream's shape. Best of `runs` rounds each (the box is shared: the best round
 * is the least disturbed one).
 */
function chunkFigures(redactor: Redactor, secrets: string[], runs: number): Record<string, number> {
  const line = Buffer.from(
    '2026-12-06T12:00:00Z INFO request served path=/v1/items status=200 bytes=1234 user=alice\n',
  );
  const logChunk = Buffer.concat(Array.from({ length: Math.floor(65536 / line.length) }, () => line));
  const log = Array.from({ length: 160 }, () => logChunk);
  const jsonAll = Buffer.concat(makeOutput(secrets, 'json'));
  const json: Buffer[] = [];
  for (let o = 0; o < jsonAll.length; o += 65536) json.push(jsonAll.subarray(o, o + 65536));
  const sse = Array.from({ length: 20000 }, (_, i) =>
    Buffer.from(`id: ${i}\nevent: tick\ndata: {"seq":${i},"text":"${'x'.repeat(160)}"}\n\n`),
  );
  const best = (chunks: Buffer[]): number => {
    let us = Infinity;
    for (let r = 0; r < Math.max(3, runs); r++) {
      const sc = redactor.createScrubber();
      const t0 = process.hrtime.bigint();
      for (const c of chunks) sc.push(c);
      sc.end();
      us = Math.min(us, Number(process.hrtime.bigint() - t0) / 1e3);
    }
    return us;
  };
  const mibps = (chunks: Buffer[]) => {
    const bytes = chunks.reduce((a, c) => a + c.length, 0);
    return Math.round((bytes / 1024 / 1024 / (best(chunks) / 1e6)) * 10) / 10;
  };
  return {
    log_MiBps: mibps(log),
    json_MiBps: mibps(json),
    sse_event_us: Math.round((best(sse) / sse.length) * 100) / 100,
  };
}

/**
 * `node dist/bench/vault.js` runs the whole section; `node dist/bench/vault.js redaction 20 200`
 * only the redaction figures, once per number of registered secrets.
 */
if (import.meta.url === `file://${process.argv[1]}`) {
  const [what, ...counts] = process.argv.slice(2);
  if (what === 'redaction') {
    void (async () => {
      const out: Record<string, unknown> = {};
      for (const n of counts.length ? counts.map(Number) : [20]) out[`secrets_${n}`] = await benchRedaction(n);
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    })();
  } else void benchVault().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
