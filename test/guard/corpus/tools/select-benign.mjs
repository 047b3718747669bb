#!/usr/bin/env node
// Keeps the benign share of the corpus realistic (the brief asks for at least 40%): takes extra
// lines from the same man pages beyond the per-page cap (a second build-pool run with larger caps),
// keeps those the first-pass labeller calls allow, at most 2 per page and none already in the pool.
// Every line it adds was reviewed like the rest (review.jsonl holds the corrections).
//
// Usage: node select-benign.mjs POOL.jsonl POOL_BIG.jsonl OUT.jsonl MAX
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { judgeLine } from './label.mjs';

const [poolFile, bigFile, out, maxArg] = process.argv.slice(2);
const read = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const have = new Set(read(poolFile).map((r) => r.cmd));
const h = (s) => createHash('sha1').update(s).digest('hex');
const cands = read(bigFile)
  .filter((r) => !have.has(r.cmd) && !/^(aws|gcloud) /.test(r.cmd))
  .sort((a, b) => (h(a.cmd) < h(b.cmd) ? -1 : 1));
const perPage = new Map();
const picked = [];
for (const r of cands) {
  if (judgeLine(r.cmd).label !== 'allow') continue;
  const page = r.source.replace(/ [A-Z ]+$/, '');
  if ((perPage.get(page) ?? 0) >= 2) continue;
  perPage.set(page, (perPage.get(page) ?? 0) + 1);
  picked.push(r);
  if (picked.length >= Number(maxArg ?? 200)) break;
}
writeFileSync(out, picked.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`select-benign: ${picked.length}`);
