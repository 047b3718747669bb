import { createHash, createHmac, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  INLINE_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  readAuditPayloads,
  readAuditRecord,
  searchAudit,
  verifyAuditChain,
  type AuditRecord,
} from '../../src/audit/index.js';
import { CHAINED_FIELDS } from '../../src/audit/chain.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { auditHarness } from './harness.js';

/**
 * Issue 21 item 4: an audit record never drops what ran. Full texts go in `payload` (inline when
 * small, in audit_blobs in the same transaction when large), the chain covers their digests,
 * verify checks the blobs, and a value too large to keep is refused, never cut.
 */
const fixtures = await storeFixtures();

/** Everything a person can read from a record: its columns and every payload value in full. */
async function everything(store: Store, r: AuditRecord): Promise<string> {
  const values = await readAuditPayloads(store, r);
  return (
    JSON.stringify(r) +
    Object.values(values)
      .map((v) => v.text)
      .join('\n')
  );
}

/** A 140 KB session, then a padded command that plants an alias, then the alias. */
function longSession(): { at: string; dir: 'in' | 'out'; data: string }[] {
  const at = new Date().toISOString();
  return [
    { at, dir: 'in', data: 'cat big.log\n' },
    { at, dir: 'out', data: 'log line with nothing to see\n'.repeat(5000) },
    { at, dir: 'in', data: 'true' + ' '.repeat(600) + "; alias ll='rm -rf ~'\n" },
    { at, dir: 'in', data: 'll\n' },
  ];
}

