#!/usr/bin/env node
// Extracts real one-line commands from shell scripts shipped by installed/unpacked Debian packages
// (maintainer scripts, helpers under /usr/bin and /usr/lib, init scripts, examples). Only lines
// that exercise the guard's harder families are kept: expansions in command position, eval, trap,
// sourcing, exec, sh -c, inline interpreters, find -exec/xargs, sudo/su, redirections into system
// files, network tools, deletions. Each line must parse on its own (bash -n).
//
// Usage: [UNPACK_ROOT=/work/root] node extract-scripts.mjs OUT.jsonl PKGMAP.tsv FILES.txt [CAP_PER_FILE]
import { readFileSync, writeFileSync, realpathSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';

const [out, pkgmapFile, listFile, capArg] = process.argv.slice(2);
const cap = Number(capArg ?? 3);
const pkgmap = new Map(
  readFileSync(pkgmapFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')),
);
const pkgOf = (f) => {
  if (pkgmap.has(f)) return pkgmap.get(f);
  // merged /usr: dpkg knows many of these files by their /bin or /sbin path
  if (pkgmap.has(f.replace(/^\/usr/, ''))) return pkgmap.get(f.replace(/^\/usr/, ''));
  try {
    return pkgmap.get(realpathSync(f)) ?? '?';
  } catch {
    return '?';
  }
};

const INTEREST =
  /(^|[;&|]\s*)(\$\{?[A-Za-z_]|\$\(|`)|\beval\b|\btrap\b|^(\.|source)\s|\bexec\s|\b(sh|bash)\s+-c\b|\b(perl|python3?|ruby|node|awk|gawk)\s+(-[a-zA-Z]*[ecE]\b|')|-exec\b|\bxargs\b|\b(sudo|su|runuser|setpriv|chroot)\s|>\s*\/(etc|proc|sys|dev)\/|\b(curl|wget|nc|ssh|scp|rsync|socat)\s|\brm\s+-[a-zA-Z]*[rf]|\bprintf\s+-v\b|\bdeclare\s+-[a-zA-Z]*n|\$\{![A-Za-z_]|\bchmod\s+[0-7]*[4-7][0-7]{3}\b|\bchown\s|\bmktemp\b|\bkill\s|\bsystemctl\s|\binvoke-rc\.d\b|\bdpkg\s|\bapt-get\s/;
const SKIP = /^(if|elif|else|fi|then|for|while|until|do|done|case|esac|function|\}|\{|\)|;;|#|local\s+[A-Za-z_]+$|return\b|break\b|continue\b|shift\b|[A-Za-z_][A-Za-z0-9_]*\)\s*$|\*\)|usage\b)/;

function parses(cmd) {
  return spawnSync('bash', ['-n', '-c', cmd], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

const seen = new Set();
const rows = [];
const files = readFileSync(listFile, 'utf8').split('\n').filter(Boolean).sort();
for (const f of files) {
  let text;
  try {
    text = readFileSync(f, 'utf8');
  } catch {
    continue;
  }
  const lines = text.split('\n');
  const cands = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const t = raw.trim();
    if (!t || SKIP.test(t) || t.length > 220 || /\\$/.test(t) || /(\bthen|\bdo|\{|\(|\|\||&&|\|)\s*$/.test(t)) continue;
    if (!INTEREST.test(t)) continue;
    if (/<<-?\s*['"]?\w+['"]?\s*$/.test(t)) continue; // heredoc header without its body
    const cmd = t.replace(/\s+#\s.*$/, '').replace(/;\s*$/, '').trim();
    if (seen.has(cmd) || !parses(cmd)) continue;
    cands.push({ cmd, line: i + 1 });
  }
  // Deterministic spread within a file.
  const h = (s) => createHash('sha1').update(s).digest('hex');
  cands.sort((a, b) => (h(a.cmd) < h(b.cmd) ? -1 : 1));
  for (const c of cands.slice(0, cap)) {
    seen.add(c.cmd);
    // Files from unpacked .debs are shown by their installed path.
    const root = process.env.UNPACK_ROOT;
    const shown = root && f.startsWith(root + '/') ? f.slice(root.length) : f;
    rows.push({ cmd: c.cmd, source: `debian ${pkgOf(f)}: ${shown} line ${c.line} (shell script)`, context: '' });
  }
}
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`extract-scripts: ${rows.length} lines from ${files.length} scripts`);
