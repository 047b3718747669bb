import type { View } from './argv.js';
import { stripSql } from './sql.js';
import type { Word } from './words.js';
import { wrapperInfo } from './wrappers.js';

/**
 * The one table of programs the guard KNOWS (issue 14, "allow is a judgment, not the fallback"):
 * for each program, which subcommands, options and argument roles are read-only or harmless. A
 * command is allowed only when every program in it, with its subcommand, options and arguments,
 * is judged harmless here (or a policy allowlist says so); anything else gets the policy's
 * `defaults.unknown_command` verdict for the context it runs in.
 *
 * "Harmless" means: it changes nothing of value (creating a new file or directory is fine; path
 * rules judge where), prints no secret beyond what path rules catch, runs no code it was handed,
 * and sends no local data off the host. Built-in rules (rules-*.ts) still run first and their
 * approve/deny findings win; this table never lowers them, except for the read-only forms below
 * (`--help`, `--version`, dry runs), which do nothing by definition.
 *
 * The table also says which arguments are files a program reads (for path rules), so no second
 * list of program names has to be kept in step with it. Programs that run another command are the
 * wrapper table's (src/guard/wrappers.ts), which this file reads rather than repeats.
 *
 * Grown from the outside corpus's `allow` lines (test/guard/corpus/commands.jsonl) and the
 * programs' manuals; the false positives it costs are measured by test/guard/corpus-measure.test.ts.
 */

/** What the table says about one use of a program. */
export type Judgment =
  | { readonly harmless: true }
  | {
      readonly harmless: false;
      /** Why it is not judged harmless (shown to the person asked). */
      readonly why: string;
      /** A word the judgment depends on is only known at run time: approve whatever the context. */
      readonly dynamic?: boolean;
    };

const HARMLESS: Judgment = { harmless: true };
const not = (why: string): Judgment => ({ harmless: false, why });
const dynamicJ = (why: string): Judgment => ({ harmless: false, why, dynamic: true });

/** A program's arguments, split once for the checks below. */
export interface Args {
  words: readonly Word[];
  /** Evaluated texts of `words` (`t[i]` is `words[i].text`: the two have the same length). */
  t: readonly string[];
  /** Index of `--` in `words` (or words.length): options are looked for before it only. At most t.length. */
  end: number;
}

/** A check returns why the use is not harmless, or undefined when it is. */
type Check = (a: Args, v: View) => string | undefined;

interface Spec {
  /** Option words (before `--`) that make the use not harmless, with the reason. */
  veto?: readonly (readonly [RegExp, string])[];
  /** Run-time values anywhere in the arguments do not change what it does (echo, ls, cd). */
  dynOk?: boolean;
  /** Largest number of operands (`uniq IN OUT` and `xxd IN OUT` write OUT). */
  maxPos?: number;
  /** Custom check after the vetoes. */
  check?: Check;
  /**
   * Subcommands (the first operand after global options). A subcommand missing from the table is
   * not harmless; the key '' stands for "no subcommand" (most CLIs print usage).
   */
  subs?: Readonly<Record<string, Spec>>;
  /** Global options that take a value (skipped when looking for the subcommand). */
  gopts?: readonly string[];
  /** `-h` alone does something (`shutdown -h`): not help. */
  hAction?: boolean;
  /** Options that make this use a dry run (built-in approvals of the same argv are lowered). */
  dry?: RegExp;
  /** The subcommand itself changes nothing whatever its options (`terraform plan`, `kubectl diff`). */
  dryAlways?: boolean;
  /** Runs a program or code named in its arguments (npx, make): `--help` counts only before its first operand. */
  runner?: boolean;
  /**
   * Which arguments are files the program reads, for path rules. Default: every argument that
   * looks like one. `none`: it only looks at names or metadata (ls, stat, mkdir). A function
   * returns the words that are read (grep's pattern is not a file).
   */
  reads?: 'none' | ((a: Args) => readonly Word[]);
  /** Files the program writes (`sort -o F`, `curl -o F`, `tar cf F`): judged by the write path rules. */
  writes?: (a: Args) => readonly Word[];
}

/* ------------------------------ helpers ------------------------------ */

const R: Spec = {};
const D: Spec = { dynOk: true };
const META: Spec = { dynOk: true, reads: 'none' };
const spec = (s: Spec): Spec => s;

function isOpt(t: string): boolean {
  return t.length > 1 && t.charCodeAt(0) === 45; /* - */
}

/** Operands (words not starting with `-`, plus everything after `--`), skipping option values named in `valued`. */
function operands(a: Args, valued: ReadonlySet<string> | undefined): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.t.length; i++) {
    const t = a.t[i]!;
    if (i > a.end) {
      out.push(i);
      continue;
    }
    if (i === a.end) continue;
    if (isOpt(t)) {
      if (valued && valued.has(t)) i++;
      continue;
    }
    out.push(i);
  }
  return out;
}

/** The text at index `i` of the arguments, or undefined for none (an operand `operands()` did not find). */
function textAt(a: Args, i: number | undefined): string | undefined {
  return i === undefined ? undefined : a.t[i];
}

/** The text of operand `n` (skipping option values named in `valued`), or undefined when there are fewer. */
function operand(a: Args, n = 0, valued?: ReadonlySet<string>): string | undefined {
  return textAt(a, operands(a, valued)[n]);
}

/** The texts of the operands. */
function operandTexts(a: Args, valued: ReadonlySet<string> | undefined): string[] {
  // operands() yields indices below a.t.length only.
  return operands(a, valued).map((i) => a.t[i]!);
}

const set = (...xs: string[]): ReadonlySet<string> => new Set(xs);

/** Adds an option's value word, when the option has one (`grep -f` last has none). */
function pushWord(out: Word[], w: Word | undefined): void {
  if (w) out.push(w);
}

/** Any option word before `--` matching `re`. */
function hasOpt(a: Args, re: RegExp): boolean {
  for (let i = 0; i < a.end; i++) {
    const t = a.t[i]!;
    if (isOpt(t) && re.test(t)) return true;
  }
  return false;
}

/** A short option letter, alone or in a group (`-avn` has `n`), before `--`. */
function hasShort(a: Args, letter: string): boolean {
  for (let i = 0; i < a.end; i++) {
    const t = a.t[i]!;
    if (t.length > 1 && t[0] === '-' && t[1] !== '-' && /^-[A-Za-z0-9]+$/.test(t) && t.includes(letter)) return true;
  }
  return false;
}

/* ---------------------------- program table ---------------------------- */

/** SQL a database client may run unattended: reads only (issue 14 item 5 keeps the rest to the SQL rules). */
const SQL_READ =
  /^(SELECT|SHOW|EXPLAIN|TABLE|VALUES|WITH|DESCRIBE|DESC|PRAGMA\s+\w+\s*$|\\(l|dt?\+?|du|dn|df|dv|di|ds|dx|dp|db|l\+|conninfo|x|timing|q|\?|h|encoding|echo|pset|a|t|H)\b)/i;
/** Writes, locks, server functions with effects, and tables of credentials, anywhere in a read statement. */
const SQL_EFFECT =
  /\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|REPLACE|INTO|COPY|CALL|DO|EXECUTE|PREPARE|LOCK|ANALYZE|NOTIFY|LISTEN|SET|GRANT|REVOKE|ALTER|DROP|CREATE|TRUNCATE|VACUUM|REINDEX|CLUSTER|REFRESH|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_file_\w+|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_promote|pg_\w*backup\w*|pg_advisory\w*|pg_sleep\w*|pg_logical_\w+|pg_replication_\w+|lo_\w+|dblink\w*|set_config|nextval|setval|query_to_xml\w*|pg_authid|pg_shadow|pg_user_mappings?|rolpassword|authentication_string|load_file|sys_exec|sys_eval|OUTFILE|DUMPFILE|FOR\s+UPDATE|FOR\s+SHARE|ATTACH|DETACH|load_extension|writefile|readfile|edit|fts3_tokenizer)\b|\\[!ioswg]|\\copy|\\c(onnect)?\b|\\gexec|\\set|\.(shell|system|output|once|import|load|save|backup|restore|open|read|excel|log|cd)\b/i;

/** The read-only SQL judgment (SELECT, SHOW, EXPLAIN without ANALYZE, client meta commands that only list). */
export function sqlIsReadOnly(sql: string): boolean {
  // `COPY table|(query) TO STDOUT` prints rows like a SELECT (TO a file or PROGRAM does not).
  const clean = stripSql(sql).replace(
    /\bCOPY\s+(\w+(\.\w+)?(\s*\([^)]*\))?|\((?:[^()]|\([^()]*\))*\))\s+TO\s+STDOUT\b/gi,
    'SELECT 1',
  );
  if (SQL_EFFECT.test(clean)) return false;
  let any = false;
  for (const raw of clean.split(/;|\n(?=\s*\\)/)) {
    const st = raw.trim();
    if (!st) continue;
    any = true;
    // sqlite3 dot commands that only list.
    if (/^\.(tables|schema|indexes|indices|databases|dbinfo|headers|mode|width|help|show|timer|stats)\b/.test(st))
      continue;
    if (!SQL_READ.test(st)) return false;
  }
  return any;
}

/**
 * SQL a client gets from its arguments, or undefined when none: `--long=SQL`, `--long SQL`,
 * `-cSQL`, and `-c SQL` with the letter last in a group of short flags (`psql -Atc 'SELECT 1'`).
 */
function sqlArgs(a: Args, letter: string, long: string): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < a.end; i++) {
    const t = a.t[i]!;
    if (t.startsWith(`--${long}=`)) out.push(t.slice(long.length + 3));
    else if (t === `--${long}` || (/^-[A-Za-z]+$/.test(t) && t.endsWith(letter))) {
      if (i + 1 < a.t.length) out.push(a.t[++i]!);
    } else if (t.startsWith(`-${letter}`) && t.length > 2) out.push(t.slice(2));
  }
  return out.length ? out : undefined;
}

/**
 * psql/mysql/sqlite3: harmless only when every statement it is given is a read and it is not left
 * reading statements interactively. Statements arrive as `-c`, here-strings, heredocs or known
 * text piped in (the command's stdin as the analyzer resolved it).
 */
function dbClient(letter: string, long: string, positionalSql: boolean): Check {
  return (a, v) => {
    if (hasOpt(a, /^(-f|--file|-i|--init|--source|-\\?$)/)) return 'runs statements from a file the guard cannot read';
    if (a.words.some((w) => w.dynamic && !w.fields))
      return 'a statement or connection option is only known at run time';
    const sql = letter ? (sqlArgs(a, letter, long) ?? []) : [];
    if (positionalSql) {
      const ops = operandTexts(a, set('-cmd', '-separator', '-nullvalue', '-newline', '-init'));
      if (ops.length > 1) sql.push(...ops.slice(1));
    }
    const stdin = v.sc.stdin;
    if (stdin && !sql.length) {
      if (stdin.dynamic) return 'reads statements from input only known at run time';
      sql.push(stdin.text);
    }
    if (!sql.length)
      return hasOpt(a, /^(-l|--list)$/) && letter === 'c' ? undefined : 'opens an interactive database session';
    for (const s of sql) if (!sqlIsReadOnly(s)) return 'runs SQL that is not read-only';
    return undefined;
  };
}

/** Words after a subcommand for CLIs judged by their verbs (aws, gcloud, az). */
function verbCheck(allow: RegExp, deny: RegExp, what: string): Check {
  return (a) => {
    const words = operandTexts(a, undefined);
    const verb = words.find((w) => allow.test(w) || deny.test(w));
    if (verb === undefined || !allow.test(verb) || deny.test(verb))
      return `${what} ${words.slice(0, 3).join(' ')} is not known to be read-only`;
    return undefined;
  };
}

/* aws SERVICE OPERATION: read operations by their verb, minus those that print or mint credentials. */
const AWS_READ =
  /^(describe|list|get|batch-get|batch-describe|batch-check|head|lookup|search|scan|query|select|filter|validate|test-dns|estimate|preview|detect|check|wait|tail|ls|sample|read|view|simulate-\w*policy)(-|$)/;
const AWS_SECRET =
  /token|password|secret-value|credential|login|session|decrypt|private|presign|kubeconfig|key-material|data-key|signed-|cookie|access-details|master-user|random-password/;
function awsCheck(a: Args): string | undefined {
  const ops = operands(
    a,
    set(
      '--region',
      '--profile',
      '--output',
      '--query',
      '--endpoint-url',
      '--color',
      '--ca-bundle',
      '--cli-read-timeout',
      '--cli-connect-timeout',
      '--cli-binary-format',
    ),
  );
  const svc = textAt(a, ops[0]) ?? '';
  const op = textAt(a, ops[1]) ?? '';
  if (svc === '' || svc === 'help' || op === 'help') return undefined;
  if (hasOpt(a, /^--with-decryption$/)) return 'aws --with-decryption prints secret parameters';
  if (svc === 's3') return op === 'ls' ? undefined : `aws s3 ${op} copies, moves or deletes objects`;
  if (svc === 'configure')
    return op === 'list' ||
      op === 'list-profiles' ||
      (op === 'get' && !/key|token|secret/i.test(textAt(a, ops[2]) ?? ''))
      ? undefined
      : `aws configure ${op} changes or prints the credentials configuration`;
  if (svc === 'logs' && op === 'tail') return undefined;
  if (!AWS_READ.test(op) || AWS_SECRET.test(op)) return `aws ${svc} ${op} is not known to be read-only`;
  return undefined;
}

