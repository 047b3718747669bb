import { finding, type Finding } from './types.js';
import { truncateText } from '../core/index.js';

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
    if (c === '-' && n === '-') {
      const e = sql.indexOf('\n', i);
      i = e < 0 ? sql.length : e;
      out += ' ';
      continue;
    }
    if (c === '/' && n === '*') {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? sql.length : e + 2;
      out += ' ';
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\') {
          j += 2;
          continue;
        }
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out += " '' ";
      i = j + 1;
      continue;
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

/** Catalogs and columns that hold database credentials (password hashes, FDW user mappings, stored logins). */
const CREDENTIAL_CATALOG =
  /\b(PG_AUTHID|PG_SHADOW|ROLPASSWORD|PG_USER_MAPPINGS?|UMOPTIONS|AUTHENTICATION_STRING|SQL_LOGINS|PASSWORD_HASH|DBA_USERS)\b|\bSYS\.USER\$|\bMYSQL\.USER\b[^;]*\bPASSWORD\b/;
/** A WHERE clause that matches every row: a constant truth, `x = x`, `IS NOT NULL` alone, or `OR` with one. */
function matchesEveryRow(st: string): boolean {
  const m = /\bWHERE\s+(.*?)(\s+(ORDER|LIMIT|RETURNING|GROUP|OFFSET)\b.*)?$/.exec(st);
  if (!m) return false;
  const cond = m[1]!
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .trim();
  const TRUTH =
    /^(TRUE|NOT\s+FALSE|1|'' = ''|''\s*=\s*''|(\d+)\s*=\s*\2|([A-Z_][A-Z0-9_.]*)\s*=\s*\3|(\d+)\s*<>\s*(?!\4)\d+|[A-Z_][A-Z0-9_.]*\s+IS\s+NOT\s+NULL|1\s*=\s*1)$/;
  if (TRUTH.test(cond)) return true;
  return cond.split(/\s+OR\s+/).some((c) =>
    TRUTH.test(
      c
        .trim()
        .replace(/^\((.*)\)$/, '$1')
        .trim(),
    ),
  );
}

