/**
 * Issue 15's bench: memory search latency with 10,000 memories in the store (100 agents' own
 * scopes of 90 each, and 1,000 in the org scope), on the embedded store and on PostgreSQL, beside
 * a bare `SELECT` of one item by its id in the same run. A search reads as one agent: its own
 * scope and the org's (the scope filter is part of every search). Queries are one or two words
 * drawn from the same vocabulary as the text, mid-frequency words mostly.
 *
 * Seeding goes through the knowledge layer's own write path (versions, signatures, the full-text
 * index) with the embedded store's commits not flushed (`synchronous = OFF` on the bench's
 * connection: the seed is not what is measured).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnowledgeStore, WikiStore } from '../src/knowledge/index.js';
import { dropSchema, openStore, type Store } from '../src/store/index.js';
import { summarize, timeIt } from './stats.js';

const BENCH_PG = process.env.GATEHOUSE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const AGENTS = 100;
const PER_AGENT = 90;
const ORG = 1000;
const QUERIES = 300;
const PAGES = 5000;
const NAMESPACES = 10;

/** A small deterministic PRNG, so both stores hold the same text and get the same queries. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'pa', 'qui', 'dra', 'fen', 'gor', 'hul'];

function vocabulary(rand: () => number, n: number): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    let w = '';
    for (let i = 0, len = 2 + Math.floor(rand() * 3); i < len; i++)
      w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    out.add(w);
  }
  return [...out];
}

/** A Zipf-like pick: low indexes (common words) far more often. */
const zipf = (rand: () => number, n: number) => Math.min(n - 1, Math.floor(n ** rand()) - 1);

async function benchOne(store: Store): Promise<Record<string, unknown>> {
  if (store.sqlite) store.sqlite.exec('PRAGMA synchronous = OFF');
  const k = new KnowledgeStore({ store, integrityKey: randomBytes(32), secretScan: () => undefined });
  const rand = rng(15);
  const words = vocabulary(rand, 3000);
  const text = (n: number) => Array.from({ length: n }, () => words[zipf(rand, words.length)]).join(' ');
  const author = { name: 'bench', trust: 'agent' as const };
  const seedStarted = performance.now();
  const writes: [string, number][] = [];
  for (let a = 0; a < AGENTS; a++) for (let i = 0; i < PER_AGENT; i++) writes.push([`token:agent${a}`, i]);
  for (let i = 0; i < ORG; i++) writes.push(['org', i]);
  const ids: string[] = [];
  // A few writes at a time: PostgreSQL commits them side by side; SQLite serialises them anyway.
  for (let i = 0; i < writes.length; i += 16) {
    const batch = writes
      .slice(i, i + 16)
      .map(([scope, n]) =>
        k.write(
          'memory',
          scope,
          `notes/${n}.md`,
          { title: text(4), summary: text(8), tags: [], body: text(60) },
          { author },
        ),
      );
    for (const item of await Promise.all(batch)) ids.push(item.id);
  }
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  const scopes = ['token:agent7', 'org'];
  const queries = Array.from({ length: QUERIES }, () => {
    const w = () => words[20 + Math.floor(rand() * 400)]!;
    return rand() < 0.5 ? w() : `${w()} ${w()}`;
  });
  for (const q of queries.slice(0, 30)) await k.search('memory', scopes, q); // warm-up
  let hits = 0;
  const search: number[] = [];
  for (const q of queries)
    search.push(await timeIt(async () => (hits += (await k.search('memory', scopes, q)).length)));
  const byId: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const id = ids[Math.floor(rand() * ids.length)]!;
    byId.push(
      await timeIt(() => store.db.selectFrom('knowledge_items').selectAll().where('id', '=', id).executeTakeFirst()),
    );
  }
  const s = summarize(search);
  const b = summarize(byId);

  // The wiki: 5,000 pages of ~300 words in 10 namespaces (each linking to two others); a search
  // reads the 5 namespaces one token is granted.
  const wiki = new WikiStore(k);
  const wikiStarted = performance.now();
  const pages: [string, number][] = [];
  for (let n = 0; n < NAMESPACES; n++) for (let i = 0; i < PAGES / NAMESPACES; i++) pages.push([`ns${n}`, i]);
  for (let i = 0; i < pages.length; i += 16) {
    await Promise.all(
      pages.slice(i, i + 16).map(([ns, n]) =>
        wiki.write(
          ns,
          `pages/p${n}`,
          {
            title: text(5),
            summary: text(12),
            body: `${text(300)} [[pages/p${(n + 1) % 500}]] [[pages/p${(n + 7) % 500}]]`,
            owner: 'bench',
          },
          { author },
        ),
      ),
    );
  }
  const wikiSeedSeconds = (performance.now() - wikiStarted) / 1000;
  const granted = ['ns0', 'ns2', 'ns4', 'ns6', 'ns8'];
  for (const q of queries.slice(0, 30)) await wiki.search(granted, q);
  let wikiHits = 0;
  const wikiSearch: number[] = [];
  for (const q of queries)
    wikiSearch.push(await timeIt(async () => (wikiHits += (await wiki.search(granted, q)).length)));
  const w = summarize(wikiSearch);
  return {
    items: ids.length,
    seed_seconds: +seedSeconds.toFixed(1),
    memory_search: s,
    mean_hits_per_search: +(hits / QUERIES).toFixed(1),
    bare_select_by_id: b,
    search_vs_bare_select_median: +(s.median_ms / b.median_ms).toFixed(1),
    wiki_pages: pages.length,
    wiki_seed_seconds: +wikiSeedSeconds.toFixed(1),
    wiki_search: w,
    wiki_mean_hits_per_search: +(wikiHits / QUERIES).toFixed(1),
    wiki_search_vs_bare_select_median: +(w.median_ms / b.median_ms).toFixed(1),
  };
}

export async function benchKnowledge(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-kn-'));
  const out: Record<string, unknown> = {
    note: `${AGENTS * PER_AGENT + ORG} memories (each search reads one agent's scope and the org's) and ${PAGES} wiki pages in ${NAMESPACES} namespaces (each search reads 5); latencies in ms`,
    target: 'memory_search p50 < 5 ms and wiki_search p50 < 10 ms on SQLite',
  };
  try {
    const sqlite = await openStore({ sqliteFile: join(dir, 'kn.db') });
    try {
      out.sqlite = await benchOne(sqlite);
    } finally {
      await sqlite.close();
    }
    const schema = `bench_kn_${process.pid}`;
    let pg: Store | undefined;
    try {
      pg = await openStore({ databaseUrl: BENCH_PG, schema });
    } catch (e) {
      out.postgres = { skipped: `PostgreSQL at ${BENCH_PG} not usable: ${(e as Error).message.split('\n')[0]}` };
      process.stderr.write(`bench: SKIPPING the PostgreSQL knowledge row: ${String(out.postgres)}\n`);
    }
    if (pg) {
      try {
        out.postgres = await benchOne(pg);
      } finally {
        await pg.close();
        await dropSchema(BENCH_PG, schema);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