/* gcloud [alpha|beta] GROUP… VERB: groups before the verb, the verb a read. */
const GCLOUD_READ =
  /^(list|describe|get-iam-policy|get-value|read|list-[\w-]+|describe-[\w-]+|search|info|version|help|lookup|logs|check-[\w-]+|validate|explain|tail|ls|du|get-ancestors|get-effective-[\w-]+|find-[\w-]+)$/;
/** gcloud commands that take operands themselves (an operand named `list` must not pass for a verb). */
const GCLOUD_COMMANDS =
  /^(ssh|scp|ssh-[\w-]+|connect[\w-]*|deploy|submit|run|exec|execute[\w-]*|start[\w-]*|stop|reset[\w-]*|print-[\w-]+|access|activate-[\w-]+|login|revoke|create[\w-]*|delete[\w-]*|update[\w-]*|add-[\w-]+|remove-[\w-]+|set[\w-]*|unset|import|export|copy-files|cp|mv|rm|rsync|sign-url|get-credentials|attach[\w-]*|detach[\w-]*|resize|restore[\w-]*|enable|disable|move|patch|apply|upgrade|rollback|promote|failover|cancel|call|invoke|publish|pull|ack|seek|send[\w-]*|tunnel|init|config-ssh|generate[\w-]*|decrypt|encrypt|sign|verify-[\w-]+|mac-[\w-]+|asymmetric-[\w-]+|raw-[\w-]+)$/;
function gcloudCheck(a: Args): string | undefined {
  const words = operandTexts(
    a,
    set(
      '--project',
      '--format',
      '--filter',
      '--limit',
      '--zone',
      '--region',
      '--location',
      '--account',
      '--configuration',
      '--flatten',
      '--sort-by',
      '--page-size',
      '--verbosity',
      '--impersonate-service-account',
    ),
  );
  let i = 0;
  if (words[0] === 'alpha' || words[0] === 'beta') i++;
  if (words.length <= i) return undefined; // usage
  for (let k = i; k < words.length; k++) {
    const w = words[k]!;
    if (GCLOUD_READ.test(w)) return undefined;
    // `gcloud storage cp gs://… LOCAL`: a download into a new local file.
    if (
      (w === 'cp' || w === 'rsync') &&
      /^(storage|alpha|beta)$/.test(words[k - 1] ?? '') &&
      words.length - k >= 3 &&
      words.slice(k + 1, -1).every((x) => /^gs:\/\//.test(x)) &&
      !/^[a-z0-9]+:\/\//.test(words[words.length - 1]!)
    )
      return w === 'cp' ? undefined : 'gcloud storage rsync may delete files';
    if (GCLOUD_COMMANDS.test(w) || !/^[a-z][a-z0-9-]*$/.test(w) || k - i > 4)
      return `gcloud ${words.slice(i, k + 1).join(' ')} is not known to be read-only`;
  }
  // Groups only (`gcloud ai endpoints`): gcloud prints the group's usage.
  return undefined;
}

/* az GROUP… VERB */
const AZ_READ = /^(list|show|list-\w+|show-\w+|get-\w+|exists|version|wait|query|check-name)$/;
function azCheck(a: Args): string | undefined {
  const words = operandTexts(
    a,
    set('--output', '-o', '--query', '--subscription', '-g', '--resource-group', '-n', '--name'),
  );
  if (!words.length) return undefined;
  const verb = words.find(
    (w) =>
      AZ_READ.test(w) ||
      /^(create|delete|update|set|add|remove|start|stop|restart|deploy|invoke|run|login|logout|ssh|get-access-token|get-credentials|keys|secret|import|export|upload|download|purge|scale|reset|renew|regenerate\w*|assign|grant)$/.test(
        w,
      ),
  );
  if (!verb || !AZ_READ.test(verb) || /secret|keys|credential|token|password|connection-string/.test(words.join(' ')))
    return `az ${words.slice(0, 3).join(' ')} is not known to be read-only`;
  return undefined;
}

/* curl: a download or request that sends no local data, changes nothing remote and writes only new files. */
function curlCheck(a: Args): string | undefined {
  for (let i = 0; i < a.end; i++) {
    const t = a.t[i]!;
    if (
      /^(-d|--data(-\w+)?|-F|--form(-string)?|-T|--upload-file|--json|-K|--config|--post30[123]|--mail-rcpt|--mail-from|-Q|--quote|--ftp-create-dirs|-a|--append)$/.test(
        t,
      )
    )
      return `curl ${t} sends data or runs commands on the server`;
    if (
      /^--(data|data-\w+|form|upload-file|json|config|quote)=/.test(t) ||
      (/^-[A-Za-z]*[dFTKQa]/.test(t) && !t.startsWith('--'))
    )
      return `curl ${t} sends data or changes the server`;
    if (/^(-X|--request)$/.test(t) && !/^(GET|HEAD|OPTIONS|NLST|LIST)$/i.test(a.t[i + 1] ?? ''))
      return `curl ${t} ${a.t[i + 1] ?? ''} is not a read`;
    if (/^(-X|--request=)(.+)$/.test(t) && !/^(-X|--request=)(GET|HEAD|OPTIONS)$/i.test(t))
      return `curl ${t} is not a read`;
  }
  for (const t of a.t)
    if (/^(file|dict|gopher|telnet|smb|smbs|ldap|ldaps|tftp|scp|sftp):/i.test(t) && !/^sftp:\/\/[^/]+\/$/.test(t))
      return `curl reaches ${t.split(':')[0]}: URLs that read local files or speak raw protocols`;
  return undefined;
}

function wgetCheck(a: Args): string | undefined {
  if (hasOpt(a, /^--(post|body|method|execute|config|input-file|use-askpass|ask-password)|^-[A-Za-z]*[eiI]/))
    return 'wget option sends data, runs wgetrc commands or reads URLs from a file';
  return undefined;
}

/* httpie / xh: `METHOD URL ITEM…`; items `a=b`, `a:=b`, `@file`, `a@file` send data. */
function httpieCheck(a: Args, v: View): string | undefined {
  if (hasOpt(a, /^(--raw|-f|--form|--multipart|--offline|--session|--download)/))
    return 'httpie option sends a body or stores a session';
  // httpie and xh send what they read on standard input as the request body.
  if (
    v.sc.stdin ||
    v.sc.pipes.some((p) => p.stage > 0) ||
    v.sc.redirects.some((r) => (r.fd === null || r.fd === '0') && r.op.startsWith('<'))
  )
    return 'sends its standard input as the request body';
  const ops = operands(
    a,
    set(
      '--auth',
      '-a',
      '--verify',
      '--cert',
      '--cert-key',
      '--timeout',
      '--proxy',
      '--print',
      '-p',
      '--output',
      '-o',
      '--style',
      '-s',
    ),
  );
  let k = 0;
  const first = textAt(a, ops[0]) ?? '';
  if (/^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|PURGE|[A-Z]+)$/i.test(first) && !/[.:/]/.test(first)) {
    if (!/^(GET|HEAD|OPTIONS)$/i.test(first)) return `http ${first} is not a read`;
    k = 1;
  }
  for (const i of ops.slice(k + 1)) {
    const t = a.t[i]!; // an operand's index
    if (/^[^=:@]*(==)/.test(t) || (/^[A-Za-z0-9_-]+:[^=]/.test(t) && !t.includes('='))) continue; // query params, headers
    return `http item ${t} sends data`;
  }
  return undefined;
}

/** ip OBJECT [show|list|get]: listing forms only (not `ip netns exec`, `ip -b FILE`, `ip xfrm` keys). */
function ipCheck(a: Args): string | undefined {
  if (hasOpt(a, /^-(b|batch|force)$/)) return 'ip -batch runs commands from a file';
  const ops = operands(a, set('-n', '-netns', '-f', '-family', '-l', '-loops', '-rc', '-rcvbuf', '-c', '-color'));
  const obj = textAt(a, ops[0]) ?? '';
  if (/^x/.test(obj)) return 'ip xfrm prints IPsec keys';
  const cmd = textAt(a, ops[1]);
  if (cmd === undefined || /^(show|sh|list|ls|lst|get|help)$/.test(cmd) || obj === 'monitor' || obj === 'mon')
    return undefined;
  return `ip ${obj} ${cmd} changes network configuration`;
}

/** tc/devlink/bridge/dcb/rdma/vdpa style: OBJECT [show|list]. */
const showOnly: Check = (a) => {
  const words = operandTexts(a, set('-n', '-netns', '-f', '-family', '-b', '-batch'));
  if (hasOpt(a, /^-(b|batch|force)$/)) return 'runs commands from a file';
  if (
    words.some((w) =>
      /^(add|del|delete|set|change|replace|flush|run|bind|unbind|reload|clear|clearmax|snapshot|reset|attach|detach|load|unload|exec|new|rm|remove|update|enable|disable|up|down|flash|reload|port|split|unsplit)$/.test(
        w,
      ),
    )
  )
    return `${words.slice(0, 3).join(' ')} changes the device or network`;
  if (
    words.length <= 1 ||
    words.slice(1, 4).some((w) => /^(show|sh|list|ls|lst|help|status|summary|monitor|get|stats)$/.test(w))
  )
    return undefined;
  return `${words.slice(0, 3).join(' ')} is not a listing`;
};

/** git: read-only and local-create subcommands, with their vetoes. */
const GIT_VETO: Spec['veto'] = [
  [
    /^--(ext-diff|output|exec|upload-pack|receive-pack|open-files-in-pager|textconv)(=|$)|^-O/,
    'git option runs a program or writes a file',
  ],
];
const gitBranch: Check = (a) => {
  if (
    hasOpt(
      a,
      /^(-d|-D|-m|-M|-c|-C|-f|--delete|--move|--copy|--force|--set-upstream-to|-u|--unset-upstream|--edit-description)(=|$)/,
    ) ||
    hasShort(a, 'D') ||
    hasShort(a, 'M')
  )
    return 'git branch deletes, renames or moves a branch';
  return undefined;
};
const gitTag: Check = (a) =>
  hasOpt(a, /^(-d|--delete|-f|--force|-s|--sign|-u|--local-user)$/)
    ? 'git tag deletes, replaces or signs a tag'
    : undefined;
const gitConfig: Check = (a) => {
  if (
    hasOpt(
      a,
      /^(--get|--get-all|--get-regexp|--get-urlmatch|--get-color|--get-colorbool|-l|--list|--show-origin|--show-scope|--name-only|--type|--bool|--int|--path|-z|--null|--global|--system|--local|--worktree|--includes|--no-includes|--default)(=|$)/,
    ) === false
  )
    return 'git config writes configuration';
  if (hasOpt(a, /^(--add|--unset|--unset-all|--replace-all|--rename-section|--remove-section|-e|--edit)$/))
    return 'git config writes configuration';
  const ops = operands(a, set('--type', '--default', '--file', '-f', '--blob'));
  const getter = hasOpt(a, /^(--get|--get-all|--get-regexp|--get-urlmatch|--get-color|--get-colorbool|-l|--list)$/);
  if (!getter && ops.length > 1) return 'git config writes configuration';
  if (a.t.some((t) => /credential|token|password|\.extraheader/i.test(t)))
    return 'git config reads a credential setting';
  return undefined;
};
const gitRemote: Check = (a) => {
  const ops = operands(a, undefined);
  const sub = textAt(a, ops[0]);
  return sub === undefined || /^(show|get-url)$/.test(sub) ? undefined : `git remote ${sub} changes remotes`;
};
const gitListOnly =
  (allowed: RegExp, what: string): Check =>
  (a) => {
    const ops = operands(a, undefined);
    const sub = textAt(a, ops[0]);
    return sub === undefined || allowed.test(sub) ? undefined : `git ${what} ${sub} changes the repository`;
  };

/** `git -c KEY=…` keys that only change output or bookkeeping (any other key may name a program). */
const GIT_SAFE_CONFIG =
  /^(color\.[\w.-]+|core\.(untrackedCache|quotePath|abbrev|autocrlf|safecrlf|fileMode|ignoreCase|precomposeUnicode|longpaths)|log\.[\w.-]+|status\.[\w.-]+|diff\.(renames|algorithm|noprefix|mnemonicPrefix|context|indentHeuristic|colorMoved|statGraphWidth|relative)|advice\.[\w.-]+|user\.(name|email)|column\.[\w.-]+|i18n\.[\w.-]+|init\.defaultBranch|safe\.directory|grep\.[\w.-]+|blame\.[\w.-]+|format\.(pretty|graph)|pretty\.[\w.-]+|commit\.verbose|help\.[\w.-]+|versionsort\.[\w.-]+|tag\.sort|branch\.sort)=/i;