function classifyStatement(st: string, matched: string, client: string): Finding | undefined {
  const where = /\bWHERE\b/.test(st);
  // INVARIANT: reading the database's own credential tables is secret disclosure.
  if (CREDENTIAL_CATALOG.test(st))
    return finding(
      'deny',
      'secrets.db-credentials',
      `${client}: reads the database's stored credentials (password hashes, user mappings)`,
      matched,
    );
  if (
    /^(WITH\b.*\)\s*)?DROP\b/.test(st) ||
    /\bDROP\s+(TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|OWNED|COLUMN|FUNCTION|TRIGGER|COLLECTION|KEYSPACE)\b/.test(st)
  ) {
    return finding('approve', 'db.drop', `${client}: DROP destroys database objects`, matched);
  }
  if (/^TRUNCATE\b/.test(st) || /\bTRUNCATE\s+TABLE\b/.test(st))
    return finding('approve', 'db.truncate', `${client}: TRUNCATE deletes every row`, matched);
  if (/^(WITH\b.*\)\s*)?DELETE\b/.test(st) && !where)
    return finding('approve', 'db.delete-all', `${client}: DELETE without WHERE deletes every row`, matched);
  if (/^(WITH\b.*\)\s*)?UPDATE\b/.test(st) && !where)
    return finding('approve', 'db.update-all', `${client}: UPDATE without WHERE changes every row`, matched);
  if (/^(WITH\b.*\)\s*)?(DELETE|UPDATE)\b/.test(st) && matchesEveryRow(st))
    return finding('approve', 'db.delete-all', `${client}: a WHERE that matches every row`, matched);
  if (/^ALTER\b.*\bDROP\b/.test(st))
    return finding('approve', 'db.drop', `${client}: ALTER … DROP removes data`, matched);
  if (/^MERGE\b.*\bDELETE\b/.test(st))
    return finding('approve', 'db.delete-all', `${client}: MERGE … DELETE removes rows`, matched);
  if (/^(DO|EXECUTE|PREPARE|CALL)\b/.test(st) || /\bEXECUTE\s+(IMMEDIATE|FORMAT|'|\()/.test(st))
    return finding('approve', 'db.dynamic', `${client}: dynamic SQL cannot be inspected`, matched);
  if (/^(GRANT|REVOKE)\b/.test(st) || /^(CREATE|ALTER)\s+(USER|ROLE)\b/.test(st))
    return finding('approve', 'db.privileges', `${client}: changes database privileges`, matched);
  if (/^ALTER\b/.test(st))
    return finding('approve', 'db.alter', `${client}: ALTER changes the schema or server settings`, matched);
  if (/^COPY\b.*\bPROGRAM\b/.test(st))
    return finding(
      'approve',
      'db.copy-program',
      `${client}: COPY … PROGRAM runs a shell command on the database host`,
      matched,
    );
  if (/^COPY\b.*\b(TO|FROM)\s+''/.test(st))
    return finding('approve', 'db.file-access', `${client}: COPY reads or writes a file on the database host`, matched);
  if (
    /^CREATE\b.*\bFUNCTION\b.*\bLANGUAGE\s+('')?(PLPYTHON\w*U|PLPERLU|PLTCLU|PLSH|C|PLV8)\b/.test(st) ||
    /^LOAD\s+''/.test(st)
  )
    return finding('approve', 'db.code', `${client}: runs or installs code on the database host`, matched);
  if (
    /\bPG_TERMINATE_BACKEND\s*\(|\bPG_CANCEL_BACKEND\s*\(|\bPG_PROMOTE\s*\(|^SHUTDOWN\b|\bKILL\s+(QUERY\s+|CONNECTION\s+)?\d/.test(
      st,
    )
  )
    return finding('approve', 'db.admin', `${client}: stops sessions or the server`, matched);
  if (/^\\!/.test(st.trim()))
    return finding('approve', 'db.shell-escape', `${client}: \\! runs a shell command`, matched);
  if (/\bLOAD_FILE\s*\(|\bINTO\s+(OUT|DUMP)FILE\b|\bPG_READ_(BINARY_)?FILE\s*\(|\bLO_(IMPORT|EXPORT)\s*\(/.test(st))
    return finding('approve', 'db.file-access', `${client}: reads or writes files on the database host`, matched);
  if (
    /\bFLUSHALL\b|\bFLUSHDB\b|\bDROPDATABASE\s*\(|\.DROP\s*\(|DELETEMANY\s*\(\s*\{\s*\}\s*\)|\.REMOVE\s*\(\s*\{\s*\}\s*\)|\.DROPUSER\s*\(|\.DROPALLUSERS\s*\(|\.DROPINDEX(ES)?\s*\(|RUNCOMMAND\s*\(\s*\{\s*(DROP|DROPDATABASE)\s*:|ADMINCOMMAND\s*\(\s*\{\s*SHUTDOWN/.test(
      st,
    )
  )
    return finding('approve', 'db.drop', `${client}: destroys data`, matched);
  if (/\bUPDATEMANY\s*\(\s*\{\s*\}|\.RENAMECOLLECTION\s*\(/.test(st))
    return finding('approve', 'db.update-all', `${client}: changes every document`, matched);
  return undefined;
}

/** psql meta-commands that only read or format (anything else may run programs, read or write files). */
const PSQL_SAFE =
  /^(d[A-Za-z]*\+?|l\+?|list\+?|x|timing|echo|conninfo|encoding|q|quit|\?|h|help|t|a|H|f|C|z|sf\+?|sv\+?|errverbose|if|elif|else|endif|warn|p|print|r|reset|crosstabview|dconfig)$/;
/** mysql client commands (long form at a line's start, any case) that run programs or touch files. */
const MYSQL_LONG = /^\s*(system|source|tee|pager|edit)\b/i;
/** mysql short forms, recognised anywhere in a line: \! system, \. source, \T tee, \P pager, \e edit. */
const MYSQL_SHORT = /\\[!.TPe]/;
/** sqlite3 dot-commands that only read or format. */
const SQLITE_SAFE =
  /^\.(tables|table|schema|fullschema|headers?|mode|quit|exit|help|databases|indexes|indices|width|timer|show|dump|separator|nullvalue|print|echo|changes|stats|eqp|explain|bail|dbinfo|lint|parameter|prompt)\b/;
/** SQL functions the sqlite3 shell adds that run programs or read and write files. */
const SQLITE_FUNCS = /\b(load_extension|writefile|readfile|edit|fts3_tokenizer)\s*\(/i;

/**
 * Client commands in text a database client reads (its stdin, `-c`, `-e`, a heredoc): psql
 * meta-commands beyond reading and formatting (`\!`, `\o |cmd`, `\copy … program`, `\i`, `\e`,
 * `\setenv`…), mysql's `system`/`source`/`tee`/`pager`/`edit` (and `\!`, `\.` …), sqlite3's
 * dot-commands beyond reading (`.shell`, `.system`, `.load`, `.output`, `.read`…) and its file
 * functions. Each is approve: the SQL rules cannot see what they run or touch.
 */
export function inspectClientMeta(text: string, matched: string, client: string): Finding[] {
  const out: Finding[] = [];
  const hit = (what: string): void => {
    out.push(
      finding(
        'approve',
        'db.shell-escape',
        `${client}: a client command (${what}) can run programs or read and write files`,
        matched,
      ),
    );
  };
  if (client === 'psql' || client === 'cockroach') {
    for (const m of text.matchAll(/\\([A-Za-z!?]+\+?)/g))
      if (!PSQL_SAFE.test(m[1]!)) {
        hit(`\\${m[1]}`);
        break;
      }
  } else if (client === 'mysql' || client === 'mariadb') {
    const line = text.split('\n').find((l) => MYSQL_LONG.test(l) || MYSQL_SHORT.test(l));
    if (line !== undefined) hit(truncateText(line.trim(), 40));
    if (/\bLOAD\s+DATA\s+LOCAL\b/i.test(text)) hit('LOAD DATA LOCAL reads a client file');
  } else if (client === 'sqlite3') {
    const line = text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('.') && !SQLITE_SAFE.test(l));
    if (line !== undefined) hit(truncateText(line, 40));
    if (SQLITE_FUNCS.test(text)) hit('a file or extension function');
  } else {
    for (const line of text.split('\n'))
      if (/^\s*\\!/.test(line)) {
        hit('\\!');
        break;
      }
  }
  return out;
}
