#!/usr/bin/env node
// Extracts candidate command lines from reStructuredText example files (the awscli package ships
// one .rst per command under awscli/examples/SERVICE/COMMAND.rst). Takes indented literal-block
// lines that start with the given program name, joins backslash continuations, and keeps the
// bold title of the example as context for the human labeller.
//
// Usage: node extract-rst.mjs OUT.jsonl PROGRAM EXAMPLES_DIR SOURCE_PREFIX
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const [out, program, dir, prefix] = process.argv.slice(2);
if (!out || !program || !dir) {
  console.error('usage: extract-rst.mjs OUT.jsonl PROGRAM EXAMPLES_DIR SOURCE_PREFIX');
  process.exit(2);
}

function* walk(d) {
  for (const f of readdirSync(d).sort()) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (f.endsWith('.rst')) yield p;
  }
}

const rows = [];
const startRe = new RegExp(`^\\s+(${program}\\s.*)$`);
for (const file of walk(dir)) {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/); // some example files have CRLF endings
  let title = '';
  for (let i = 0; i < lines.length; i++) {
    const tm = /^\*\*(.+)\*\*\s*$/.exec(lines[i]);
    if (tm) title = tm[1];
    const m = startRe.exec(lines[i]);
    if (!m) continue;
    let cmd = m[1].trimEnd();
    while (/\\$/.test(cmd) && i + 1 < lines.length) {
      i++;
      cmd = cmd.replace(/\\$/, '') + ' ' + lines[i].trim();
    }
    rows.push({
      cmd: cmd.replace(/\s+/g, ' ').trim(),
      page: relative(dir, file),
      file: `${prefix ?? ''}${relative(dir, file)}`,
      section: 'example',
      how: 'rst-literal',
      context: title,
    });
  }
}
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`extract-rst: ${rows.length} candidates`);
