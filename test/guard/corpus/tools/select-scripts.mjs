#!/usr/bin/env node
// Picks a varied subset of the script lines from extract-scripts.mjs: no Tcl (expect scripts start
// as /bin/sh and exec tclsh), at most 8 lines per package, the guard's rarer families first.
//
// Usage: node select-scripts.mjs IN.jsonl OUT.jsonl MAX
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [inp, out, maxArg] = process.argv.slice(2);
const max = Number(maxArg ?? 300);
const rows = readFileSync(inp, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const TCL = /^(set|button|proc|puts|foreach|expect|send|spawn|pack|bind|wm|label|catch|switch|return|global|after|interact|log_user|exp_\w+|lappend|regsub|regexp|incr|append|array|string|:)\b/;
// Lower rank = picked first.
const RANKS = [
  /\beval\b|\$\{!|\bprintf\s+-v\b|\bdeclare\s+-[a-zA-Z]*n/,
  /\btrap\b/,
  /(^|[;&|]\s*)(\$\{?[A-Za-z_]|\$\(|`)/,
  /^(\.|source)\s|\bexec\s+[^0-9<>]/,
  /\b(sh|bash)\s+-c\b|\b(perl|python3?|ruby|node|awk|gawk)\s/,
  /\b(curl|wget|nc|ssh|scp|rsync|socat)\s/,
  /\brm\s+-[a-zA-Z]*[rf]|-exec\b|\bxargs\b/,
  /\b(sudo|su|runuser|setpriv|chroot)\s|>\s*\/(etc|proc|sys|dev)\//,
  /./,
];
const rank = (c) => RANKS.findIndex((re) => re.test(c));
const h = (s) => createHash('sha1').update(s).digest('hex');
const cands = rows
  .filter((r) => !/^debian expect:/.test(r.source) && !TCL.test(r.cmd))
  .sort((a, b) => rank(a.cmd) - rank(b.cmd) || (h(a.cmd) < h(b.cmd) ? -1 : 1));
const perPkg = new Map();
const picked = [];
for (const r of cands) {
  const pkg = r.source.split(':')[0];
  if ((perPkg.get(pkg) ?? 0) >= 8) continue;
  perPkg.set(pkg, (perPkg.get(pkg) ?? 0) + 1);
  picked.push(r);
  if (picked.length >= max) break;
}
writeFileSync(out, picked.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`select-scripts: ${picked.length} of ${rows.length}`);