describe.each(fixtures.map((f) => [f.name, f] as const))('audit payloads on %s', (name, fx) => {
  const h = auditHarness(fx);
  const { key } = h;
  let store: Store;
  beforeAll(() => void ({ store } = h));

  const fresh = (): Promise<void> => h.clear();
  const count = async (table: string) =>
    Number(
      (
        (await store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()) as { n: number | string }
      ).n,
    );

  it('a 140 KB session transcript then a padded alias: the record holds rm (issue 21 item 4)', async () => {
    await fresh();
    // As runtime.ts passes it today (the whole transcript in detail): it used to be cut at 64,000.
    const entries = longSession();
    const asDetail = await h.audit.append({
      phase: 'event',
      tool: 'ssh_session',
      target: 'web',
      outcome: 'transcript',
      detail: { session: 's1', transcript: { entries } },
    });
    // As runtime.ts should pass it: the transcript text as a payload value.
    const text = entries.map((e) => `${e.dir === 'in' ? '> ' : ''}${e.data}`).join('');
    const asPayload = await h.audit.append({
      phase: 'event',
      tool: 'ssh_session',
      target: 'web',
      outcome: 'transcript',
      detail: { session: 's1' },
      payload: { transcript: text },
    });
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
    for (const { id } of [asDetail, asPayload]) {
      const all = await everything(store, (await readAuditRecord(store, id))!);
      expect(all).toContain("; alias ll='rm -rf ~'");
    }
    const viaDetail = (await readAuditRecord(store, asDetail.id))!;
    expect(viaDetail.detail).toMatchObject({ clipped: true, fullTextIn: 'payload @detail' });
    const full = JSON.parse((await readAuditPayloads(store, viaDetail))['@detail'].text) as {
      transcript: { entries: unknown[] };
    };
    expect(full.transcript.entries).toEqual(entries);
  });

  it('an action longer than the display limit is kept whole in the payload (it was clipped at 4,000)', async () => {
    await fresh();
    const action = 'true' + ' '.repeat(5000) + "; alias ll='rm -rf ~'";
    const { id } = await h.audit.append({ phase: 'attempt', tool: 'ssh_exec', action });
    const r = (await readAuditRecord(store, id))!;
    expect(r.action!.length).toBeLessThan(4100);
    expect(r.action).toContain('[clipped; full text in payload @action]');
    expect((await readAuditPayloads(store, r))['@action'].text).toBe(action);
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
  });

  it('small values are stored inline, large ones as content-addressed blobs the chain covers', async () => {
    await fresh();
    const big = 'é'.repeat(INLINE_PAYLOAD_BYTES); // 8 KiB of UTF-8 in 4,096 characters
    const { id } = await h.audit.append({
      phase: 'attempt',
      tool: 'exec',
      action: 'sh',
      payload: { command: 'sh', stdin: big, env: '{"A":"1"}' },
    });
    const r = (await readAuditRecord(store, id))!;
    const sha = createHash('sha256').update(big, 'utf8').digest('hex');
    expect(r.payload).toEqual({
      command: { text: 'sh' },
      env: { text: '{"A":"1"}' },
      stdin: { sha256: sha, bytes: Buffer.byteLength(big) },
    });
    const blob = (await store.db
      .selectFrom('audit_blobs')
      .selectAll()
      .where('sha256', '=', sha)
      .executeTakeFirstOrThrow()) as { bytes: number | string; data: Uint8Array };
    expect(Number(blob.bytes)).toBe(Buffer.byteLength(big));
    expect(Buffer.from(blob.data).toString('utf8')).toBe(big);
    expect((await readAuditPayloads(store, r)).stdin).toEqual({
      text: big,
      bytes: Buffer.byteLength(big),
      sha256: sha,
    });
    // The same content in another record is one blob; both verify.
    await h.audit.append({ phase: 'attempt', tool: 'exec', action: 'sh', payload: { stdin: big } });
    expect(await count('audit_blobs')).toBe(1);
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0, records: 2 });
    // searchAudit shows the references too.
    expect((await searchAudit(store, { tool: 'exec' })).map((x) => Object.keys(x.payload ?? {}).sort())).toEqual([
      ['command', 'env', 'stdin'],
      ['stdin'],
    ]);
  });

  it('verify reports a changed or a missing blob like a changed record, and show says so', async () => {
    await fresh();
    const big = 'x'.repeat(10_000);
    await h.audit.append({ phase: 'attempt', tool: 'exec', payload: { content: big } });
    const { id } = await h.audit.append({ phase: 'attempt', tool: 'exec', payload: { transcript: big + 'y' } });
    await h.audit.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    const shaOf = (s: string) => createHash('sha256').update(s).digest('hex');
    await store.db
      .updateTable('audit_blobs')
      .set({ data: Buffer.from(big.replace('x', 'z')) })
      .where('sha256', '=', shaOf(big))
      .execute();
    await store.db
      .deleteFrom('audit_blobs')
      .where('sha256', '=', shaOf(big + 'y'))
      .execute();
    const v = await verifyAuditChain(store, key);
    expect(v.ok).toBe(false);
    expect(v.breaks).toEqual([
      expect.objectContaining({ chainSeq: 1, id: expect.any(String), problem: 'blob_changed', payload: 'content' }),
      expect.objectContaining({ chainSeq: 2, id, problem: 'blob_missing', payload: 'transcript' }),
    ]);
    expect((await readAuditPayloads(store, (await readAuditRecord(store, id))!)).transcript.problem).toBe('missing');
    const first = String(v.breaks[0]!.id);
    expect((await readAuditPayloads(store, (await readAuditRecord(store, first))!)).content.problem).toBe('changed');
  });

  it('removing a payload reference, or adding one, breaks the chain', async () => {
    await fresh();
    await h.audit.append({ phase: 'attempt', tool: 'exec', action: 'ls', payload: { command: 'rm -rf ~' } });
    await h.audit.append({ phase: 'attempt', tool: 'exec', action: 'ls' });
    await store.db.updateTable('audit_log').set({ payload: null }).where('chain_seq', '=', 1).execute();
    await store.db
      .updateTable('audit_log')
      .set({ payload: '{"command":{"text":"ls"}}' })
      .where('chain_seq', '=', 2)
      .execute();
    const v = await verifyAuditChain(store, key);
    expect(v.breaks.map((b) => [b.chainSeq, b.problem])).toEqual([
      [1, 'changed'],
      [2, 'changed'],
    ]);
  });

  it('a blob that cannot be written fails the append with audit_unavailable, and no record is written', async () => {
    await fresh();
    await h.audit.append({ phase: 'event', tool: 'before' });
    if (name === 'sqlite') {
      await sql
        .raw(
          `CREATE TRIGGER refuse_blobs BEFORE INSERT ON audit_blobs BEGIN SELECT RAISE(ABORT, 'no space for blobs'); END`,
        )
        .execute(store.db);
    } else {
      await sql
        .raw(
          `CREATE FUNCTION refuse_blobs() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no space for blobs'; END $$ LANGUAGE plpgsql`,
        )
        .execute(store.db);
      await sql
        .raw(`CREATE TRIGGER refuse_blobs BEFORE INSERT ON audit_blobs FOR EACH ROW EXECUTE FUNCTION refuse_blobs()`)
        .execute(store.db);
    }
    try {
      let ran = false;
      // The gate's pattern: the action runs only once the attempt's append has resolved.
      const attempt = h.audit
        .append({ phase: 'attempt', tool: 'ssh_exec', action: 'sh', payload: { stdin: 'x'.repeat(20_000) } })
        .then(() => {
          ran = true;
        });
      await expect(attempt).rejects.toMatchObject({ code: 'audit_unavailable' });
      expect(ran).toBe(false);
      expect(await count('audit_log')).toBe(1);
      expect(await count('audit_blobs')).toBe(0);
    } finally {
      await sql.raw('DROP TRIGGER refuse_blobs' + (name === 'sqlite' ? '' : ' ON audit_blobs')).execute(store.db);
      if (name !== 'sqlite') await sql.raw('DROP FUNCTION refuse_blobs()').execute(store.db);
    }
    await h.audit.append({ phase: 'attempt', tool: 'ssh_exec', action: 'sh', payload: { stdin: 'x'.repeat(20_000) } });
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0, records: 2 });
  });

  it('a value over 16 MiB is refused with input_too_large, never cut; its batch neighbours are kept', async () => {
    await fresh();
    const atLimit = 'a'.repeat(MAX_PAYLOAD_BYTES - 3) + '€'; // exactly 16 MiB of UTF-8
    const over = 'a'.repeat(MAX_PAYLOAD_BYTES - 2) + '€';
    const results = await Promise.allSettled([
      h.audit.append({ phase: 'attempt', tool: 'exec', action: 'a' }),
      h.audit.append({ phase: 'attempt', tool: 'exec', action: 'b', payload: { stdin: over } }),
      h.audit.append({ phase: 'attempt', tool: 'exec', action: 'c', payload: { stdin: atLimit } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason as { code: string; message: string; hint?: string };
    expect(err.code).toBe('input_too_large');
    expect(err.message).toMatch(/stdin is 16777217 bytes/);
    const kept = (await readAuditRecord(store, (results[2] as PromiseFulfilledResult<{ id: string }>).value.id))!;
    expect(kept.action).toBe('c');
    expect((await readAuditPayloads(store, kept)).stdin.text).toBe(atLimit);
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0, records: 2 });
  }, 60_000);

  it('a column the log moves to the payload is never refused for its size: past 16 MiB it is kept in parts', async () => {
    await fresh();
    const action = 'echo ' + 'é'.repeat(9 * 1024 * 1024) + ' ; rm -rf ~'; // 18 MiB of UTF-8
    const { id } = await h.audit.append({ phase: 'attempt', tool: 'exec', action });
    const r = (await readAuditRecord(store, id))!;
    expect(Object.keys(r.payload!)).toEqual(['@action.1', '@action.2']);
    expect(r.action).toContain('[clipped; full text in payload @action.1 … @action.2]');
    const parts = await readAuditPayloads(store, r);
    expect(parts['@action.1'].text + parts['@action.2'].text).toBe(action);
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
  }, 60_000);

  it('payload values are scrubbed for operators like every other field, before hashing', async () => {
    await fresh();
    const secret = 'sk_live_' + randomBytes(12).toString('hex');
    const log = new AuditLog(store, key);
    log.setScrubber((s) => s.replaceAll(secret, '[REDACTED]'));
    const { id } = await log.append({
      phase: 'attempt',
      tool: 'exec',
      payload: { env: JSON.stringify({ TOKEN: secret }), stdin: `curl -H "x: ${secret}"\n`.repeat(300) },
    });
    await log.close();
    const raw =
      JSON.stringify(await store.db.selectFrom('audit_log').selectAll().execute()) +
      (await store.db.selectFrom('audit_blobs').select('data').execute())
        .map((b: { data: Uint8Array }) => Buffer.from(b.data).toString())
        .join('');
    expect(raw).not.toContain(secret);
    const values = await readAuditPayloads(store, (await readAuditRecord(store, id))!);
    expect(values.env.text).toBe('{"TOKEN":"[REDACTED]"}');
    expect(values.stdin.text).toContain('[REDACTED]');
    expect(values.stdin.sha256).toBeDefined();
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
  });

  it("a caller cannot write under the log's own payload names", async () => {
    for (const bad of ['@action', '@detail', '', 'has space', 'x'.repeat(65), '__proto__']) {
      await expect(h.audit.append({ phase: 'attempt', tool: 'exec', payload: { [bad]: 'x' } })).rejects.toMatchObject({
        code: 'invalid_input',
      });
    }
    await expect(
      h.audit.append({ phase: 'attempt', tool: 'exec', payload: { command: 42 as unknown as string } }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('a record without a payload hashes no payload element; a legacy record hashes as it was written', async () => {
    await fresh();
    await h.audit.append({ phase: 'attempt', tool: 'exec', action: 'ls', status: 0, detail: { a: 1 } });
    const row = (await store.db.selectFrom('audit_log').selectAll().executeTakeFirstOrThrow()) as Record<
      string,
      string | number | null
    >;
    const text = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));
    // A writer's chain: its tag, chain and place, then every field but the (unhashed) seq, and no payload element.
    const chained = createHmac('sha256', key)
      .update(String(row.prev_hash))
      .update('\n')
      .update(
        JSON.stringify([
          'chain/1',
          row.chain,
          text(row.chain_seq),
          ...CHAINED_FIELDS.filter((f) => f !== 'seq').map((f) => text(row[f])),
        ]),
      )
      .digest('hex');
    expect(row.hash).toBe(chained);
    expect(row.payload).toBeNull();
    // A record written before chains (migration 0009 put it in `legacy`, chain_seq = seq) keeps
    // the hash it was written with, which covers its seq, and verifies as its own chain.
    await fresh();
    const legacy: Record<string, string | number | null> = {
      ...row,
      seq: 1,
      chain: 'legacy',
      chain_seq: 1,
      prev_hash: '0'.repeat(64),
      payload: null,
    };
    legacy.hash = createHmac('sha256', key)
      .update(String(legacy.prev_hash))
      .update('\n')
      .update(JSON.stringify(CHAINED_FIELDS.map((f) => text(legacy[f]))))
      .digest('hex');
    await store.db.insertInto('audit_log').values(legacy).execute();
    expect(await verifyAuditChain(store, key)).toMatchObject({
      ok: true,
      records: 1,
      chains: expect.arrayContaining([expect.objectContaining({ chain: 'legacy', records: 1 })]),
    });
    await store.db.updateTable('audit_log').set({ seq: 2 }).execute();
    expect((await verifyAuditChain(store, key)).firstBad).toMatchObject({ chain: 'legacy', problem: 'changed' });
  });
});
