/**
 * The embedded store's audit writer on a thread of its own (src/audit/thread-writer.ts), as
 * `serve` and `mcp` run it: the built thread entry (dist/src/audit/writer-thread.js; `npm test`
 * builds it first) on a real file store. The in-thread writer's ordering (an attempt resolves only
 * after its flush) is tested with a held flush in sqlite-writer.test.ts; the thread runs that same
 * writer, and test/e2e/audit-crash.test.ts kills a loaded `serve` (which uses the thread) in a loop.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditPayloads, readAuditRecord, verifyAuditChain } from '../../src/audit/index.js';
import type { ChainedRecord } from '../../src/audit/chain.js';
import { threadAuditWriter } from '../../src/audit/thread-writer.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';

const BUILT = new URL('../../dist/src/audit/writer-thread.js', import.meta.url);
const DIST_AUDIT = new URL('../../dist/src/audit/index.js', import.meta.url);
const DIST_STORE = new URL('../../dist/src/store/index.js', import.meta.url);

/** Waits, turn by turn, until `cond` holds (the test's timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('audit writer thread', () => {
  const home = tempHome();
  const stores: Store[] = [];
  const open = async (name: string): Promise<Store> => {
    const s = await openStore({ sqliteFile: join(home.dir, name) });
    stores.push(s);
    return s;
  };
  /** A thread entry written for the test: how a broken or dying thread is made without touching the real one. */
  const fixture = (name: string, code: string): URL => {
    const file = join(home.dir, name);
    writeFileSync(file, code);
    return pathToFileURL(file);
  };
  beforeAll(() => {
    if (!existsSync(fileURLToPath(BUILT))) {
      throw new Error(`${fileURLToPath(BUILT)} is missing: run \`npm run build\` (npm test does it for you)`);
    }
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    home.cleanup();
  });

  it('commits beside an in-thread writer on another connection; the chain verifies and records are readable at once', async () => {
    const file = 'shared.db';
    const key = randomBytes(32);
    const s1 = await open(file);
    const s2 = await open(file);
    const threaded = new AuditLog(s1, key, { writerThread: BUILT });
    const inThread = new AuditLog(s2, key);
    const appended = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        (i % 3 ? threaded : inThread).append({
          phase: i % 2 ? 'attempt' : 'result',
          tool: 'api_request',
          action: `call ${i}`,
        }),
      ),
    );
    expect(new Set(appended.map((r) => r.seq)).size).toBe(300);
    // Readable through the store's own connection as soon as the append resolved.
    const last = appended.at(-1)!;
    expect(await readAuditRecord(s1, String(last.seq))).toMatchObject({ id: last.id, action: 'call 299' });
    expect(await verifyAuditChain(s1, key)).toMatchObject({ ok: true, records: 300, breakCount: 0 });
    await threaded.close();
    await inThread.close();
  });

  it('a payload kept as a blob crosses to the thread whole (its bytes and hash read back)', async () => {
    const s = await open('blob.db');
    const key = randomBytes(32);
    const log = new AuditLog(s, key, { writerThread: BUILT });
    const body = 'é'.repeat(5000) + randomBytes(8).toString('hex');
    const { seq } = await log.append({ phase: 'attempt', tool: 'api_request', payload: { body } });
    const rec = await readAuditRecord(s, String(seq));
    expect(rec?.payload?.body).toMatchObject({ bytes: Buffer.byteLength(body) });
    expect((await readAuditPayloads(s, rec!)).body).toMatchObject({ text: body });
    expect(await verifyAuditChain(s, key)).toMatchObject({ ok: true, records: 1 });
    await log.close();
  });

  it('a commit that fails on the thread refuses the append (audit_unavailable), and so does the next', async () => {
    const s = await open('gone.db');
    const log = new AuditLog(s, randomBytes(32), { writerThread: BUILT });
    await log.append({ phase: 'attempt', tool: 'exec', action: 'ls' });
    s.sqlite!.exec('ALTER TABLE audit_log RENAME TO audit_log_moved');
    await expect(log.append({ phase: 'attempt', tool: 'exec', action: 'rm' })).rejects.toMatchObject({
      code: 'audit_unavailable',
    });
    await expect(log.append({ phase: 'attempt', tool: 'exec', action: 'rm' })).rejects.toMatchObject({
      code: 'audit_unavailable',
    });
    s.sqlite!.exec('ALTER TABLE audit_log_moved RENAME TO audit_log');
    await log.close();
  });

  it('a thread that cannot start refuses every append; it is not replaced', async () => {
    const s = await open('nostart.db');
    const broken = fixture('broken-thread.mjs', "throw new Error('the thread could not load');\n");
    const log = new AuditLog(s, randomBytes(32), { writerThread: broken });
    await expect(log.append({ phase: 'attempt', tool: 'exec', action: 'ls' })).rejects.toMatchObject({
      code: 'audit_unavailable',
    });
    await expect(log.append({ phase: 'attempt', tool: 'exec', action: 'ls' })).rejects.toMatchObject({
      code: 'audit_unavailable',
    });
    expect(s.sqlite!.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 0 });
    await log.close();
  });

  it('a thread that dies while a write waits rejects it and every later write', async () => {
    const dies = fixture(
      'dying-thread.mjs',
      "import { parentPort } from 'node:worker_threads';\nparentPort.once('message', () => process.exit(7));\n",
    );
    const writer = threadAuditWriter(
      dies,
      { file: join(home.dir, 'unused.db'), driver: 'better-sqlite3' },
      randomBytes(32),
    );
    const record = { seq: 0, id: 'a', ts: 't', phase: 'attempt', prev_hash: '' } as Parameters<
      typeof writer.write
    >[1][0];
    await expect(writer.write('w1', [record])).rejects.toThrow(/exited \(code 7\)/);
    await expect(writer.write('w1', [record])).rejects.toThrow(/exited \(code 7\)/);
    await expect(writer.flushLagging()).rejects.toThrow(/exited/);
  });

  it('a process that never closes its log still exits once its records are written, and they are kept', async () => {
    const file = join(home.dir, 'oneshot.db');
    const script = `
      const { AuditLog, builtWriterThread } = await import(${JSON.stringify(DIST_AUDIT.href)});
      const { openStore } = await import(${JSON.stringify(DIST_STORE.href)});
      const { randomBytes } = await import('node:crypto');
      const store = await openStore({ sqliteFile: ${JSON.stringify(file)} });
      const thread = builtWriterThread();
      if (!thread) throw new Error('no built writer thread beside dist/src/audit');
      const log = new AuditLog(store, randomBytes(32), { writerThread: thread });
      const r = await log.append({ phase: 'attempt', tool: 'exec', action: 'never closed' });
      process.stdout.write(String(r.seq));
    `;
    // --input-type is this process's flag: the thread must not take it (it could not start).
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('1');
    const s = await open('oneshot.db');
    expect(await readAuditRecord(s, '1')).toMatchObject({ action: 'never closed' });
  });

  /**
   * A stand-in thread speaking the protocol (writer-wire.ts): it answers `committed` at once when
   * asked, and `done` (or `failed`) only once the test creates the release file.
   */
  const heldThread = (name: string, last: 'done' | 'failed'): { entry: URL; release(): void } => {
    const release = join(home.dir, `${name}.release`);
    const answer =
      last === 'done'
        ? '{ id: m.id, kind: "done", seqs: [7] }'
        : '{ id: m.id, kind: "failed", message: "EIO: the flush failed", code: "EIO" }';
    const entry = fixture(
      `${name}.mjs`,
      [
        "import { parentPort } from 'node:worker_threads';",
        "import { existsSync } from 'node:fs';",
        "parentPort.postMessage({ kind: 'ready' });",
        "parentPort.on('message', (m) => {",
        "  if (m.op === 'write' && m.early) parentPort.postMessage({ id: m.id, kind: 'committed', seqs: [7] });",
        '  const t = setInterval(() => {',
        `    if (!existsSync(${JSON.stringify(release)})) return;`,
        '    clearInterval(t);',
        `    parentPort.postMessage(${answer});`,
        '  }, 2);',
        '});',
        '',
      ].join('\n'),
    );
    return { entry, release: () => writeFileSync(release, '') };
  };
  const oneRecord = { seq: 0, id: 'a', ts: 't', phase: 'attempt', prev_hash: '' } as ChainedRecord;

  it('a write answered at its commit still resolves only when the thread says it is done (after the flush)', async () => {
    const held = heldThread('held-done', 'done');
    const writer = threadAuditWriter(
      held.entry,
      { file: join(home.dir, 'unused.db'), driver: 'better-sqlite3' },
      randomBytes(32),
    );
    let committedSeqs: number[] | undefined;
    let settled = false;
    const p = writer
      .write('w1', [oneRecord], true, [], (seqs) => (committedSeqs = seqs))
      .finally(() => (settled = true));
    await until(() => committedSeqs !== undefined);
    expect(committedSeqs).toEqual([7]);
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    held.release();
    expect(await p).toEqual([7]);
    await writer.close();
  });

  it('a write answered at its commit and then failed is rejected (the attempt is refused)', async () => {
    const held = heldThread('held-failed', 'failed');
    const writer = threadAuditWriter(
      held.entry,
      { file: join(home.dir, 'unused.db'), driver: 'better-sqlite3' },
      randomBytes(32),
    );
    let committed = false;
    const p = writer.write('w1', [oneRecord], true, [], () => (committed = true));
    await until(() => committed);
    held.release();
    await expect(p).rejects.toMatchObject({ message: 'EIO: the flush failed', code: 'EIO' });
    await writer.close();
  });
});