const GIT: Spec = {
  gopts: ['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--super-prefix', '--config-env', '--exec-path'],
  veto: [[/^(--config-env|--exec-path)(=|$)/, 'git option sets configuration or the program directory'], ...GIT_VETO],
  check: (a) => {
    for (let i = 0; i < a.end; i++)
      if (a.t[i] === '-c' && !GIT_SAFE_CONFIG.test(a.t[i + 1] ?? ''))
        return `git -c ${(a.t[i + 1] ?? '').split('=')[0]} sets configuration that may run commands`;
    return undefined;
  },
  subs: {
    '': R,
    help: D,
    version: D,
    status: R,
    log: R,
    diff: R,
    show: R,
    'show-branch': R,
    'show-ref': R,
    'rev-parse': D,
    'rev-list': R,
    describe: R,
    shortlog: R,
    blame: R,
    annotate: R,
    grep: R,
    'ls-files': R,
    'ls-tree': R,
    'ls-remote': R,
    'cat-file': R,
    'for-each-ref': R,
    'name-rev': R,
    'merge-base': R,
    cherry: R,
    'range-diff': R,
    whatchanged: R,
    'diff-tree': R,
    'diff-files': R,
    'diff-index': R,
    'check-ignore': R,
    'check-attr': R,
    'check-ref-format': R,
    'count-objects': R,
    fsck: R,
    'verify-commit': R,
    'verify-tag': R,
    'verify-pack': R,
    var: R,
    'fmt-merge-msg': R,
    'interpret-trailers': spec({ veto: [[/^--in-place$/, 'rewrites a file in place']] }),
    'request-pull': R,
    'get-tar-commit-id': R,
    'show-index': R,
    column: R,
    stripspace: R,
    'hash-object': spec({ veto: [[/^-w$/, 'writes an object']] }),
    branch: spec({ check: gitBranch }),
    tag: spec({ check: gitTag }),
    remote: spec({ check: gitRemote }),
    config: spec({ check: gitConfig }),
    stash: spec({ check: gitListOnly(/^(list|show)$/, 'stash') }),
    worktree: spec({ check: gitListOnly(/^list$/, 'worktree') }),
    reflog: spec({ check: gitListOnly(/^(show|exists)$/, 'reflog') }),
    notes: spec({ check: gitListOnly(/^(list|show)$/, 'notes') }),
    submodule: spec({ check: gitListOnly(/^(status|summary|foreach)$/, 'submodule') }),
    bisect: spec({ check: gitListOnly(/^(log|visualize|view|help)$/, 'bisect') }),
    // Local creation that changes nothing existing (label policy: allow): new repos, fetched refs, archives, patches, the index.
    fetch: spec({
      dry: /^--dry-run$/,
      veto: [[/^--(upload-pack|recurse-submodules-default)/, 'git fetch runs a program']],
    }),
    clone: spec({
      writes: (a) =>
        nthOperand(
          a,
          1,
          set(
            '-o',
            '--origin',
            '-b',
            '--branch',
            '--depth',
            '--reference',
            '--separate-git-dir',
            '-j',
            '--jobs',
            '--filter',
            '--shallow-since',
            '--shallow-exclude',
          ),
        ),
      veto: [
        [/^(-u|--upload-pack|--template|-c|--config)(=|$)/, 'git clone option runs a program or sets configuration'],
      ],
    }),
    init: spec({ veto: [[/^--template(=|$)/, 'git init copies hooks from a template']] }),
    add: spec({ dry: /^(-n|--dry-run)$/ }),
    rm: spec({
      dry: /^(-n|--dry-run)$/,
      check: (a) => (hasShort(a, 'n') || hasOpt(a, /^--dry-run$/) ? undefined : 'git rm deletes files'),
    }),
    mv: spec({
      dry: /^(-n|--dry-run)$/,
      check: (a) => (hasShort(a, 'n') || hasOpt(a, /^--dry-run$/) ? undefined : 'git mv renames files'),
    }),
    archive: spec({
      veto: [[/^--exec(=|$)/, 'runs a program on the remote']],
      writes: (a) => valuesOf(a, /^(-o|--output)$/),
    }),
    'format-patch': spec({ writes: (a) => valuesOf(a, /^(-o|--output-directory)$/) }),
    bundle: spec({ check: gitListOnly(/^(create|verify|list-heads)$/, 'bundle') }),
    'commit-graph': R,
    'multi-pack-index': R,
    'checkout-index': spec({
      veto: [[/^(-f|--force)$/, 'overwrites files in the working tree']],
      check: (a) => (hasOpt(a, /^--prefix=/) ? undefined : 'writes files in the working tree'),
    }),
    'fast-export': R,
    'pack-refs': R,
    'update-server-info': R,
    push: spec({
      dry: /^(-n|--dry-run)$/,
      check: (a) => (hasShort(a, 'n') || hasOpt(a, /^--dry-run$/) ? undefined : 'git push changes a remote repository'),
    }),
    clean: spec({
      dry: /^(-n|--dry-run)$/,
      check: (a) => (hasShort(a, 'n') || hasOpt(a, /^--dry-run$/) ? undefined : 'git clean deletes untracked files'),
    }),
  },
};
// `git lfs track PATTERN` writes .gitattributes and `migrate import` rewrites history: only the listing forms.
(GIT.subs as Record<string, Spec>).lfs = spec({
  check: (a) => {
    const ops = operands(a, undefined);
    const sub = textAt(a, ops[0]);
    if (sub === undefined || /^(ls-files|status|env|version|ext|fetch|logs|fsck|pointer)$/.test(sub)) return undefined;
    if (sub === 'track' && ops.length === 1) return undefined;
    if (sub === 'migrate' && textAt(a, ops[1]) === 'info') return undefined;
    return `git lfs ${sub} changes the repository`;
  },
});

/* kubectl / oc */
const K8S_GOPTS = [
  '-n',
  '--namespace',
  '--context',
  '--cluster',
  '--user',
  '--kubeconfig',
  '-s',
  '--server',
  '--token',
  '--as',
  '--as-group',
  '--request-timeout',
  '-v',
];
function kubectlGet(a: Args): string | undefined {
  const out = a.t.findIndex((t, i) => i < a.end && /^(-o|--output|--template)(=|$)|^-o\S/.test(t));
  const opt = a.t[out]; // undefined when there is none (out = -1)
  const fmt =
    opt === undefined
      ? ''
      : opt.includes('=')
        ? opt.slice(opt.indexOf('=') + 1)
        : opt.length > 2 && !opt.startsWith('--')
          ? opt.slice(2)
          : (a.t[out + 1] ?? '');
  const secretish = a.t.some((t) => /(^|,|\/)(secrets?|all)(\/|,|$|\.)/.test(t));
  if (secretish && out >= 0 && !/^(wide|name)$/.test(fmt))
    return 'kubectl get of secrets with an output format prints their values';
  return undefined;
}
const KUBECTL: Spec = {
  gopts: K8S_GOPTS,
  dry: /^--dry-run(=(client|server|true))?$/,
  subs: {
    '': D,
    help: D,
    version: D,
    'api-resources': R,
    'api-versions': R,
    'cluster-info': spec({
      check: (a) => (a.t.includes('dump') ? 'cluster-info dump writes every resource' : undefined),
    }),
    get: spec({ check: kubectlGet }),
    describe: R,
    logs: R,
    top: R,
    explain: R,
    events: R,
    diff: R,
    wait: R,
    auth: spec({
      check: (a) => (operand(a) === 'can-i' || operand(a) === 'whoami' ? undefined : 'kubectl auth changes RBAC'),
    }),
    config: spec({
      check: (a) => {
        const sub = operand(a);
        if (/^(get-contexts|current-context|get-clusters|get-users)$/.test(sub ?? '')) return undefined;
        if (sub === 'view' && !hasOpt(a, /^--(raw|flatten|minify)(=|$)|^(-o|--output|--template)(=|$)|^-o\S/))
          return undefined;
        return `kubectl config ${sub ?? ''} prints credentials or changes the configuration`;
      },
    }),
    rollout: spec({
      check: (a) => (/^(status|history)$/.test(operand(a) ?? '') ? undefined : 'kubectl rollout changes a deployment'),
    }),
    apply: spec({
      check: (a) => (operand(a) === 'view-last-applied' ? undefined : 'kubectl apply changes cluster resources'),
    }),
    kustomize: R,
    completion: D,
    plugin: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'runs a plugin') }),
  },
};

/* docker / podman / nerdctl */
function dockerInspect(a: Args): string | undefined {
  const f = a.t.findIndex((t) => /^(-f|--format)(=|$)/.test(t));
  if (
    hasOpt(a, /^--type(=|\s)?image$|^--type=(image|network|volume)$/) ||
    (a.t.includes('--type') && /^(image|network|volume)$/.test(a.t[a.t.indexOf('--type') + 1] ?? ''))
  )
    return undefined;
  const opt = a.t[f]; // undefined when there is none (f = -1)
  if (opt === undefined) return 'docker inspect prints the container environment, which often holds secrets';
  const fmt = opt.includes('=') ? opt.slice(opt.indexOf('=') + 1) : (a.t[f + 1] ?? '');
  return /Env|Config|json\s+\.\s*}}|^\{\{\s*\.\s*\}\}$|Secret|Labels/i.test(fmt)
    ? 'the format prints the container configuration or environment'
    : undefined;
}
const DOCKER_LIST: Spec = {
  check: (a) =>
    /^(ls|list|inspect|df|events|info|history|exists|ps|top|port|diff|logs|stats|wait|search|version)$/.test(
      operand(a) ?? 'ls',
    )
      ? undefined
      : `${operand(a)} changes images, containers or the engine`,
};
const DOCKER: Spec = {
  gopts: [
    '-H',
    '--host',
    '--context',
    '-c',
    '--config',
    '-l',
    '--log-level',
    '--url',
    '--connection',
    '--root',
    '--runroot',
    '--storage-driver',
    '--remote',
  ],
  subs: {
    '': D,
    help: D,
    version: D,
    info: R,
    ps: R,
    images: R,
    logs: R,
    history: R,
    diff: R,
    port: R,
    top: R,
    events: R,
    search: R,
    stats: spec({ check: () => undefined }),
    inspect: spec({ check: dockerInspect }),
    wait: R,
    save: spec({ writes: (a) => valuesOf(a, /^(-o|--output)$/) }),
    export: spec({ writes: (a) => valuesOf(a, /^(-o|--output)$/) }),
    image: spec({
      check: (a) => {
        const s = operand(a);
        return /^(ls|list|inspect|history|save|tag|exists|tree)$/.test(s ?? 'ls')
          ? undefined
          : `image ${s} changes images`;
      },
    }),
    container: spec({
      check: (a) => {
        const s = operand(a);
        return /^(ls|list|ps|inspect|logs|port|stats|top|diff|wait|exists|export)$/.test(s ?? 'ls')
          ? s === 'inspect'
            ? dockerInspect(a)
            : undefined
          : `container ${s} changes containers`;
      },
    }),
    network: DOCKER_LIST,
    volume: DOCKER_LIST,
    system: spec({
      check: (a) => (/^(df|info|events)$/.test(operand(a) ?? '') ? undefined : 'changes or prunes the engine'),
    }),
    context: spec({
      check: (a) => (/^(ls|list|show|inspect)$/.test(operand(a) ?? 'ls') ? undefined : 'changes contexts'),
    }),
    compose: spec({
      check: (a) =>
        /^(ps|ls|logs|top|images|port|version|config)$/.test(
          operand(a, 0, set('-f', '--file', '-p', '--project-name', '--profile', '--env-file')) ?? '',
        ) && !a.t.includes('config')
          ? undefined
          : 'docker compose changes containers or prints configuration',
    }),
    pod: spec({
      check: (a) =>
        /^(ps|ls|list|inspect|exists|logs|top|stats)$/.test(operand(a) ?? 'ps') ? undefined : 'changes pods',
    }),
    machine: spec({
      check: (a) => (/^(ls|list|info|inspect)$/.test(operand(a) ?? 'ls') ? undefined : 'changes machines'),
    }),
    secret: spec({
      check: (a) =>
        /^(ls|list|inspect|exists)$/.test(operand(a) ?? 'ls') && !hasOpt(a, /^--showsecret$/)
          ? undefined
          : 'prints or changes secrets',
    }),
    kube: spec({ check: (a) => (operand(a) === 'generate' ? undefined : 'plays or removes kube resources') }),
    generate: R,
    healthcheck: spec({ check: (a) => (operand(a) === 'run' ? 'runs the container healthcheck command' : undefined) }),
    buildx: spec({ check: (a) => (/^(ls|inspect|version|du)$/.test(operand(a) ?? '') ? undefined : 'builds images') }),
  },
};

const SYSTEMCTL: Spec = {
  gopts: [
    '-H',
    '--host',
    '-M',
    '--machine',
    '-p',
    '--property',
    '-t',
    '--type',
    '--state',
    '-n',
    '--lines',
    '-o',
    '--output',
  ],
  subs: {
    '': R,
    status: R,
    show: R,
    cat: R,
    help: D,
    'list-units': R,
    'list-unit-files': R,
    'list-timers': R,
    'list-sockets': R,
    'list-dependencies': R,
    'list-jobs': R,
    'list-machines': R,
    'list-automounts': R,
    'list-paths': R,
    'is-active': R,
    'is-enabled': R,
    'is-failed': R,
    'is-system-running': R,
    'get-default': R,
  },
};

