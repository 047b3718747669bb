#!/usr/bin/env node
// Final step: merges the reviewed, labelled pool (label.mjs output) with the hand-written lines,
// dedupes on normalised whitespace, checks every line (bash -n, label, family, reason, source) and
// writes ../commands.jsonl. Prints the per-family and per-source summary used in the README.
//
// Usage: node assemble.mjs LABELLED.jsonl WRITTEN.jsonl OUT.jsonl
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [labelled, written, out] = process.argv.slice(2);
const LABELS = new Set(['allow', 'approve', 'deny']);
export const FAMILIES = new Set([
  'benign', 'readonly-form', 'embedded-code', 'secret-disclosure', 'exfiltration', 'interpreter', 'indirection',
  'destructive-cli', 'fs-destructive', 'system', 'privilege', 'remote-code', 'remote-exec', 'network',
  'state-change', 'data-copy',
]);
const read = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const rows = [...read(labelled), ...read(written)];
const seen = new Set();
const kept = [];
const problems = [];
let dups = 0;
for (const r of rows) {
  const key = r.cmd.replace(/\s+/g, ' ').trim();
  if (seen.has(key)) {
    dups++;
    continue;
  }
  seen.add(key);
  if (!LABELS.has(r.label)) problems.push(`bad label ${r.label}: ${r.cmd}`);
  if (!FAMILIES.has(r.family)) problems.push(`bad family ${r.family}: ${r.cmd}`);
  if (!r.reason || r.reason.length < 8) problems.push(`missing reason: ${r.cmd}`);
  if (!r.source) problems.push(`missing source: ${r.cmd}`);
  const p = spawnSync('bash', ['-n', '-c', r.cmd], { stdio: 'ignore', timeout: 5000 });
  if (p.status !== 0) problems.push(`bash -n fails: ${r.cmd}`);
  kept.push({ cmd: r.cmd, label: r.label, family: r.family, reason: r.reason, source: r.source });
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
writeFileSync(out, kept.map((r) => JSON.stringify(r)).join('\n') + '\n');

const kind = (s) =>
  s === 'written' ? 'written' : /wrapped as/.test(s) ? 'sql-man-wrapped' : /awscli\/examples/.test(s) ? 'awscli-examples' : /shell script/.test(s) ? 'shell-scripts' : /: man /.test(s) ? 'man-pages' : 'other';
const table = {};
const byKind = {};
const byLabel = { allow: 0, approve: 0, deny: 0 };
for (const r of kept) {
  table[r.family] ??= { allow: 0, approve: 0, deny: 0 };
  table[r.family][r.label]++;
  byKind[kind(r.source)] = (byKind[kind(r.source)] ?? 0) + 1;
  byLabel[r.label]++;
}
const pct = (n) => `${((100 * n) / kept.length).toFixed(1)}%`;
console.log(`${kept.length} lines (${dups} duplicates dropped)`);
console.log(`labels: allow ${byLabel.allow} (${pct(byLabel.allow)}), approve ${byLabel.approve}, deny ${byLabel.deny}`);
console.log('\n| family | allow | approve | deny | total |\n|---|---:|---:|---:|---:|');
for (const [f, c] of Object.entries(table).sort((a, b) => b[1].allow + b[1].approve + b[1].deny - (a[1].allow + a[1].approve + a[1].deny)))
  console.log(`| ${f} | ${c.allow} | ${c.approve} | ${c.deny} | ${c.allow + c.approve + c.deny} |`);
console.log('\n| source | lines | share |\n|---|---:|---:|');
for (const [k, n] of Object.entries(byKind).sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${n} | ${pct(n)} |`);
