#!/usr/bin/env node
// Extracts candidate command lines from rendered man pages (EXAMPLES sections, `Example:` blocks
// and `$ `-prompted lines anywhere in the page). It only proposes candidates: every line that ends
// up in the corpus was labelled afterwards, from its meaning, by label.mjs plus a human review.
//
// Usage: node extract-man.mjs OUT.jsonl PAGE... (PAGE = path to a man page, .gz or plain)
//   env MAN_ROOTS=/:/tmp/h7/root  extra roots whose usr/bin, usr/sbin, bin, sbin count as programs
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';

const [out, ...pages] = process.argv.slice(2);
if (!out || pages.length === 0) {
  console.error('usage: extract-man.mjs OUT.jsonl PAGE...');
  process.exit(2);
}

// Programs we recognise as the first word of a command line: everything installed under the
// given roots plus the shell builtins. Prose lines ("The", "Note", "This") never match.
const programs = new Set(
  'cd echo printf export set unset alias source . eval exec trap read test [ let declare local type command builtin ulimit umask kill wait jobs fg bg history time for while if case until function shopt'.split(
    ' ',
  ),
);
for (const root of (process.env.MAN_ROOTS ?? '/').split(':')) {
  for (const d of ['usr/bin', 'usr/sbin', 'bin', 'sbin', 'usr/local/bin', 'usr/games']) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) programs.add(f);
  }
}

function render(page) {
  try {
    return execFileSync('man', ['-E', 'ascii', '-P', 'cat', '-l', page], {
      env: { ...process.env, MANWIDTH: '400', MAN_KEEP_FORMATTING: '' },
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString('utf8');
  } catch {
    return '';
  }
}

const SECTION = /^[A-Z][A-Z0-9 ()/_-]{2,}$/; // all-caps section header at column 0
const PROMPT = /^(?:[$%#]|[a-z]+[@:][^\s]*[$#]|sh[$#]|bash[$#]|\[[^\]]+\][$#])\s+(.*)$/;

function firstWord(line) {
  let s = line.replace(/^(?:sudo\s+(?:-\S+\s+)*|env\s+|(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+)/, '');
  const m = /^([A-Za-z0-9_./+-]+)(?=\s|$)/.exec(s);
  return m ? m[1] : '';
}

function looksLikeCommand(line, pageProg) {
  const w = firstWord(line);
  if (!w) return false;
  if (/:\s*$/.test(line)) return false; // "make table active again:" is prose introducing an example
  const base = w.includes('/') ? basename(w) : w;
  if (!(programs.has(base) || base === pageProg)) return false;
  // Reject sentences: "find is a program that ..." / "tar will ..." / trailing prose period.
  if (/^\S+\s+(is|are|was|will|can|may|must|should|does|has|have|and|or|the|a|an|to|of|in|with|for|by|uses?|reads?|writes?)\s/i.test(line))
    return false;
  if (/[a-z]{3,}\.\s*$/.test(line) && !/\.(txt|log|conf|json|yaml|yml|sh|py|gz|tar|zip|md|c|h|js|ts|html|pem|key|crt|csv|sql|db|iso|img|xml|deb|rpm|png|jpg|pdf)\s*$/.test(line))
    return false;
  return true;
}

const rows = [];
for (const page of pages) {
  const text = render(page);
  if (!text) continue;
  const name = basename(page).replace(/\.gz$/, '');
  const m = /^(.*)\.([0-9][a-z]*)$/.exec(name);
  const pageName = m ? m[1] : name;
  const sect = m ? m[2] : '?';
  const pageProg = pageName.split(/[-_]/)[0];
  const lines = text.split('\n');
  let section = '';
  let lastProse = '';
  let exampleNext = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\s+$/, '');
    if (SECTION.test(raw)) {
      section = raw.trim();
      continue;
    }
    const t = raw.trim();
    if (!t) continue;
    let cand = null;
    let how = '';
    const pm = PROMPT.exec(t);
    if (pm && looksLikeCommand(pm[1], pageProg)) {
      cand = pm[1];
      how = 'prompt';
    } else if (/^Examples?:?$/i.test(t)) {
      exampleNext = 3;
      continue;
    } else if ((exampleNext > 0 || /EXAMPLE/.test(section)) && !t.startsWith('#') && looksLikeCommand(t, pageProg)) {
      cand = t;
      how = exampleNext > 0 ? 'example-block' : 'examples-section';
    }
    if (exampleNext > 0) exampleNext--;
    if (!cand) {
      if (/^#\s+\S/.test(t) || /[a-z]/.test(t)) lastProse = t.replace(/^#\s*/, '').slice(0, 200);
      continue;
    }
    // Line continuations: join while the line ends in a backslash.
    while (/\\$/.test(cand) && i + 1 < lines.length) {
      i++;
      cand = cand.replace(/\\$/, '') + ' ' + lines[i].trim();
    }
    cand = cand.replace(/\s+/g, ' ').trim();
    rows.push({ cmd: cand, page: `${pageName}(${sect})`, file: page, section: section || '(top)', how, context: lastProse });
  }
}
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`extract-man: ${rows.length} candidates from ${pages.length} pages`);