/** Subcommands listed as harmless, for the many CLIs whose first word decides. */
const subsOf = (names: string, s: Spec = R): Record<string, Spec> =>
  Object.fromEntries(
    names
      .split(/\s+/)
      .filter(Boolean)
      .map((n) => [n, s]),
  );

const TABLE = new Map<string, Spec>();
const add = (names: string, s: Spec): void => {
  for (const n of names.split(/\s+/)) if (n) TABLE.set(n, s);
};

// Listing, metadata, identity: arguments are names, never read.
add(
  'ls dir vdir stat du df findmnt lsblk blkid lsof lsfd lscpu lsusb lspci lsmod lsns lsipc lslocks lsattr lsinitramfs mountpoint which whereis type realpath readlink basename dirname pwd cd pushd popd dirs',
  META,
);
add(
  'true false : id groups whoami logname users who w last lastb lastlog uptime uname arch nproc hostid tty getconf locale localedef numfmt seq yes sleep expr factor tput clear reset',
  META,
);
add(
  'free vmstat iostat mpstat pidstat sar top htop atop btop pgrep pidof pstree ss netstat nstat lnstat rtmon getent fc-list fc-match fc-query',
  META,
);
// Network lookups: a name made at run time can carry data out (`dig $(cat f).example.net`).
add('ping ping6 traceroute tracepath mtr dig nslookup host whois drill', spec({ reads: 'none' }));
add('ifconfig', spec({ reads: 'none', maxPos: 1 }));
add('route', spec({ reads: 'none', maxPos: 0 }));
add('arp', spec({ reads: 'none', veto: [[/^-[A-Za-z]*[dsfD]/, 'arp changes the table']] }));
add('echo cal ncal', D);
add('printf test [', spec({ dynOk: true, reads: 'none', check: subscriptCheck }));
add('mkdir touch mktemp mkfifo', META);
add(
  'jobs fg bg wait shift return exit break continue umask ulimit times unset alias unalias getopts history shopt',
  META,
);
// Alone, these print every variable (credentials included): only their setting forms are harmless.
add('local readonly export declare typeset', spec({ dynOk: true, reads: 'none', check: declarationCheck }));
add(
  'set',
  spec({
    dynOk: true,
    reads: 'none',
    check: (a) => (a.t.length === 0 ? 'set alone prints every variable and function' : undefined),
  }),
);
add(
  'hash',
  spec({ dynOk: true, reads: 'none', veto: [[/^-[A-Za-z]*p/, 'hash -p sets the file a command name runs']] }),
);
// Arithmetic and subscripts are evaluated: text with a substitution in a subscript runs it.
add('let', spec({ dynOk: true, reads: 'none', check: subscriptCheck }));
// Readers: their operands are files (path rules judge them; a file named at run time is approve).
// Counts and digests say nothing of the content: any file, even one named at run time.
add('wc cksum sum b2sum md5sum sha1sum sha224sum sha256sum sha384sum sha512sum', D);
add(
  'cat tac nl head tail less more most zcat zless zmore zgrep zegrep zfgrep bzcat xzcat lzcat zstdcat lz4cat strings od hexdump hd file cut paste join comm cmp diff diff3 sdiff column fold fmt expand unexpand rev tr iconv uconv base32 basenc encguess look tsort shuf pr',
  R,
);
add(
  'grep egrep fgrep rg ag ack',
  spec({
    veto: [[/^--pre(=|$)|^--pager(=|$)|^--search-zip$/, 'runs a preprocessor or pager program']],
    reads: grepReads,
  }),
);
add(
  'sort',
  spec({
    writes: (a) => valuesOf(a, /^(-o|--output)$/),
    check: (a) =>
      a.t.some(
        (t, i) =>
          i < a.end &&
          /^--compress-program(=|$)/.test(t) &&
          !/^(gzip|xz|zstd|bzip2|lz4|lzop|pigz|pbzip2)$/.test(
            t.includes('=') ? t.slice(t.indexOf('=') + 1) : (a.t[i + 1] ?? ''),
          ),
      )
        ? 'sort --compress-program runs a program'
        : undefined,
  }),
);
add('uniq', spec({ maxPos: 2, writes: (a) => nthOperand(a, 1, undefined) }));
add(
  'pod2man pod2text',
  spec({
    maxPos: 2,
    writes: (a) =>
      nthOperand(a, 1, set('--section', '-s', '--center', '-c', '--release', '-r', '--name', '-n', '--date', '-d')),
  }),
);
add('readprofile', spec({ veto: [[/^-[A-Za-z]*[rM]/, 'readprofile -r/-M resets or changes the kernel profile']] }));
add('stty', META);
add(
  'xxd',
  spec({
    writes: (a) =>
      nthOperand(
        a,
        1,
        set('-l', '-len', '-c', '-cols', '-s', '-seek', '-g', '-groupsize', '-o', '-offset', '-n', '-name'),
      ),
  }),
);
add('base64', spec({ writes: (a) => valuesOf(a, /^(-o|--output)$/) }));
add('tree', spec({ writes: (a) => valuesOf(a, /^-o$/), dynOk: true, reads: 'none' }));
add('tee', R);
add(
  'find',
  spec({
    veto: [[/^-(delete|fprint|fprint0|fprintf|fls|ok|okdir)$/, 'find deletes, writes files or asks to run commands']],
    dynOk: true,
    reads: 'none',
  }),
);
add(
  'locate mlocate plocate',
  spec({ veto: [[/^(-u|--update|-U)$/, 'updates the database']], dynOk: true, reads: 'none' }),
);
add(
  'ps',
  spec({
    dynOk: true,
    reads: 'none',
    check: (a) =>
      a.t.some((t) => !t.startsWith('-') && /^[A-Za-z]*e[A-Za-z]*$/.test(t))
        ? 'ps e prints every process environment'
        : undefined,
  }),
);
add(
  'date',
  spec({
    dynOk: true,
    reads: 'none',
    veto: [[/^(-s|--set)(=|$)|^-s\S/, 'date -s sets the clock']],
    check: (a) =>
      operandTexts(a, undefined).some((t) => /^\d{4,}/.test(t)) ? 'date MMDDhhmm sets the clock' : undefined,
  }),
);
add(
  'hostname',
  spec({ dynOk: true, reads: 'none', veto: [[/^(-F|--file|-b|--boot)$/, 'sets the host name']], maxPos: 0 }),
);
add(
  'dmesg',
  spec({
    dynOk: true,
    reads: 'none',
    veto: [
      [
        /^(-c|-C|-D|-E|-n|--clear|--read-clear|--console-off|--console-on|--console-level)(=|$)/,
        'dmesg clears the buffer or changes the console',
      ],
    ],
  }),
);
add(
  'jq gojq jaq',
  spec({
    check: (a) =>
      a.t.some((t) => /\benv\b|\$ENV|input_filename|\$__prog_args/.test(t))
        ? 'the filter reads the environment'
        : undefined,
    reads: jqReads,
  }),
);
add(
  'yq',
  spec({
    veto: [[/^(-i|--inplace)$/, 'yq -i edits files in place']],
    check: (a) =>
      a.t.some((t) => /\b(env|strenv|envsubst|load|load_str)\s*\(|\$ENV/.test(t))
        ? 'the expression reads the environment or files'
        : undefined,
    reads: jqReads,
  }),
);
add(
  'awk gawk mawk nawk',
  spec({
    check: (a) =>
      a.t.some((t) => /ENVIRON|PROCINFO|\/inet\//.test(t))
        ? 'the awk program reads the environment or opens a socket'
        : undefined,
    reads: awkReads,
  }),
);
add('sed', spec({ veto: [[/^(-i|--in-place)(=|$)|^-[A-Za-z]*i/, 'sed -i edits files in place']], reads: sedReads }));
add(
  'man',
  spec({
    dynOk: true,
    reads: 'none',
    veto: [
      [
        /^(-P|--pager|-H|--html|-X|--gxditview|-l|--local-file)(=|$)|^-[PH]\S/,
        'man runs a pager or browser, or renders a local file',
      ],
    ],
  }),
);
add('info help apropos whatis tldr', META);
add(
  'journalctl',
  spec({
    veto: [
      [
        /^--(vacuum-\w+|rotate|flush|sync|relinquish-var|smart-relinquish-var|setup-keys|update-catalog)(=|$)/,
        'journalctl deletes, rotates or changes the journal',
      ],
    ],
    dynOk: true,
  }),
);
add('systemctl', SYSTEMCTL);
add(
  'loginctl',
  spec({
    subs: subsOf(
      ' list-sessions list-users list-seats session-status user-status seat-status show-session show-user show-seat',
    ),
  }),
);
add('timedatectl', spec({ subs: subsOf(' status show list-timezones timesync-status show-timesync') }));
add(
  'hostnamectl',
  spec({
    subs: subsOf(' status hostname icon-name chassis deployment location'),
    check: (a) => (operands(a, undefined).length > 1 ? 'hostnamectl sets a value' : undefined),
  }),
);
add(
  'localectl',
  spec({
    subs: subsOf(
      ' status list-locales list-keymaps list-x11-keymap-models list-x11-keymap-layouts list-x11-keymap-variants list-x11-keymap-options',
    ),
  }),
);
add(
  'resolvectl',
  spec({
    subs: subsOf(' status query service openpgp tlsa statistics monitor show-cache show-server-state log-level'),
  }),
);
add('networkctl', spec({ subs: subsOf(' list status lldp label') }));
add(
  'busctl',
  spec({
    subs: {
      ...subsOf(' list status tree introspect monitor capture help'),
      'get-property': spec({
        check: (a) => (a.t.some((t) => /Environment/.test(t)) ? 'prints a service environment' : undefined),
      }),
    },
  }),
);
add(
  'systemd-analyze systemd-cgls systemd-cgtop systemd-delta systemd-path systemd-escape systemd-detect-virt systemd-notify systemd-cat',
  D,
);
add('coredumpctl', spec({ subs: subsOf(' list info') }));
add('ip', spec({ check: ipCheck, dynOk: false }));
add('tc devlink bridge dcb rdma vdpa tipc', spec({ check: showOnly }));
add(
  'nft',
  spec({
    check: (a) => {
      const s = operand(a);
      return /^(list|describe|monitor|help)$/.test(s ?? '') && !hasOpt(a, /^-f$|^--file/)
        ? undefined
        : `nft ${s ?? ''} changes the firewall`;
    },
  }),
);
add(
  'iptables-save ip6tables-save iptables-legacy-save iptables-nft-save',
  spec({ writes: (a) => valuesOf(a, /^(-f|--file)$/) }),
);
add('iptables-translate ip6tables-translate iptables-restore-translate ip6tables-restore-translate xtables-monitor', R);
add(
  'iptables ip6tables iptables-nft ip6tables-nft iptables-legacy ebtables-nft arptables-nft ebtables arptables',
  spec({
    check: (a) =>
      a.t.every((t) =>
        /^(-L|--list|-S|--list-rules|-n|--numeric|-v|--verbose|-x|--exact|--line-numbers|-t|--table|filter|nat|mangle|raw|security|INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING|-4|-6)$/.test(
          t,
        ),
      ) && a.t.some((t) => /^(-L|--list|-S|--list-rules)$/.test(t))
        ? undefined
        : 'changes the firewall',
  }),
);
add(
  'sysctl',
  spec({
    check: (a) =>
      a.t.some((t) => /=/.test(t)) || hasOpt(a, /^(-w|--write|-p|--load|--system)(=|$)|^-p\S/)
        ? 'sysctl writes a kernel setting'
        : undefined,
    dynOk: false,
  }),
);
add('lvs vgs pvs lvdisplay vgdisplay pvdisplay pvck lvmconfig lvmdiskscan', D);
add('dmstats', spec({ subs: subsOf(' list print report') }));
// A query mode vouches for mdadm only when no changing option comes with it (`--detail --add` adds).
const MDADM_QUERY = /^(-D|--detail|-E|--examine|-Q|--query|--detail-platform)$/;
const MDADM_CHANGE = /^(--create|-C|--grow|-G|--manage|--zero-superblock|--fail|--remove|--add|-a|-r|-f)$/;
add(
  'mdadm',
  spec({
    check: (a) =>
      (hasOpt(a, MDADM_QUERY) || hasShort(a, 'E')) && !hasOpt(a, MDADM_CHANGE) ? undefined : 'mdadm changes arrays',
  }),
);
add(
  'btrfs',
  spec({
    check: (a) => {
      const w = operandTexts(a, undefined);
      const g = w[0] ?? '';
      const c = w[1] ?? '';
      return (/^(device|dev)$/.test(g) && /^(stats|usage)$/.test(c) && !hasOpt(a, /^(-z|--reset)$/)) ||
        (/^(filesystem|fi)$/.test(g) && /^(df|show|usage|du|label)$/.test(c) && w.length <= (c === 'label' ? 3 : 9)) ||
        (/^(subvolume|sub|subvol)$/.test(g) && /^(list|show|get-default)$/.test(c)) ||
        (/^(property|prop)$/.test(g) && /^(get|list)$/.test(c)) ||
        (g === 'inspect-internal' && !/^(dump-\w+)$/.test(c)) ||
        g === 'version' ||
        (g === 'qgroup' && c === 'show') ||
        (g === 'scrub' && c === 'status') ||
        (g === 'balance' && c === 'status')
        ? undefined
        : `btrfs ${g} ${c} changes the filesystem`;
    },
  }),
);
add('xfs_estimate xfs_info e2freefrag dumpe2fs', D);
add(
  'partx',
  spec({
    check: (a) =>
      !hasOpt(a, /^(-a|--add|-d|--delete|-u|--update)$/) ? undefined : 'changes the kernel partition table',
  }),
);
add(
  'sfdisk fdisk parted',
  spec({
    check: (a) =>
      hasOpt(a, /^(-l|--list|-d|--dump|-s|--show-size|-J|--json|-V|--verify|--list-types|-T)$/) &&
      !hasOpt(a, /^(--delete|--move-data|-N|--part-type|--part-label)/) &&
      !a.t.some((t) => /^(rm|mkpart|mklabel|resizepart|set|name)$/.test(t))
        ? undefined
        : `${'partitioning'} changes disks`,
  }),
);
add(
  'wipefs',
  spec({
    check: (a) =>
      hasOpt(a, /^(-a|--all|-o|--offset|-b|--backup|-f)$/) || a.t.some((t) => /^-[A-Za-z]*[aof]/.test(t))
        ? 'wipefs erases signatures'
        : undefined,
    dynOk: false,
  }),
);
add(
  'blockdev',
  spec({
    check: (a) =>
      a.t.every((t) => /^--(get\w*|report)$|^-v$|^\/dev\//.test(t)) ? undefined : 'blockdev changes a device',
  }),
);
add('unzip', spec({ check: (a) => (hasOpt(a, /^-[A-Za-z-]*[ltvZ]/) ? undefined : 'unzip extracts files') }));
add('zipinfo zipdetails funzip', R);
add('zipnote', spec({ veto: [[/^-w$/, 'zipnote -w writes comments into the archive']] }));
add(
  'zip',
  spec({
    writes: (a) =>
      nthOperand(a, 0, set('-b', '-n', '-t', '-tt', '-x', '-i', '-P', '--password', '-s', '-sp', '-O', '--out')),
    veto: [
      [
        /^(-m|--move|-d|--delete|-T|--test|-TT|--unzip-command|-u|--update|-f|--freshen|-A|--adjust-sfx|-F|-FF|--fix|--fixfix|-g|--grow)(=|$)|^-[A-Za-z]*[mdTufAFg]/,
        'zip deletes sources, changes an existing archive or runs a test command',
      ],
    ],
  }),
);
add('tar bsdtar', spec({ check: tarCheck, writes: tarWrites }));
add('gzip gunzip bzip2 bunzip2 xz unxz lzma zstd unzstd lz4 brotli pigz pbzip2', spec({ check: compressCheck }));
add('7z 7za 7zr', spec({ subs: subsOf(' l t h i') }));
add('openssl', spec({ subs: opensslSubs(), reads: opensslReads, writes: (a) => valuesOf(a, /^-(out|keyout)$/) }));
add('gpg gpg2', spec({ check: gpgCheck, dynOk: false, writes: (a) => valuesOf(a, /^(-o|--output)$/) }));
add('gpgv watchgnupg', R);
add(
  'gpgconf',
  spec({
    check: (a) =>
      hasOpt(a, /^(--list-\w+|--check-\w+|--version)$/) ? undefined : 'gpgconf changes options or kills agents',
  }),
);
add(
  'gpg-zip gpgtar',
  spec({
    check: (a) => (hasOpt(a, /^(-d|--decrypt|-s|--sign|-x|--extract)$/) ? 'decrypts, extracts or signs' : undefined),
  }),
);
add(
  'gpgsm',
  spec({
    check: (a) =>
      hasOpt(
        a,
        /^(-e|--encrypt|-r|--recipient|-k|--list-keys|--verify|--version|--dump-keys|--list-chain)$|^-[A-Za-z]*e[A-Za-z]*r?$/,
      ) && !hasOpt(a, /^(-d|--decrypt|-s|--sign|--export-secret-key-\w+|--import|--delete-keys)$/)
        ? undefined
        : 'gpgsm decrypts, signs or changes keys',
  }),
);
add(
  'ssh-keygen',
  spec({ check: sshKeygenCheck, writes: (a) => (hasOpt(a, /^-(l|y|F|lf|lv|lvf|yf)$/) ? [] : valuesOf(a, /^-f$/)) }),
);
add('ssh-keyscan', spec({ check: (a) => (a.t.some((t) => /\/\d+$/.test(t)) ? 'scans a network range' : undefined) }));
add('ssh-add', spec({ check: (a) => (hasOpt(a, /^(-l|-L|-T)$/) ? undefined : 'ssh-add loads or removes keys') }));
// age encrypts what it reads (the output is ciphertext); only its identity files are read as such.
add(
  'age',
  spec({
    writes: (a) => valuesOf(a, /^(-o|--output)$/),
    check: (a) => (hasShort(a, 'd') || hasOpt(a, /^--decrypt$/) ? 'age -d decrypts data' : undefined),
    reads: (a) => valuesOf(a, /^(-i|--identity)$/),
  }),
);
add('age-keygen', R);
add(
  'curl',
  spec({
    check: curlCheck,
    dynOk: false,
    reads: curlReads,
    writes: (a) =>
      valuesOf(
        a,
        /^(-o|--output|-D|--dump-header|-c|--cookie-jar|--trace|--trace-ascii|--stderr|--etag-save|--libcurl|--hsts|--alt-svc|--output-dir)$/,
      ),
  }),
);
add(
  'wget',
  spec({
    check: wgetCheck,
    reads: 'none',
    writes: (a) =>
      valuesOf(
        a,
        /^(-O|--output-document|-o|--output-file|-a|--append-output|-P|--directory-prefix|--save-cookies|--warc-file)$/,
      ).filter((w) => w.text !== '-'),
  }),
);
add('http https xh xhs', spec({ check: httpieCheck, reads: 'none' }));
add('git', GIT);
add('kubectl oc', KUBECTL);
add('docker podman nerdctl', DOCKER);
add(
  'helm',
  spec({
    gopts: ['-n', '--namespace', '--kube-context', '--kubeconfig'],
    dry: /^--dry-run(=(client|server|true))?$/,
    subs: {
      ...subsOf(' list ls status history show search template lint version env verify'),
      '': D,
      help: D,
      repo: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'changes repositories') }),
      dependency: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'downloads dependencies') }),
      upgrade: spec({ check: () => 'helm upgrade changes a release' }),
      install: spec({ check: () => 'helm install creates a release' }),
    },
  }),
);
add(
  'terraform tofu terragrunt',
  spec({
    subs: {
      plan: spec({ dryAlways: true, writes: (a) => valuesOf(a, /^-?-out$/) }),
      validate: R,
      version: D,
      providers: R,
      graph: R,
      show: R,
      '': D,
      help: D,
      fmt: spec({
        check: (a) => (hasOpt(a, /^(-check|--check|-diff|--diff)(=|$)/) ? undefined : 'terraform fmt rewrites files'),
      }),
      workspace: spec({ check: (a) => (/^(list|show)$/.test(operand(a) ?? '') ? undefined : 'changes workspaces') }),
      state: spec({
        check: (a) => (operand(a) === 'list' ? undefined : 'reads or changes state (state holds secrets)'),
      }),
    },
  }),
);
add(
  'pulumi',
  spec({
    subs: {
      preview: R,
      version: D,
      '': D,
      whoami: R,
      stack: spec({
        check: (a) => (/^(ls|list|history)$/.test(operand(a) ?? '') ? undefined : 'changes or prints a stack'),
      }),
    },
  }),
);
add('aws', spec({ check: awsCheck, dry: /^--(dryrun|dry-run)$/ }));
add('gcloud', spec({ check: gcloudCheck }));
add('az', spec({ check: azCheck }));
add('gsutil', spec({ subs: subsOf(' ls du stat version help') }));
add(
  'doctl',
  spec({
    check: verbCheck(/^(list|get|ls)$/, /^(create|delete|update|rm|ssh|exec|login|auth|kubeconfig|registry)$/, 'doctl'),
  }),
);
add('gh', spec({ gopts: ['-R', '--repo'], subs: ghSubs() }));
add(
  'vault',
  spec({
    subs: {
      status: R,
      version: D,
      '': D,
      secrets: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'changes secret engines') }),
      auth: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'changes auth methods') }),
      policy: spec({ check: (a) => (/^(list|read)$/.test(operand(a) ?? '') ? undefined : 'changes policies') }),
      kv: spec({
        check: (a) =>
          /^(list|metadata)$/.test(operand(a) ?? '') && operand(a, 1) !== 'put'
            ? undefined
            : 'vault kv reads or writes secret values',
      }),
    },
  }),
);
add(
  'rclone',
  spec({
    gopts: ['--config'],
    dry: /^(-n|--dry-run)$/,
    subs: {
      ...subsOf(' ls lsd lsl lsf lsjson size about version listremotes tree hashsum md5sum sha1sum check cat help'),
      config: spec({
        check: (a) =>
          /^(file|paths|providers)$/.test(operand(a) ?? '')
            ? undefined
            : 'prints or changes remotes and their credentials',
      }),
    },
  }),
);
add(
  'restic',
  spec({
    gopts: ['-r', '--repo', '--password-file', '--password-command'],
    dry: /^(-n|--dry-run)$/,
    veto: [[/^--password-command(=|$)/, 'runs a password command']],
    subs: {
      ...subsOf(' snapshots ls stats check version find diff help'),
      key: spec({ check: (a) => (operand(a) === 'list' ? undefined : 'changes keys') }),
    },
  }),
);
add(
  'borg',
  spec({
    dry: /^(-n|--dry-run)$/,
    veto: [[/^--(rsh|remote-path|paths-from-command)(=|$)/, 'borg option runs a command']],
    subs: {
      ...subsOf(' list info check diff version help'),
      config: spec({
        check: (a) =>
          operands(a, undefined).length <= 2 && !hasOpt(a, /^(-d|--delete)$/)
            ? undefined
            : 'borg config changes the repository',
      }),
    },
  }),
);
add('duplicity', spec({ subs: subsOf(' collection-status list-current-files verify') }));
add(
  'psql',
  spec({
    check: dbClient('c', 'command', false),
    reads: 'none',
    writes: (a) => valuesOf(a, /^(-o|--output|-L|--log-file)$/),
  }),
);
add('mysql mariadb', spec({ check: dbClient('e', 'execute', false), reads: 'none' }));
add('sqlite3', spec({ check: dbClient('', 'cmd', true), reads: 'none' }));
add('redis-cli', spec({ check: redisCheck, reads: 'none' }));
add('pg_isready pg_config oid2name mysql_find_rows', R);
add(
  'pg_restore',
  spec({
    writes: (a) => valuesOf(a, /^(-f|--file)$/),
    check: (a) => (!hasOpt(a, /^(-d|--dbname)(=|$)|^-d\S/) ? undefined : 'pg_restore writes into a database'),
  }),
);
add('pg_ctl', spec({ subs: subsOf(' status') }));
add('bc', D);
add('dot neato twopi circo fdp sfdp colcrt col colrm grotty', R);
add(
  'etcdctl',
  spec({
    check: (a) => {
      const s = operand(a) ?? '';
      if (s === 'get' && hasOpt(a, /^--keys-only$/)) return undefined;
      return /^(endpoint|member|version|check|alarm)$/.test(s) &&
        !/^(add|remove|update|disarm|promote)$/.test(operand(a, 1) ?? '')
        ? undefined
        : `etcdctl ${s} reads keys or changes the cluster`;
    },
  }),
);
add(
  'rabbitmqctl',
  spec({
    check: (a) =>
      /^(status|list_\w+|cluster_status|ping|version|node_health_check)$/.test(operand(a) ?? '')
        ? undefined
        : 'changes the broker',
  }),
);
add('mongosh mongo', spec({ check: () => 'runs JavaScript against the database' }));
add(
  'dpkg',
  spec({
    check: (a) =>
      hasOpt(
        a,
        /^(-l|--list|-L|--listfiles|-s|--status|-S|--search|-p|--print-avail|-c|--contents|-I|--info|--print-architecture|--print-foreign-architectures|--get-selections|--compare-versions|-W|--show|--audit|-C|--verify|-V|--version|--help|--yet-to-unpack|--predep-package|--assert-\w+)$/,
      )
        ? undefined
        : 'dpkg installs, removes or configures packages',
  }),
);
add('dpkg-query dpkg-architecture apt-cache apt-config lsb_release debconf-show', D);
add(
  'appstreamcli',
  spec({ subs: subsOf(' search get dump what-provides status os-info check-syntax validate-tree validate --version') }),
);
add(
  'apt',
  spec({
    dry: /^(-s|--simulate|--just-print|--dry-run|--recon|--no-act)$/,
    subs: subsOf(' list show search policy depends rdepends showsrc changelog help'),
  }),
);
add(
  'apt-get',
  spec({
    dry: /^(-s|--simulate|--just-print|--dry-run|--recon|--no-act)$/,
    subs: subsOf(' check changelog help indextargets'),
  }),
);
add(
  'rpm',
  spec({
    check: (a) =>
      hasOpt(a, /^(-q\w*|--query\w*|-V|--verify|--eval|-E|--showrc|--version)$/)
        ? undefined
        : 'rpm installs or removes packages',
  }),
);
add(
  'dnf yum',
  spec({
    subs: subsOf(' list info search repolist provides check-update deplist history repoquery help'),
    dry: /^--assumeno$/,
  }),
);
add('pip pip3', spec({ subs: subsOf(' list show freeze check help index inspect debug') }));
add(
  'npm pnpm yarn',
  spec({
    subs: {
      ...subsOf(' ls list ll la view info show outdated why explain help search ping prefix root bin doctor fund'),
      '': D,
      version: D,
      audit: spec({ check: (a) => (a.t.includes('fix') ? 'npm audit fix installs packages' : undefined) }),
      config: spec({
        check: (a) =>
          /^(list|ls)$/.test(operand(a) ?? '') || (operand(a) === 'get' && !/auth|token|password|_/.test(a.t.join(' ')))
            ? undefined
            : 'npm config prints or changes credentials',
      }),
    },
    dry: /^--dry-run$/,
  }),
);
add('cargo', spec({ subs: subsOf(' tree metadata search version help verify-project locate-project pkgid') }));
add(
  'go',
  spec({
    subs: {
      ...subsOf(' version list doc help'),
      env: spec({
        check: (a) =>
          operands(a, undefined).length > 0 || hasOpt(a, /^-w$/)
            ? hasOpt(a, /^-(w|u)$/)
              ? 'go env -w changes settings'
              : undefined
            : undefined,
      }),
    },
  }),
);
add('gem', spec({ subs: subsOf(' list search info query specification contents environment help') }));
add('brew', spec({ subs: subsOf(' list ls info search outdated deps uses leaves config doctor --version') }));
add(
  'make gmake',
  spec({
    dry: /^(-n|--just-print|--dry-run|--recon)$/,
    runner: true,
    check: () => 'make runs the recipes of a makefile',
  }),
);
add('ansible-playbook', spec({ dry: /^(-C|--check)$/, check: () => 'runs a playbook' }));
add(
  'perf',
  spec({
    subs: {
      ...subsOf(' list bench annotate report evlist help version'),
      config: spec({
        check: (a) =>
          hasOpt(a, /^(--system|--user)$/) || a.t.some((t) => t.includes('='))
            ? 'perf config writes settings'
            : undefined,
      }),
    },
  }),
);
add(
  'javap jdeps jdeprscan jps ldd objdump readelf nm size c++filt llvm-cxxfilt llvm-strings llvm-symbolizer llvm-objdump llvm-readelf llvm-nm llvm-size llvm-dwarfdump addr2line pldd lexgrog readtags appres',
  R,
);
add('cc gcc g++ clang clang++', spec({ writes: (a) => valuesOf(a, /^-o$/) }));
add(
  'javac rpcgen ctags etags groff troff nroff tbl pic eqn grog h2xs enc2xs corelist ptardiff pkgconf pkg-config llvm-mca llvm-exegesis llvm-profdata llc sprof memusagestat strace-log-merge scriptreplay sudoreplay cvtsudoers',
  R,
);
add(
  'jar',
  spec({
    check: (a) => {
      const first = a.t[0] ?? '';
      return (/^-?[A-Za-z]*u/.test(first) && !first.startsWith('--')) || hasOpt(a, /^(--update|-u)$/)
        ? 'jar updates an existing archive'
        : undefined;
    },
  }),
);
add('jarsigner', spec({ check: (a) => (hasOpt(a, /^-verify$/) ? undefined : 'jarsigner signs with a private key') }));
add('jmod', spec({ subs: subsOf(' list describe') }));
add('jlink jpackage', R);
// Builtins that print state; the code they can carry (`complete -C`, `bind -x`) is judged as code.
add('complete compgen bind', D);
add(
  'fc',
  spec({
    dynOk: true,
    reads: 'none',
    check: (a) =>
      hasOpt(a, /^-[A-Za-z]*l/) && !hasOpt(a, /^-[A-Za-z]*[se]/) ? undefined : 'fc edits and re-runs earlier commands',
  }),
);
/**
 * A shell reading its script from standard input (the caller's stdin, a heredoc, a pipe) or from
 * `-c STRING`: that script is judged command by command (src/guard/stdin.ts, wrappers.ts), so the
 * shell itself is harmless. A script file is not visible to the guard (issue 14 item 3).
 */
