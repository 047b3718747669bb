import { finding, type Finding } from './types.js';

/**
 * SQL inspection for text handed to database clients. Comments and string literals are removed
 * first (so `SELECT 'DROP TABLE'` is data), then each statement is classified by its leading
 * keywords. Dynamic SQL (PL/pgSQL `EXECUTE`, `DO` blocks, `PREPARE`) is opaque: approve.
 */
export function stripSql(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const n = sql[i + 1];
    if (c === '-' && n === '-') { const e = sql.indexOf('\n', i); i = e < 0 ? sql.length : e; out += ' '; continue; }
    if (c === '/' && n === '*') { const e = sql.indexOf('*/', i + 2); i = e < 0 ? sql.length : e + 2; out += ' '; continue; }
    if (c === "'") {
      let j = i + 1;
      while (j < sql.length) { if (sql[j] === '\\') { j += 2; continue; } if (sql[j] === "'") { if (sql[j + 1] === "'") { j += 2; continue; } break; } j++; }
      out += " '' "; i = j + 1; continue;
    }
    if (c === '$') {
      const m = /^\$([A-Za-z_]*)\$/.exec(sql.slice(i));
      if (m) {
        const tag = m[0];
        const e = sql.indexOf(tag, i + tag.length);
        // Dollar-quoted bodies are usually function code: keep them visible so DROP inside still counts.
        const body = sql.slice(i + tag.length, e < 0 ? sql.length : e);
        out += ' ' + stripSql(body) + ' ';
        i = e < 0 ? sql.length : e + tag.length;
        continue;
      }
    }
    if (c === '"' || c === '`') {
      // Quoted identifiers: keep their text (an identifier, never a keyword).
      const e = sql.indexOf(c, i + 1);
      out += ' ident ';
      i = e < 0 ? sql.length : e + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

export function inspectSql(sql: string, matched: string, client: string): Finding[] {
  const out: Finding[] = [];
  const clean = stripSql(sql).toUpperCase();
  for (const raw of clean.split(';')) {
    const st = raw.replace(/\s+/g, ' ').trim();
    if (!st) continue;
    const f = classifyStatement(st, matched, client);
    if (f) out.push(f);
  }
  return out;
}

function classifyStatement(st: string, matched: string, client: string): Finding | undefined {
  const where = /\bWHERE\b/.test(st);
  if (/^(WITH\b.*\)\s*)?DROP\b/.test(st) || /\bDROP\s+(TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|OWNED|COLUMN|FUNCTION|TRIGGER|COLLECTION|KEYSPACE)\b/.test(st)) {
    return finding('approve', 'db.drop', `${client}: DROP destroys database objects`, matched);
  }
  if (/^TRUNCATE\b/.test(st) || /\bTRUNCATE\s+TABLE\b/.test(st)) return finding('approve', 'db.truncate', `${client}: TRUNCATE deletes every row`, matched);
  if (/^(WITH\b.*\)\s*)?DELETE\b/.test(st) && !where) return finding('approve', 'db.delete-all', `${client}: DELETE without WHERE deletes every row`, matched);
  if (/^(WITH\b.*\)\s*)?UPDATE\b/.test(st) && !where) return finding('approve', 'db.update-all', `${client}: UPDATE without WHERE changes every row`, matched);
  if (/^(WITH\b.*\)\s*)?(DELETE|UPDATE)\b/.test(st) && /\bWHERE\s+(1\s*=\s*1|TRUE|'' = '')\s*$/.test(st)) return finding('approve', 'db.delete-all', `${client}: a WHERE that matches every row`, matched);
  if (/^ALTER\b.*\bDROP\b/.test(st)) return finding('approve', 'db.drop', `${client}: ALTER … DROP removes data`, matched);
  if (/^(DO|EXECUTE|PREPARE|CALL)\b/.test(st) || /\bEXECUTE\s+(IMMEDIATE|FORMAT|'|\()/.test(st)) return finding('approve', 'db.dynamic', `${client}: dynamic SQL cannot be inspected`, matched);
  if (/^(GRANT|REVOKE)\b/.test(st) || /^(CREATE|ALTER)\s+(USER|ROLE)\b/.test(st)) return finding('approve', 'db.privileges', `${client}: changes database privileges`, matched);
  if (/^COPY\b.*\bPROGRAM\b/.test(st)) return finding('approve', 'db.copy-program', `${client}: COPY … PROGRAM runs a shell command on the database host`, matched);
  if (/^\\!/.test(st.trim())) return finding('approve', 'db.shell-escape', `${client}: \\! runs a shell command`, matched);
  if (/\bLOAD_FILE\s*\(|\bINTO\s+(OUT|DUMP)FILE\b|\bPG_READ_FILE\s*\(|\bLO_IMPORT\s*\(/.test(st)) return finding('approve', 'db.file-access', `${client}: reads or writes files on the database host`, matched);
  if (/\bFLUSHALL\b|\bFLUSHDB\b|\bDROPDATABASE\s*\(|\.DROP\s*\(|DELETEMANY\s*\(\s*\{\s*\}\s*\)|\.REMOVE\s*\(\s*\{\s*\}\s*\)/.test(st)) return finding('approve', 'db.drop', `${client}: destroys data`, matched);
  return undefined;
}

/** psql meta-commands and sqlite dot-commands that run shell commands or write files. */
export function inspectClientMeta(text: string, matched: string, client: string): Finding[] {
  const out: Finding[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (/^\\!/.test(l) || /^\\(o|out|w|copy)\b.*\|/.test(l) || /^\.(shell|system)\b/.test(l)) out.push(finding('approve', 'db.shell-escape', `${client}: a client command runs a shell command`, matched));
    else if (/^\.(output|once)\b|^\\o\b|^\\w\b/.test(l)) out.push(finding('approve', 'db.file-access', `${client}: a client command writes a file`, matched));
  }
  return out;
}
