import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  canonicalText,
  readAuditPayloads,
  readAuditRecord,
  verifyAuditChain,
  type AuditEntry,
} from '../../src/audit/index.js';
import { canonicalDetailJson } from '../../src/audit/canonical.js';
import type { Store } from '../../src/store/index.js';
import { Redactor } from '../../src/vault/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { auditHarness } from './harness.js';

/**
 * Issue 13 item 9 and its invariant "the audit chain survives arbitrary strings": whatever text
 * an agent sends, in any field, the record is hashed exactly as either store gives it back, so the
 * chain verifies, and no text is lost (a long one is kept whole in the payload).
 */
const fixtures = await storeFixtures();
const SEED = Number(process.env.AUDIT_FUZZ_SEED ?? 20_260_713);
const RUNS = Number(process.env.AUDIT_FUZZ_RUNS ?? 60);

/** The full text of a column as the record keeps it: the column, or its spilled payload value. */
async function fullText(store: Store, id: string, column: string, shown: string | null): Promise<string | null> {
  const rec = (await readAuditRecord(store, id))!;
  const spilled = rec.payload?.[`@${column}`];
  if (!spilled) return shown;
  return (await readAuditPayloads(store, rec))[`@${column}`].text;
}

describe.each(fixtures.map((f) => [f.name, f] as const))(
  'the audit chain survives arbitrary strings on %s',
  (_name, fx) => {
    const h = auditHarness(fx);
    const { key } = h;
    let store: Store;
    beforeAll(() => void ({ store } = h));

    const fresh = (): Promise<void> => h.clear();

    it('a lone surrogate in a command no longer breaks verify (issue 13 item 9)', async () => {
      await fresh();
      await h.audit.append({ phase: 'attempt', tool: 'ssh_exec', action: 'ls' });
      const { id } = await h.audit.append({
        phase: 'attempt',
        tool: 'ssh_exec',
        action: 'echo \ud800 x',
        target: 'web\udfff',
      });
      await h.audit.append({ phase: 'result', tool: 'ssh_exec', outcome: 'ok' });
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, records: 3, breakCount: 0 });
      // The canonical form is what was hashed, what is stored, and what Node sent on the wire.
      const rec = (await readAuditRecord(store, id))!;
      expect(rec.action).toBe('echo \ufffd x');
      expect(rec.target).toBe('web\ufffd');
      expect(Buffer.from('echo \ud800 x', 'utf8').toString('utf8')).toBe(rec.action);
    });

    it('a NUL in a command is recorded (PostgreSQL refused the insert, and so the action)', async () => {
      await fresh();
      const { id } = await h.audit.append({
        phase: 'attempt',
        tool: 'exec',
        action: 'rm\0 -rf /',
        detail: { 'k\0': 'v\0' },
        payload: { command: 'rm\0 -rf /' },
      });
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
      const rec = (await readAuditRecord(store, id))!;
      expect(rec.action).toBe('rm\ufffd -rf /');
      expect(rec.detail).toEqual({ 'k\ufffd': 'v\ufffd' });
      expect((await readAuditPayloads(store, rec)).command.text).toBe('rm\ufffd -rf /');
    });

    it('a long field is clipped for display without splitting a surrogate pair, and kept whole', async () => {
      await fresh();
      // 3,999 characters then an emoji: a clip at 4,000 UTF-16 units fell between its two halves.
      const action = 'a'.repeat(3999) + '\u{1F600}' + ' rm -rf /';
      const { id } = await h.audit.append({ phase: 'attempt', tool: 'exec', action });
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
      const rec = (await readAuditRecord(store, id))!;
      expect(rec.action!.isWellFormed()).toBe(true);
      expect(rec.action!.startsWith('a'.repeat(3999) + '…[clipped')).toBe(true);
      expect(await fullText(store, id, 'action', rec.action)).toBe(action);
    });

    it('a column longer than its PostgreSQL varchar is kept (it failed the batch there)', async () => {
      await fresh();
      const target = 't'.repeat(300);
      const client = 'c'.repeat(250);
      const { id } = await h.audit.append({
        phase: 'attempt',
        tool: 'x'.repeat(150),
        target,
        client,
        rule: 'r'.repeat(201),
        outcome: 'o'.repeat(60),
        decision: 'd'.repeat(30),
      });
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
      expect((await readAuditRecord(store, id))!).toMatchObject({ target, client, tool: 'x'.repeat(150) });
    });

    it('numbers that are not 32-bit integers do not break the chain or refuse the record', async () => {
      await fresh();
      const cases: [number, number | null][] = [
        [1.5, 2],
        [NaN, null],
        [2 ** 40, 2 ** 31 - 1],
        [-Infinity, -(2 ** 31)],
        [Infinity, 2 ** 31 - 1],
        [-0.4, -0],
      ];
      const ids: string[] = [];
      for (const [v] of cases)
        ids.push((await h.audit.append({ phase: 'result', tool: 'exec', status: v, durationMs: v })).id);
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0, records: cases.length });
      for (let i = 0; i < cases.length; i++) {
        const rec = (await readAuditRecord(store, ids[i]))!;
        expect(rec.status === null ? null : rec.status + 0).toBe(cases[i][1] === null ? null : cases[i][1]! + 0);
        expect(rec.durationMs === null ? null : rec.durationMs + 0).toBe(
          cases[i][1] === null ? null : cases[i][1]! + 0,
        );
      }
    });

    it('a scrubber that returns text no store can hold does not break the chain', async () => {
      await fresh();
      const log = new AuditLog(store, key, { scrub: (s) => s.replaceAll('secret', '\ud800\0') });
      const { id } = await log.append({
        phase: 'attempt',
        tool: 'exec',
        action: 'echo secret',
        detail: { a: 'secret' },
        payload: { command: 'echo secret' },
      });
      await log.close();
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
      const rec = (await readAuditRecord(store, id))!;
      expect(rec.action).toBe('echo \ufffd\ufffd');
      expect(rec.detail).toEqual({ a: '\ufffd\ufffd' });
    });

    it('detail strings are scrubbed before JSON escapes them (a secret holding a quote or a backslash)', async () => {
      await fresh();
      const secrets = ['pa"ss\\word', 'tab\there', 'nl\nx'];
      const log = new AuditLog(store, key, {
        scrub: (s) => secrets.reduce((t, x) => t.replaceAll(x, '[REDACTED]'), s),
      });
      const { id } = await log.append({
        phase: 'result',
        tool: 'api_request',
        detail: { echoed: `a ${secrets[0]} b`, list: [secrets[1]], [secrets[2]]: 1 },
      });
      await log.close();
      const raw = (await store.db
        .selectFrom('audit_log')
        .select('detail')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()) as { detail: string };
      for (const s of secrets) {
        expect(raw.detail).not.toContain(JSON.stringify(s).slice(1, -1));
        expect(raw.detail).not.toContain(s);
      }
      expect((await readAuditRecord(store, id))!.detail).toEqual({
        echoed: 'a [REDACTED] b',
        list: ['[REDACTED]'],
        '[REDACTED]': 1,
      });
    });

    it('a secret shape spanning a detail key and its value is scrubbed (the real redactor)', async () => {
      await fresh();
      const redactor = new Redactor({ audience: 'operator' });
      const log = new AuditLog(store, key, { scrub: (s) => redactor.scrub(s) });
      const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      const { id } = await log.append({
        phase: 'attempt',
        tool: 'exec',
        detail: { env: { AWS_SECRET_ACCESS_KEY: secret } },
      });
      await log.close();
      const raw = (await store.db
        .selectFrom('audit_log')
        .select('detail')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()) as { detail: string };
      expect(raw.detail).not.toContain(secret);
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
    });

    it('detail keys that become equal (lone surrogates, the scrubber, __proto__) keep every value', async () => {
      await fresh();
      const log = new AuditLog(store, key, { scrub: (s) => s.replace(/^tok_\w+$/, '[REDACTED]') });
      const detail = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
      Object.assign(detail, { 'a\ud800': 1, 'a\udfff': 2, 'a\ufffd': 3, tok_one: 4, tok_two: 5 });
      const { id } = await log.append({ phase: 'event', tool: 't', detail });
      await log.close();
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0 });
      const got = (await readAuditRecord(store, id))!.detail!;
      expect(
        Object.values(got)
          .map((v) => JSON.stringify(v))
          .sort(),
      ).toEqual(['1', '2', '3', '4', '5', '{"x":1}']);
      expect(Object.keys(got)).toContain('__proto__');
    });

    it('both stores keep every character the canonical form keeps, in every text column', async () => {
      await fresh();
      const kept = [
        '\x01\x07\x08\x0b\x0c\x1b[31m\x1f\x7f',
        '\r\n\t',
        '\u0080\u0085\u009b\u009f',
        '\ufffe\uffff',
        '\ufeff',
        '\u2028\u2029',
        '\u202e\u2066',
        '\u{10FFFF}\u{1F600}',
        'e\u0301',
        '\ufffd',
        '"\\\'`$',
      ];
      for (const t of kept) {
        expect(canonicalText(t)).toBe(t);
        const entry: AuditEntry = {
          phase: 'event',
          ref: t,
          tokenId: t,
          tokenName: t,
          tool: t,
          route: t,
          target: t,
          action: t,
          decision: t,
          rule: t,
          approver: t,
          outcome: t,
          client: t,
          detail: { [t]: t },
          payload: { value: t, big: t.repeat(2000) },
        };
        const { id } = await h.audit.append(entry);
        const rec = (await readAuditRecord(store, id))!;
        for (const f of [
          'ref',
          'tokenId',
          'tokenName',
          'tool',
          'route',
          'target',
          'action',
          'decision',
          'rule',
          'approver',
          'outcome',
          'client',
        ] as const)
          expect(rec[f]).toBe(t);
        expect(rec.detail).toEqual({ [t]: t });
        const p = await readAuditPayloads(store, rec);
        expect(p.value.text).toBe(t);
        expect(p.big.text).toBe(t.repeat(2000));
      }
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, breakCount: 0, records: kept.length });
    });

    // ---- the property: arbitrary strings in every field, on this store ----

    /** One UTF-16 unit or code point, biased towards what stores and hashes get wrong. */
    const unit = fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
      { weight: 2, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '\0',
          '\ufffe',
          '\uffff',
          '\ufeff',
          '\u2028',
          '\u202e',
          '"',
          '\\',
          '\u{1F600}',
          '\x1b[2J',
          '\r\n',
          'e\u0301',
          '\ufffd',
        ),
      },
    );
    const small = fc.string({ unit, maxLength: 24 });
    // Now and then a huge field: past the display limit, at its surrogate-pair boundary, past the
    // inline payload size.
    const huge = fc
      .tuple(fc.constantFrom(3999, 4000, 4001, 5000, 70_000), small)
      .map(([n, tail]) => 'x'.repeat(n - 1) + '\u{1F600}' + tail);
    const text = fc.oneof({ weight: 12, arbitrary: small }, { weight: 1, arbitrary: huge });
    const detail = fc.dictionary(small, fc.jsonValue({ maxDepth: 3, stringUnit: unit }), { maxKeys: 5 });
    const payloadName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:-]{0,10}$/);
    const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, 2 ** 53));
    const entryArb: fc.Arbitrary<AuditEntry> = fc.record(
      {
        phase: fc.constantFrom('attempt' as const, 'result' as const, 'event' as const),
        ref: text,
        tokenId: text,
        tokenName: text,
        tool: text,
        route: text,
        target: text,
        action: text,
        decision: text,
        rule: text,
        approver: text,
        outcome: text,
        client: text,
        status: number,
        durationMs: number,
        detail,
        payload: fc.dictionary(payloadName, text, { maxKeys: 4 }),
      },
      { requiredKeys: ['phase'] },
    );

    it('property: records with arbitrary strings in every field verify, and read back as their canonical form', async () => {
      await fresh();
      let total = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 6 }), async (entries) => {
          // Appended together, so they share batches as concurrent requests do.
          const ids = (await Promise.all(entries.map((e) => h.audit.append(e)))).map((r) => r.id);
          total += entries.length;
          const v = await verifyAuditChain(store, key);
          expect(v).toMatchObject({ ok: true, breakCount: 0, records: total });
          for (let i = 0; i < entries.length; i++) {
            const e = entries[i];
            const rec = (await readAuditRecord(store, ids[i]))!;
            for (const [f, col] of [
              ['action', 'action'],
              ['target', 'target'],
              ['tokenName', 'token_name'],
              ['client', 'client'],
              ['ref', 'ref'],
            ] as const) {
              const sent = e[f];
              if (sent === undefined || sent === null) continue;
              // Nothing dropped: the column, or the payload value it spilled into, is the whole text.
              expect(await fullText(store, ids[i], col, rec[f])).toBe(canonicalText(sent));
            }
            const values = await readAuditPayloads(store, rec);
            for (const [name, sent] of Object.entries(e.payload ?? {}))
              expect(values[name].text).toBe(canonicalText(sent));
            if (e.detail) {
              const json = canonicalDetailJson(e.detail, (s) => s);
              if (json.length > 64_000) expect(values['@detail'].text).toBe(json);
              else expect(rec.detail).toEqual(JSON.parse(json));
            }
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    }, 120_000);
  },
);