add(
  'bash sh dash zsh ksh mksh ash yash posh rbash',
  spec({
    dynOk: true,
    reads: 'none',
    veto: [[/^--(rcfile|init-file)$/, 'reads a startup file the guard cannot see']],
    check: (a) => {
      for (let i = 0; i < a.t.length; i++) {
        const t = a.t[i]!;
        if (i < a.end && /^[-+][oO]$/.test(t)) {
          i++;
          continue;
        }
        if (i < a.end && isOpt(t)) continue;
        if (i === a.end) continue;
        return /^(-|\/dev\/stdin|\/dev\/fd\/0|\/proc\/self\/fd\/0)$/.test(t)
          ? undefined
          : `runs the script ${t}, which the guard cannot read`;
      }
      return undefined;
    },
  }),
);
add('trap', D);
add('exec command builtin', META);
add('eval', D);
add('mapfile readarray caller', META);
add(
  'update-alternatives',
  spec({ check: (a) => (hasOpt(a, /^--(display|query|list|get-selections)$/) ? undefined : 'changes alternatives') }),
);
add(
  'prlimit',
  spec({
    check: (a) =>
      a.t.some((t) => /=/.test(t)) || operands(a, set('-p', '--pid')).length
        ? 'prlimit sets limits or runs a command'
        : undefined,
  }),
);
add('fuser', spec({ veto: [[/^(-k|--kill)$|^-[A-Za-z]*k/, 'fuser -k kills processes']] }));
add('ipcs', D);
add(
  'capsh',
  spec({
    check: (a) =>
      a.t.every((t) => /^--(print|decode=\w+|has-\w+=\w+|supports=\w+)$/.test(t))
        ? undefined
        : 'capsh runs a shell with changed capabilities',
  }),
);
add('kill', spec({ check: (a) => (hasOpt(a, /^(-l|-L|--list|--table)$/) ? undefined : 'kill sends a signal') }));
add(
  'crontab',
  spec({
    check: (a) =>
      hasOpt(a, /^-l$/) && !hasOpt(a, /^-(r|e|i)$/) ? undefined : 'crontab replaces or edits scheduled jobs',
  }),
);
add(
  'ln cp',
  spec({
    check: (a) =>
      hasOpt(a, /^(-f|--force|-b|--backup|--remove-destination|-u|--update)$|^-[A-Za-z]*f/)
        ? 'overwrites an existing file'
        : undefined,
  }),
);
add(
  'dd',
  spec({
    check: (a) =>
      a.t.every(
        (t) =>
          /^(if|bs|ibs|obs|count|skip|iflag|status|of|conv|seek|oflag)=/.test(t) || t === '--version' || t === '--help',
      ) && !a.t.some((t) => /^conv=.*notrunc|^seek=/.test(t))
        ? undefined
        : 'dd copies raw data over an existing target',
  }),
);
add(
  'debconf-communicate',
  spec({
    check: (a, v) =>
      v.sc.stdin && !v.sc.stdin.dynamic && /^\s*get\s/.test(v.sc.stdin.text)
        ? undefined
        : 'debconf-communicate changes the configuration database',
  }),
);
add('screen', spec({ check: (a) => (hasOpt(a, /^(-ls|-list)$/) ? undefined : 'screen starts a session') }));
add('skopeo', spec({ subs: subsOf(' inspect list-tags --version help') }));
add('validlocale', D);
add(
  'nginx sshd apachectl apache2ctl',
  spec({
    check: (a) =>
      a.t.every((t) => /^(-t|-T|-V|-v|-q|-G|configtest|-S|-M|-DDUMP_\w+)$/.test(t)) && a.t.length > 0
        ? undefined
        : 'starts or signals the server',
  }),
);
add('ansible-doc ansible-inventory', D);
add(
  'ldconfig',
  spec({
    check: (a) =>
      hasOpt(a, /^(-p|--print-cache|-v|--verbose)$/) && !operands(a, undefined).length
        ? undefined
        : 'rebuilds the linker cache',
  }),
);
add(
  'run-parts',
  spec({ check: (a) => (hasOpt(a, /^(--test|--list)$/) ? undefined : 'runs every script in a directory') }),
);
add(
  'systemd-creds',
  spec({ check: (a) => (/^(list|has-tpm2)$/.test(operand(a) ?? '') ? undefined : 'decrypts or encrypts credentials') }),
);
add('env', spec({ check: () => 'prints the environment, which holds credentials' }));
/** Variables that hold no credential by design (the credential-name heuristic lives with the secret rules). */
const PLAIN_ENV_NAMES =
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TERM|PWD|OLDPWD|HOSTNAME|TZ|EDITOR|VISUAL|PAGER|TMPDIR|XDG_[A-Z_]+_(DIR|HOME)|XDG_RUNTIME_DIR|SHLVL|MAIL|DISPLAY|COLUMNS|LINES|HOSTTYPE|OSTYPE|MACHTYPE)$/;
add(
  'printenv',
  spec({
    check: (a) =>
      a.t.length > 0 && a.t.every((t) => PLAIN_ENV_NAMES.test(t))
        ? undefined
        : 'prints environment values, which hold credentials',
  }),
);
add(
  'sudo doas',
  spec({
    check: (a) =>
      a.t.length > 0 &&
      a.t.every((t) => /^-(l|ll|k|K|V|h|v)$|^--(list|version|help|reset-timestamp|remove-timestamp|validate)$/.test(t))
        ? undefined
        : 'sudo without a command opens a shell or changes its credentials cache',
  }),
);
add('read', spec({ dynOk: true, reads: 'none' }));
add(
  'integritysetup veritysetup cryptsetup',
  spec({
    check: (a) => (/^(status|dump|isLuks|verify)$/.test(operand(a) ?? '') ? undefined : 'changes encrypted volumes'),
  }),
);
add(
  'xfs_quota',
  spec({
    check: (a) =>
      a.t.some((t) => /^(report|print|df|state|quota)\b/.test(t)) &&
      !a.t.some((t) => /^(limit|timer|warn|enable|disable|off|remove|project -s)\b/.test(t))
        ? undefined
        : 'changes quotas',
  }),
);
add('debconf-copydb', spec({ check: () => 'copies a configuration database' }));
add(
  'gdbus',
  spec({ check: (a) => (/^(introspect|monitor)$/.test(operand(a) ?? '') ? undefined : 'gdbus calls a method') }),
);

