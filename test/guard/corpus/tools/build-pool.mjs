#!/usr/bin/env node
// Turns raw extracted candidates into a pool of unique, bash-parsable command lines with a source,
// before any labelling: replaces documentation placeholders with plausible values, drops lines that
// are output or prose, dedupes on normalised whitespace and caps how many lines one page or one
// program may contribute (so 16,000 gcloud pages do not drown coreutils).
//
// Usage: [PROG_CAPS=prog:n,...] node build-pool.mjs OUT.jsonl PKGMAP.tsv CAND.jsonl[:CAP_PER_PAGE[:CAP_PER_PROGRAM]]...
import { readFileSync, writeFileSync, realpathSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';

const [out, pkgmapFile, ...inputs] = process.argv.slice(2);
const pkgmap = new Map();
for (const line of readFileSync(pkgmapFile, 'utf8').split('\n')) {
  const [path, pkg] = line.split('\t');
  if (path && pkg) pkgmap.set(path, pkg);
}
function pkgOf(file) {
  if (pkgmap.has(file)) return pkgmap.get(file);
  try {
    const real = realpathSync(file);
    if (pkgmap.has(real)) return pkgmap.get(real);
  } catch {
    /* not a path (rst relative name) */
  }
  if (file.startsWith('awscli/')) return 'awscli';
  return '?';
}

// Placeholder words used by man pages, replaced by values a real runbook would carry.
const ANGLE = {
  file: 'report.txt', filename: 'report.txt', path: '/srv/app/data', dir: '/srv/app', directory: '/srv/app',
  host: 'db1.example.com', hostname: 'db1.example.com', server: 'db1.example.com', user: 'deploy',
  username: 'deploy', port: '8443', pid: '4242', url: 'https://example.com/api/items', name: 'web',
  image: 'nginx:1.25', container: 'web1', repo: 'octo/app', repository: 'octo/app', branch: 'feature/login',
  commit: 'a1b2c3d', tag: 'v1.4.2', number: '42', id: '42', key: 'app-key', value: 'on', namespace: 'prod',
  pod: 'web-5d8f7', node: 'node-3', cluster: 'prod-eu', volume: 'appdata', network: 'backend',
  secret: 'app-secret', title: 'Release notes', issue: '42', pr: '42', workflow: 'ci.yml', org: 'octo',
  owner: 'octo', bucket: 'my-bucket', device: '/dev/sdb', interface: 'eth0', dev: 'eth0', command: 'ls',
  cmd: 'ls', args: '-l', arg: '-l', pattern: 'error', string: 'hello', text: 'hello', message: 'hello',
  email: 'dev@example.com', version: '1.2.3', archive: 'backup.tar', target: 'web', source: 'src',
  dest: 'dst', destination: 'dst', tar: 'backup.tar', zip: 'backup.zip',
};
function placeholder(word) {
  const w = word.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  if (ANGLE[w]) return ANGLE[w];
  const last = w.split('-').pop();
  if (ANGLE[last]) return ANGLE[last];
  return `my-${w}`;
}

function clean(cmd) {
  let c = cmd;
  c = c.replace(/\s+#(?:\s|=>).*$/, ''); // trailing explanatory comment from the page
  // A page's line break rendered as "\ " mid-line (gcloud): in bash that would be an escaped space.
  c = c.replace(/ \\ +(?=\S)/g, ' ');
  c = c.replace(/\[(?:OPTIONS?|options?|OPTION\.\.\.|flags|FLAGS|ARG\.\.\.|args\.\.\.)\]/g, '');
  c = c.replace(/<([A-Za-z][A-Za-z0-9 _.-]*)>/g, (_, w) => placeholder(w));
  c = c.replace(/(^|\s)\.\.\.(?=\s|$)/g, '$1');
  c = c.replace(/\s+/g, ' ').trim();
  return c;
}

function parses(cmd) {
  const r = spawnSync('bash', ['-n', '-c', cmd], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 5000 });
  return r.status === 0;
}

function reject(cmd) {
  if (cmd.length < 2 || cmd.length > 400) return 'length';
  // "Also available as: gcloud alpha x y" notes repeat the GA example without arguments.
  if (/^gcloud (alpha|beta|preview) [a-z -]+$/.test(cmd)) return 'notes-variant';
  if (/^[A-Z]{2,}(?:\s|;|$)/.test(cmd)) return 'sql-or-caps'; // "CREATE TABLE ..." is SQL, not shell
  if (/\b(?:OPTIONS|OPTION|ARGS|FILE\.\.\.|\[--\])\b/.test(cmd)) return 'placeholder';
  if (/[{}]\s*$/.test(cmd) && !/\\;|\{\}/.test(cmd)) return 'fragment';
  if (/\|\s*$|&&\s*$|\(\s*$/.test(cmd)) return 'fragment';
  if (/^(?:exec|for|while|if|case|function|until)\s/.test(cmd) && !parses(cmd)) return 'fragment';
  if (!parses(cmd)) return 'bash-n';
  return null;
}

// PROG_CAPS=git:120,tc:12 overrides the per-program cap for chosen programs across all inputs.
const progCaps = new Map(
  (process.env.PROG_CAPS ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.split(':')[0], Number(kv.split(':')[1])]),
);
const seen = new Set();
const perProg = new Map(); // across all inputs, so PROG_CAPS bounds a program's total share
const rows = [];
const stats = {};
for (const spec of inputs) {
  const [file, capPage = '8', capProg = '100000'] = spec.split(':');
  const perPage = new Map();
  const cands = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // Deterministic spread: order by a hash of the command so capped pages keep a varied sample.
  const h = (s) => createHash('sha1').update(s).digest('hex');
  cands.sort((a, b) => (a.page === b.page ? (h(a.cmd) < h(b.cmd) ? -1 : 1) : a.page < b.page ? -1 : 1));
  for (const c of cands) {
    const cmd = clean(c.cmd);
    const key = cmd.replace(/\s+/g, ' ');
    if (seen.has(key)) {
      stats.dup = (stats.dup ?? 0) + 1;
      continue;
    }
    const prog = cmd.split(' ')[0];
    const progCap = progCaps.get(prog) ?? Number(capProg);
    if ((perPage.get(c.page) ?? 0) >= Number(capPage) || (perProg.get(prog) ?? 0) >= progCap) {
      stats.cap = (stats.cap ?? 0) + 1;
      continue;
    }
    const why = reject(cmd);
    if (why) {
      stats[why] = (stats[why] ?? 0) + 1;
      continue;
    }
    seen.add(key);
    perPage.set(c.page, (perPage.get(c.page) ?? 0) + 1);
    perProg.set(prog, (perProg.get(prog) ?? 0) + 1);
    const pkg = pkgOf(c.file);
    const where = c.how === 'rst-literal' ? `${c.file}` : `man ${c.page} ${c.section}`;
    // google-cloud-cli comes from Google's apt repository (preinstalled here), not from Debian.
    const origin = pkg === 'google-cloud-cli' ? 'apt google-cloud-cli' : `debian ${pkg}`;
    rows.push({ cmd, source: `${origin}: ${where}`, context: c.context ?? '', orig: c.cmd !== cmd ? c.cmd : undefined });
  }
}
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`build-pool: ${rows.length} lines; dropped ${JSON.stringify(stats)}`);
