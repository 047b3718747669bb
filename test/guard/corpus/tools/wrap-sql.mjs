#!/usr/bin/env node
// Takes complete one-line SQL statements from the EXAMPLES sections of PostgreSQL's SQL reference
// man pages (DELETE(7), DROP_TABLE(7), ...; candidates from extract-man.mjs) and wraps each in a
// database CLI the way a runbook would run it (psql -c, sudo -u postgres psql, a here-string, a
// pipe into psql, mysql -e, sqlite3). The statement is the real material; the wrapping is ours and
// the source field says so.
//
// Usage: node wrap-sql.mjs OUT.jsonl PKGMAP.tsv CAND.jsonl
import { readFileSync, writeFileSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [out, pkgmapFile, candFile] = process.argv.slice(2);
const pkgmap = new Map(
  readFileSync(pkgmapFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')),
);
const pkgOf = (f) => pkgmap.get(f) ?? pkgmap.get(realpathSync(f)) ?? '?';

// Statement kinds we want, with how many of each (the rest of the pages are DDL variations).
const WANT = [
  [/^DELETE /, 6], [/^UPDATE /, 4], [/^TRUNCATE /, 4], [/^DROP (TABLE|SCHEMA|DATABASE|ROLE|INDEX|VIEW|EXTENSION|FUNCTION|TRIGGER|SEQUENCE|TYPE|OWNED) /, 14],
  [/^ALTER (TABLE|ROLE|SYSTEM|DATABASE|DEFAULT) /, 10], [/^(GRANT|REVOKE) /, 5], [/^COPY /, 4], [/^SELECT /, 12],
  [/^EXPLAIN /, 4], [/^SHOW /, 3], [/^(CREATE (UNIQUE )?INDEX|CREATE (ROLE|USER|DATABASE|SCHEMA|EXTENSION|VIEW)) /, 10],
  [/^(VACUUM|REINDEX|CLUSTER|ANALYZE|REFRESH) /, 6], [/^INSERT /, 4], [/^(LOCK|SET ROLE|SET SESSION|NOTIFY|CALL|DO) /, 5],
];

const seen = new Set();
const byKind = new Map();
const rows = [];
const cands = readFileSync(candFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const h = (s) => createHash('sha1').update(s).digest('hex');
cands.sort((a, b) => (h(a.cmd) < h(b.cmd) ? -1 : 1));
for (const c of cands) {
  if (!/^[A-Z_]+\(7\)$/.test(c.page)) continue;
  const sql = c.cmd.trim();
  if (!/;$/.test(sql) || seen.has(sql) || /\$\d/.test(sql)) continue;
  const kind = WANT.findIndex(([re]) => re.test(sql));
  if (kind < 0) continue;
  if ((byKind.get(kind) ?? 0) >= WANT[kind][1]) continue;
  byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  seen.add(sql);
  // mysql and sqlite only get statements they actually understand; PostgreSQL-only ones stay psql.
  const portable = /^(DELETE FROM \w+( WHERE [^;]*)?;|UPDATE |SELECT \w|DROP (TABLE|VIEW|INDEX) |INSERT INTO \w+ SELECT|CREATE (UNIQUE )?INDEX \w+ ON \w+ \(\w+\);)/.test(sql) && !/RETURNING|CURRENT OF|ARRAY|::/.test(sql);
  const n = parseInt(h(sql).slice(0, 4), 16) % (portable ? 8 : 6);
  const dq = sql.replace(/(["\\$`])/g, '\\$1');
  const sq = sql.includes("'") ? null : sql;
  let cmd;
  let how;
  switch (n) {
    case 0: cmd = `psql -d shop -c "${dq}"`; how = 'psql -c'; break;
    case 1: cmd = `sudo -u postgres psql -d shop -c "${dq}"`; how = 'sudo -u postgres psql -c'; break;
    case 2: cmd = `psql -h db1.internal -U app shop <<< "${dq}"`; how = 'psql here-string'; break;
    case 3: cmd = `echo "${dq}" | psql -X -v ON_ERROR_STOP=1 shop`; how = 'echo | psql'; break;
    case 4: cmd = sq ? `psql postgresql://app@db1.internal/shop -c '${sq}'` : `psql postgresql://app@db1.internal/shop -c "${dq}"`; how = 'psql URI -c'; break;
    case 5: cmd = `PGOPTIONS='-c statement_timeout=5min' psql -At shop -c "${dq}"`; how = 'psql -At -c with PGOPTIONS'; break;
    case 6: cmd = `mysql -h db1.internal -u app shop -e "${dq}"`; how = 'mysql -e'; break;
    default: cmd = `sqlite3 /srv/app/app.db "${dq}"`; how = 'sqlite3 DB SQL'; break;
  }
  rows.push({ cmd, source: `debian ${pkgOf(c.file)}: man ${c.page} EXAMPLES (statement wrapped as ${how})`, context: c.context ?? '' });
}
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`wrap-sql: ${rows.length} lines`);