/** grep/rg/ag: the pattern (first operand, unless -e/-f gives it) is text, not a file; `-f FILE` is read. */
function grepReads(a: Args): readonly Word[] {
  const out: Word[] = [];
  let patternGiven = false;
  for (let i = 0; i < a.t.length; i++)
    if (i < a.end && /^(-e|--regexp|-f|--file)(=|$)|^-[A-Za-z]*[ef]$/.test(a.t[i]!)) patternGiven = true;
  let first = true;
  for (let i = 0; i < a.words.length; i++) {
    const w = a.words[i]!;
    const t = w.text;
    if (i < a.end && isOpt(t)) {
      if (/^(-e|--regexp)$/.test(t))
        i++; // the pattern itself
      else if (/^(-f|--file)$/.test(t)) {
        pushWord(out, a.words[i + 1]);
        i++;
      } else if (
        /^(-A|-B|-C|-m|--max-count|--include|--exclude|--exclude-dir|-g|--glob|-t|--type|-T|--type-not|--color|--colour|--label)$/.test(
          t,
        )
      )
        i++;
      else if (/^--file=/.test(t)) out.push({ ...w, text: t.slice(7), prefix: w.prefix.slice(7) });
      continue;
    }
    if (i === a.end) continue;
    if (first && !patternGiven) {
      first = false;
      continue;
    }
    out.push(w);
  }
  return out;
}

/** jq/yq: the filter is text; files after it are read (`--rawfile NAME FILE`, `--slurpfile` too). */
function jqReads(a: Args): readonly Word[] {
  const out: Word[] = [];
  let filter = false;
  for (let i = 0; i < a.words.length; i++) {
    const w = a.words[i]!;
    const t = w.text;
    if (isOpt(t)) {
      if (/^--(arg|argjson)$/.test(t)) i += 2;
      else if (/^--(rawfile|slurpfile)$/.test(t)) {
        pushWord(out, a.words[i + 2]);
        i += 2;
      } else if (/^(-f|--from-file)$/.test(t)) {
        filter = true;
        pushWord(out, a.words[i + 1]);
        i++;
      } else if (/^(--indent|--tab-no|-L)$/.test(t)) i++;
      continue;
    }
    if (!filter) {
      filter = true;
      continue;
    }
    out.push(w);
  }
  return out;
}

/** awk: the program text is not a file (`-f FILE` is, and the awk rule approves it). */
function awkReads(a: Args): readonly Word[] {
  const out: Word[] = [];
  let program = a.t.some((t) => /^(-f|--file)(=|$)/.test(t));
  for (let i = 0; i < a.words.length; i++) {
    const w = a.words[i]!;
    const t = w.text;
    if (isOpt(t)) {
      if (/^(-F|-v|-f|--file|--assign|--field-separator)$/.test(t)) i++;
      continue;
    }
    if (!program) {
      program = true;
      continue;
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) continue;
    out.push(w);
  }
  return out;
}

/** sed: the script (first operand, unless -e/-f gives it) is not a file. */
function sedReads(a: Args): readonly Word[] {
  const out: Word[] = [];
  let script = a.t.some((t) => /^(-e|--expression|-f|--file)(=|$)/.test(t));
  for (let i = 0; i < a.words.length; i++) {
    const w = a.words[i]!;
    const t = w.text;
    if (isOpt(t)) {
      if (/^(-e|--expression|-f|--file|-l|--line-length)$/.test(t)) i++;
      continue;
    }
    if (!script) {
      script = true;
      continue;
    }
    out.push(w);
  }
  return out;
}

/** curl reads local files only through `@file` data, `-T`, `--cacert` and friends; URLs are not files. */
function curlReads(a: Args): readonly Word[] {
  const out: Word[] = [];
  for (let i = 0; i < a.words.length; i++) {
    const w = a.words[i]!;
    const t = w.text;
    if (
      /^(-T|--upload-file|-K|--config|--cacert|--cert|-E|--key|--netrc-file|--data-binary|--data|-d|-F|--form|--json)$/.test(
        t,
      )
    ) {
      pushWord(out, a.words[i + 1]);
      i++;
      continue;
    }
    if (t.startsWith('@') || /^[A-Za-z_-]*=@/.test(t) || /^file:/i.test(t)) out.push(w);
  }
  return out;
}

/** `declare -p`, `export` alone, `readonly -p`: print variables. Any NAME or NAME=value operand sets instead. */
function declarationCheck(a: Args): string | undefined {
  const names = a.t.filter((t) => !isOpt(t));
  if (names.length) return subscriptCheck(a);
  if (a.t.some((t) => /^-[A-Za-z]*[fF]/.test(t))) return undefined; // function names and bodies
  return 'prints every variable, credentials included';
}

/** A subscript holding a substitution (`let 'a[$(cmd)]=1'`, `test -v 'a[`cmd`]'`, `printf -v 'a[$(cmd)]'`) runs it. */
function subscriptCheck(a: Args): string | undefined {
  for (const t of a.t)
    if (/\[[^\]]*(\$\(|`)/.test(t) || (/\$\(\(|\$\[/.test(t) && /\$\(|`/.test(t.replace(/\$\(\(/g, ''))))
      return 'an array subscript or arithmetic in an argument runs a command substitution';
  return undefined;
}

/** The values of options matching `re` (`-i FILE`, `--identity=FILE`). */
function valuesOf(a: Args, re: RegExp): readonly Word[] {
  const out: Word[] = [];
  for (let i = 0; i < a.end; i++) {
    const w = a.words[i]!;
    const t = w.text;
    const next = a.words[i + 1];
    if (re.test(t) && next) {
      out.push(next);
      i++;
    } else {
      const eq = t.indexOf('=');
      if (eq > 0 && re.test(t.slice(0, eq))) out.push({ ...w, text: t.slice(eq + 1), prefix: w.prefix.slice(eq + 1) });
    }
  }
  return out;
}

/** The n-th operand (0-based), skipping the values of the options named in `valued`. */
function nthOperand(a: Args, n: number, valued: ReadonlySet<string> | undefined): readonly Word[] {
  const i = operands(a, valued)[n];
  return i === undefined ? NO_WORDS : [a.words[i]!]; // an operand's index is one of words'
}

/** tar writes the archive named by -f (or `--file`) when it creates one. */
function tarWrites(a: Args): readonly Word[] {
  const first = a.t[0] ?? '';
  const oldStyle = !first.startsWith('-') && /^[A-Za-z]+$/.test(first);
  const modes = oldStyle ? first : a.t.filter((t) => /^-[A-Za-z]+$/.test(t)).join('');
  if (!/c/.test(modes) && !hasOpt(a, /^--create$/)) return NO_WORDS;
  const long = valuesOf(a, /^--file$/);
  if (long.length) return long;
  // `tar czf OUT …` (old style: f takes the first word after the modes), `-czf OUT`, `-f OUT`.
  if (oldStyle && first.includes('f')) return a.words[1] ? [a.words[1]] : NO_WORDS;
  for (let i = 0; i < a.end; i++) {
    const next = a.words[i + 1];
    if (/^-[A-Za-z]*f$/.test(a.t[i]!) && next) return [next];
  }
  return NO_WORDS;
}

/** openssl reads the files after -in, -inkey, -key, -CAkey, -signkey, -kfile …; -out files are written. */
function opensslReads(a: Args): readonly Word[] {
  return valuesOf(
    a,
    /^-(in|inkey|key|CAkey|signkey|kfile|certfile|CAfile|cert|verify|prverify|recip|signer|in2|data|keyfile|sigfile|signature)$/,
  );
}

function tarCheck(a: Args): string | undefined {
  if (
    hasOpt(
      a,
      /^--(to-command|checkpoint-action|use-compress-program|info-script|new-volume-script|rsh-command|extract|get|delete|append|update|catenate|concatenate|overwrite|unlink-first|recursive-unlink)(=|$)|^-(I|F)$/,
    )
  )
    return 'tar extracts, changes an archive or runs a command';
  const first = a.t[0] ?? '';
  const modes = first.startsWith('-') ? a.t.filter((t) => /^-[A-Za-z]+$/.test(t)).join('') : first;
  if (/[xrAuZ]/.test(modes.replace(/^-/, '').replace(/[^A-Za-z]/g, '')) && !/^-?[A-Za-z]*[ct]/.test(modes))
    return 'tar extracts or changes an archive';
  if (/x/.test(modes)) return 'tar extracts files';
  return undefined;
}

function compressCheck(a: Args): string | undefined {
  if (hasOpt(a, /^--train/)) return undefined; // builds a dictionary file
  // Listing, testing, and writing to stdout leave files alone; otherwise the input is replaced.
  if (
    hasOpt(a, /^(-l|--list|-t|--test|-c|--stdout|--to-stdout|-k|--keep)$/) ||
    hasShort(a, 'c') ||
    hasShort(a, 'l') ||
    hasShort(a, 't') ||
    hasShort(a, 'k')
  )
    return undefined;
  if (!operands(a, undefined).length) return undefined; // a filter: stdin to stdout
  return 'compresses or decompresses files in place (the original is removed)';
}

function opensslSubs(): Record<string, Spec> {
  const keyPrint: Spec = {
    reads: opensslReads,
    check: (a) =>
      hasOpt(a, /^-(pubout|noout|check|text_pub)$/) && !hasOpt(a, /^-text$/) ? undefined : 'prints a private key',
  };
  const s: Record<string, Spec> = {
    ...subsOf(
      ' version list ciphers verify crl crl2pkcs7 asn1parse rand prime errstr genrsa genpkey ecparam dhparam speed sess_id nseq md5 sha1 sha256 sha384 sha512 base64 passwd kdf mac info help',
    ),
    '': D,
    req: spec({ reads: opensslReads, veto: [[/^-(x509|CAkey)$/, 'self-signs a certificate']] }),
    x509: spec({ reads: opensslReads, veto: [[/^-(signkey|CAkey|key|set_serial)$/, 'signs a certificate']] }),
    dgst: spec({ reads: opensslReads, veto: [[/^-(sign|prverify)$/, 'signs with a private key']] }),
    cms: spec({ veto: [[/^-(decrypt|sign|resign)$/, 'decrypts or signs']] }),
    smime: spec({ veto: [[/^-(decrypt|sign|resign)$/, 'decrypts or signs']] }),
    pkcs7: R,
    enc: spec({ veto: [[/^-(d|decrypt)$/, 'decrypts data']] }),
    rsa: keyPrint,
    pkey: keyPrint,
    ec: keyPrint,
    dsa: keyPrint,
    s_client: spec({
      check: (_a, v) => {
        const c = v.sc;
        if (c.stdin && (c.stdin.dynamic || c.stdin.text.trim() !== '')) return 'sends its input to the server';
        const r = c.redirects.find((x) => (x.fd === null || x.fd === '0') && x.op.startsWith('<'));
        if (r && r.target?.text !== '/dev/null') return 'sends a file to the server';
        if (c.pipes.some((p) => p.stage > 0)) return 'sends piped data to the server';
        return undefined;
      },
    }),
  };
  for (const h of ['md5', 'sha1', 'sha256', 'sha384', 'sha512'])
    s[h] = spec({ veto: [[/^-(sign|prverify)$/, 'signs with a private key']] });
  return s;
}

function gpgCheck(a: Args): string | undefined {
  if (
    hasOpt(
      a,
      /^--(list-keys|list-public-keys|list-secret-keys|list-sigs|check-sigs|fingerprint|verify|version|help|list-packets|show-keys|export-ownertrust|list-config|print-md|card-status|locate-keys|search-keys|with-colons|with-fingerprint|armor|export|encrypt|recipient)$|^-(k|K|e|r|a|ea|ae)$/,
    ) &&
    !hasOpt(
      a,
      /^--(export-secret[\w-]*|decrypt|sign|clear-sign|clearsign|detach-sign|symmetric|import[\w-]*|delete[\w-]*|gen-key|quick-[\w-]+|full-gen-key|edit-key|recv-keys|send-keys|refresh-keys|update-trustdb|lsign-key|sign-key|passwd|gen-revoke)$|^-[A-Za-z]*[dsbc]/,
    )
  )
    return undefined;
  return 'gpg decrypts, signs, imports or changes keys';
}

function sshKeygenCheck(a: Args): string | undefined {
  if (hasOpt(a, /^-(R|p|c|H|s|U|A|k|u|Y|P|e|i|m|D|W|r|O)$/) && !hasOpt(a, /^-M$/))
    return 'ssh-keygen changes keys, signs certificates or edits known_hosts';
  if (a.t.some((t) => /^-[A-Za-z]*[RpcHsUAkuYPeimD]/.test(t) && !/^-(lv|lf|lvf|yf|lF)$/.test(t) && !/^-M$/.test(t)))
    return 'ssh-keygen changes keys or signs certificates';
  // Fresh key pairs, fingerprints (-l), public halves (-y), lookups (-F), moduli (-M).
  return undefined;
}

function redisCheck(a: Args): string | undefined {
  const ops = operands(
    a,
    set(
      '-h',
      '-p',
      '-a',
      '-s',
      '-n',
      '-u',
      '-r',
      '-i',
      '-d',
      '-c',
      '--user',
      '--pass',
      '--tls',
      '--sni',
      '--cacert',
      '--cert',
      '--key',
      '--pattern',
      '--count',
    ),
  );
  if (hasOpt(a, /^(-a|--pass|--askpass|--eval|--pipe|--rdb|--functions-rdb|-x)$/))
    return 'redis-cli runs scripts, reads a password or dumps the database';
  if (hasOpt(a, /^(--scan|--bigkeys|--memkeys|--hotkeys|--stat|--latency\S*|--version|--help)$/) && !ops.length)
    return undefined;
  const cmd = (textAt(a, ops[0]) ?? '').toUpperCase();
  if (!cmd) return 'opens an interactive session';
  if (
    /^(GET|MGET|EXISTS|TYPE|TTL|PTTL|STRLEN|GETRANGE|HGET|HMGET|HGETALL|HKEYS|HVALS|HLEN|HEXISTS|LRANGE|LLEN|LINDEX|SMEMBERS|SCARD|SISMEMBER|ZRANGE|ZREVRANGE|ZRANGEBYSCORE|ZCARD|ZSCORE|ZRANK|KEYS|SCAN|HSCAN|SSCAN|ZSCAN|DBSIZE|INFO|PING|ECHO|TIME|LASTSAVE|ROLE|MEMORY|SLOWLOG|LATENCY|CLIENT|XLEN|XRANGE|XINFO|PUBSUB|COMMAND|OBJECT|RANDOMKEY)$/.test(
      cmd,
    )
  ) {
    if (
      (cmd === 'CLIENT' || cmd === 'SLOWLOG' || cmd === 'LATENCY' || cmd === 'MEMORY') &&
      !/^(LIST|INFO|GET|LEN|USAGE|STATS|DOCTOR|LATEST|HISTORY|GETNAME|ID)$/i.test(textAt(a, ops[1]) ?? '')
    )
      return `redis-cli ${cmd} ${textAt(a, ops[1]) ?? ''} changes the server`;
    return undefined;
  }
  return `redis-cli ${cmd} changes data or configuration`;
}

/** Options of `gh … list/view` that take the next word as their value (not the operand). */
const GH_LIST_OPTS = [
  '-R',
  '--repo',
  '-L',
  '--limit',
  '-s',
  '--state',
  '-A',
  '--author',
  '-a',
  '--assignee',
  '-l',
  '--label',
  '-S',
  '--search',
  '-m',
  '--milestone',
  '-q',
  '--jq',
  '-t',
  '--template',
] as const;

function ghSubs(): Record<string, Spec> {
  const listView = (what: string, ok: RegExp): Spec => ({
    check: (a) =>
      ok.test(operand(a, 0, set(...GH_LIST_OPTS, '-B', '--base', '-H', '--head', '-b', '--branch')) ?? '')
        ? undefined
        : `gh ${what} ${operand(a) ?? ''} changes GitHub`,
  });
  return {
    '': D,
    help: D,
    version: D,
    status: R,
    browse: R,
    search: R,
    issue: spec({
      check: (a) =>
        /^(list|view|status)$/.test(operand(a, 0, set(...GH_LIST_OPTS, '--issue-repo')) ?? '') ||
        (a.t.includes('develop') && hasOpt(a, /^(-l|--list)$/))
          ? undefined
          : 'gh issue changes GitHub',
    }),
    pr: listView('pr', /^(list|view|status|checks|diff)$/),
    repo: listView('repo', /^(list|view|clone)$/),
    run: listView('run', /^(list|view|watch|download)$/),
    workflow: listView('workflow', /^(list|view)$/),
    release: listView('release', /^(list|view|download)$/),
    gist: listView('gist', /^(list|view)$/),
    label: listView('label', /^list$/),
    cache: listView('cache', /^list$/),
    codespace: listView('codespace', /^(list|view|logs)$/),
    ext: listView('ext', /^(list|search|browse)$/),
    extension: listView('extension', /^(list|search|browse)$/),
    project: listView('project', /^(list|view|field-list|item-list)$/),
    secret: listView('secret', /^list$/),
    variable: listView('variable', /^(list|get)$/),
    ruleset: listView('ruleset', /^(list|view|check)$/),
    org: listView('org', /^list$/),
    alias: listView('alias', /^list$/),
    config: listView('config', /^(get|list)$/),
    auth: spec({
      check: (a) =>
        operand(a) === 'status' && !hasOpt(a, /^(-t|--show-token)$/)
          ? undefined
          : 'gh auth prints or changes credentials',
    }),
    api: spec({
      check: (a) => {
        for (let i = 0; i < a.end; i++) {
          const t = a.t[i]!;
          if (/^(-X|--method)$/.test(t) && !/^(GET|HEAD)$/i.test(a.t[i + 1] ?? '')) return 'gh api with a write method';
          if (/^(-X|--method=)(?!GET$|HEAD$)/i.test(t) && t.length > 2 && !/^(-X|--method)$/.test(t))
            return 'gh api with a write method';
          if (
            /^(-f|-F|--field|--raw-field|--input)(=|$)/.test(t) &&
            !a.t.some((x, k) => /^(-X|--method)$/.test(x) && /^GET$/i.test(a.t[k + 1] ?? ''))
          )
            return 'gh api with fields sends a POST';
        }
        return undefined;
      },
    }),
  };
}

/* ------------------------------ judgment ------------------------------ */

/** A program found through a path outside the system directories is not the program the table knows (`./cat`). */
const TRUSTED_DIR = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;

function argsOf(words: readonly Word[]): Args {
  const t = words.map((w) => w.text);
  const dd = t.indexOf('--');
  return { words, t, end: dd < 0 ? t.length : dd };
}

/** The table entry for a program as invoked (none for `./cat` or an unknown name). */
function entryFor(v: View): Spec | undefined {
  if (v.path.includes('/') && !TRUSTED_DIR.test(v.path)) return undefined;
  return TABLE.get(v.prog);
}

/** Whether the table knows the program at all (for `--help` forms of programs with built-in rules too). */
export function isKnownProgram(prog: string): boolean {
  return TABLE.has(prog);
}

/** Expansions whose value is always a number (`$$`, `$?`, `${#x}`, `$PPID` …): they cannot spell a flag or a path. */
const NUMERIC =
  /\$(?:\$|\?|!|#|\{#[A-Za-z_]\w*\}|\{#\}|\{(?:PPID|BASHPID|UID|EUID|RANDOM|SECONDS|LINENO)\}|(?:PPID|BASHPID|UID|EUID|RANDOM|SECONDS|LINENO)(?![A-Za-z0-9_]))/g;

/**
 * A word whose only run-time parts are numbers, with each replaced by a digit (`/proc/$$/environ`
 * is `/proc/1/environ` to path rules), or undefined for any other dynamic word.
 */
export function numericWord(w: Word): Word | undefined {
  if (!w.dynamic || w.glob || w.fields) return undefined;
  NUMERIC.lastIndex = 0;
  if (!NUMERIC.test(w.raw)) return undefined;
  const rest = w.raw.replace(NUMERIC, '');
  if (rest.includes('$') || rest.includes('`')) return undefined;
  const text = w.text.replace(NUMERIC, '1');
  return { ...w, text, dynamic: false, prefix: text };
}

function judgeSpec(s: Spec, a: Args, v: View, name: string): Judgment {
  for (const w of a.words) {
    if (!w.dynamic || w.fields) continue;
    // `<(cmd)` / `>(cmd)` name a pipe to or from a command judged on its own.
    if (/^[<>]\((?:[^()]|\([^()]*\))*\)$/.test(w.raw)) continue;
    // `${!name}` reads a variable named at run time: whatever it prints may be a credential.
    if (w.raw.includes('${!'))
      return dynamicJ(`${name}: an indirect expansion (${w.raw}) reads a variable named only at run time`);
    if (!s.dynOk && !numericWord(w)) return dynamicJ(`${name}: an argument (${w.raw}) is only known at run time`);
  }
  if (s.veto)
    for (let i = 0; i < a.end; i++) {
      const t = a.t[i]!;
      if (!isOpt(t)) continue;
      for (const [re, why] of s.veto) if (re.test(t)) return not(`${name}: ${why}`);
    }
  if (s.maxPos !== undefined && operands(a, undefined).length > s.maxPos)
    return not(`${name} with ${s.maxPos === 0 ? 'an operand changes something' : 'an output file writes it'}`);
  if (s.subs) {
    let i = 0;
    for (; i < a.end; i++) {
      const t = a.t[i]!;
      if (!isOpt(t)) break;
      if (s.gopts?.includes(t)) i++;
    }
    const sub = i < a.end ? a.t[i]! : i < a.t.length ? (a.t[i + 1] ?? '') : '';
    const subWord = a.words[i];
    if (subWord?.dynamic && !subWord.fields)
      return dynamicJ(`${name}: the subcommand (${subWord.raw}) is only known at run time`);
    const ss = s.subs[sub];
    if (!ss) return not(`${name} ${sub} is not known to be read-only`);
    const rest = argsOf([...a.words.slice(0, i), ...a.words.slice(i + 1)]);
    const r = judgeSpec(ss, rest, v, `${name} ${sub}`);
    if (!r.harmless) return r;
  }
  if (s.check) {
    const why = s.check(a, v);
    if (why !== undefined) return not(why.startsWith(name) ? why : `${name}: ${why}`);
  }
  return HARMLESS;
}

/**
 * The table's judgment of one argv (wrappers excluded: the analyzer judges what they run). A
 * program the table does not list, or lists with other subcommands or options, is not harmless.
 */
export function judgeKnown(v: View): Judgment {
  const s = entryFor(v);
  if (!s) return not(`${v.prog} is not a program the guard knows to be read-only`);
  return judgeSpec(s, argsOf(v.args), v, v.prog);
}

/** `--help` anywhere (for a program that runs nothing named in its arguments), or `--version` / `-h` alone. */
export function helpForm(v: View, knownElsewhere: boolean): string | undefined {
  const s = entryFor(v);
  if (!s && !(knownElsewhere && !v.path.includes('/'))) return undefined;
  // `--help` in a wrapper's arguments may be its command's (`sudo CMD --help` runs CMD): the
  // analyzer judges what the wrapper runs instead.
  if (wrapperInfo(v.prog)) return undefined;
  const a = v.args;
  const only = a.length === 1 ? a[0] : undefined;
  if (only && !only.dynamic) {
    const t = only.text;
    if (t === '--version' || t === '--help' || (t === '-h' && !s?.hAction && !H_ACTS.has(v.prog)))
      return `${v.prog} ${t} only prints text`;
  }
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    if (w.dynamic) return undefined;
    if (w.text === '--') return undefined;
    if (w.text === '--help') return `${v.prog} --help only prints usage`;
    // For runners, an operand may be a program that receives the rest (`npx tool --help`).
    if ((s?.runner || RUNNERS.has(v.prog)) && !isOpt(w.text) && i > 0) return undefined;
  }
  return undefined;
}

/** Programs for which `-h` alone acts (shutdown -h halts). */
const H_ACTS: ReadonlySet<string> = new Set([
  'shutdown',
  'halt',
  'poweroff',
  'reboot',
  'init',
  'telinit',
  'kill',
  'pkill',
  'killall',
]);
/** Programs that hand their later arguments to a program they run or download (beyond the wrappers). */
const RUNNERS: ReadonlySet<string> = new Set([
  'npx',
  'npm',
  'pnpm',
  'yarn',
  'bunx',
  'bun',
  'deno',
  'cargo',
  'go',
  'uv',
  'uvx',
  'pipx',
  'poetry',
  'bundle',
  'gradle',
  'mvn',
  'make',
  'gmake',
  'just',
  'task',
  'docker',
  'podman',
  'nerdctl',
  'kubectl',
  'oc',
  'gh',
  'git',
  'dotnet',
  'java',
  'mise',
  'asdf',
]);

/** A dry run of a program whose table entry names the option: it changes nothing. */
export function dryRunForm(v: View): string | undefined {
  const s = entryFor(v);
  if (!s) return undefined;
  const a = argsOf(v.args);
  if (a.words.some((w) => w.dynamic && !w.fields)) return undefined;
  const sub = s.subs ? subSpec(s, a) : undefined;
  if (sub?.dryAlways) return `${v.prog} ${sub === undefined ? '' : 'subcommand'} changes nothing`;
  const dry = s.dry ?? sub?.dry;
  if (!dry) return undefined;
  for (let i = 0; i < a.end; i++) {
    const t = a.t[i]!;
    if (dry.test(t)) return `${v.prog} ${t} is a dry run`;
    // Short flags grouped (`rsync -avn`, `git push -fn`).
    if (/^-[A-Za-z]+$/.test(t) && dry.test('-n') && t.length > 2 && t.includes('n') && !/^-(ne|nE|na)$/.test(t))
      return `${v.prog} ${t} is a dry run`;
  }
  if (v.prog === 'rsync' && hasShort(a, 'n')) return 'rsync -n is a dry run';
  return undefined;
}

/** The table entry of the subcommand a CLI runs (its dry-run option: `git push -n`, not `git log -n 5`). */
function subSpec(s: Spec, a: Args): Spec | undefined {
  let i = 0;
  for (; i < a.end; i++) {
    const t = a.t[i]!;
    if (!isOpt(t)) break;
    if (s.gopts?.includes(t)) i++;
  }
  return s.subs?.[i < a.end ? a.t[i]! : ''];
}

// rsync's dry run (rsync itself is judged by its built-in rule and the unknown verdict).
add('rsync', spec({ dry: /^(-n|--dry-run)$/, check: () => 'rsync copies files, possibly to or from another host' }));
add('certbot', spec({ dry: /^--dry-run$/, check: () => 'certbot changes certificates' }));

/** The files a known program writes (`sort -o F`, `curl -o F`, `tar czf F …`), for the write path rules. */
export function writeArguments(v: View): readonly Word[] {
  const s = entryFor(v);
  if (!s) return NO_WORDS;
  const a = argsOf(v.args);
  const out: Word[] = [];
  if (s.writes) out.push(...s.writes(a));
  const sub = s.subs ? subSpec(s, a) : undefined;
  if (sub?.writes) out.push(...sub.writes(a));
  return out;
}

/**
 * The arguments a program reads as files, for path rules (`grep -rn '/etc/passwd' notes/` reads
 * notes/, not /etc/passwd). Undefined: every argument may be one (programs the table does not know).
 */
export function readArguments(v: View): readonly Word[] | undefined {
  const s = entryFor(v);
  if (!s || s.reads === undefined) return undefined;
  if (s.reads === 'none') return NO_WORDS;
  return s.reads(argsOf(v.args));
}
const NO_WORDS: readonly Word[] = [];

/** Every program the table lists (for tests and `guard` tooling). */
export function knownProgramNames(): readonly string[] {
  return [...TABLE.keys()].sort();
}
