import { parseOpts, subcommand, texts, type View } from './argv.js';
import { credentialNameKind, type CredentialKind, type CredentialNameConfig } from './credential-names.js';
import type { SimpleCommand } from './extract.js';
import { compileGlobs, globToRegExp } from './glob.js';
import { classifyRead, normalizePath } from './paths.js';
import type { RuleEnv } from './rules-fs.js';
import { finding, hardDeny, type Finding } from './types.js';
import type { Word } from './words.js';

/**
 * Secret disclosure (issue 14 item 1): printing environment values or the whole environment,
 * CLIs that print or mint credentials, credential files found by search or read through paths the
 * path rules do not list, and credential directories archived or copied. Deny, except where a
 * person can judge better (a value that may or may not be a credential, a decryption into a file,
 * a container's environment): approve.
 *
 * These denies are not `final`: a policy rule for the program may lower them (`commands.rules`),
 * and `secrets.credential_names` decides which names count (src/guard/credential-names.ts).
 * Reading a credential FILE stays the path rules' final deny (src/guard/paths.ts).
 */

const deny = (rule: string, reason: string, v: View): Finding => finding('deny', rule, reason, v.text);
const ap = (rule: string, reason: string, v: View): Finding => finding('approve', rule, reason, v.text);

/* ---------------- environment values ---------------- */

/** Credential-looking variables a word expands (`$TOKEN`, `${TOKEN:0:4}`; not `${#TOKEN}`, its length), and `${!name}` indirection. */
export function credentialVars(
  w: Word,
  cfg?: CredentialNameConfig,
): { secret: string[]; maybe: string[]; indirect: boolean } {
  const out = { secret: [] as string[], maybe: [] as string[], indirect: false };
  if (!w.vars.length) return out;
  const raw = w.raw.replace(/\$\{#[A-Za-z_][A-Za-z0-9_]*\}/g, '');
  // `${!name}` and `${!name[i]}` read the variable NAMED by name; `${!prefix*}` and `${!a[@]}` list names.
  if (
    /\$\{![A-Za-z_][A-Za-z0-9_]*(\[[^\]@*]*\])?([:#%/^,@}]|\})/.test(raw) &&
    !/\$\{![A-Za-z_][A-Za-z0-9_]*(\*|\[[@*]\])\}/.test(raw)
  )
    out.indirect = true;
  for (const name of w.vars) {
    if (!raw.includes('$' + name) && !raw.includes('${' + name)) continue;
    const k = credentialNameKind(name, cfg);
    if (k === 'secret') out.secret.push(name);
    else if (k === 'maybe') out.maybe.push(name);
  }
  return out;
}

/** Where a command's standard output goes: the agent (the terminal, stderr, a substitution), a pipe, or a file. */
export function stdoutDest(c: SimpleCommand): 'agent' | 'pipe' | 'file' {
  for (const r of c.redirects) {
    if (!r.op.includes('>') || !(r.fd === null || r.fd === '1' || r.op.startsWith('&'))) continue;
    const t = r.target?.text ?? '';
    if (/^(\d+|-)$/.test(t) || /^\/dev\/(stdout|stderr|tty|fd\/[12])$|^\/proc\/self\/fd\/[12]$/.test(t)) continue;
    return 'file';
  }
  for (const p of c.pipes) if (p.stage === 0) return 'pipe';
  return c.pipes.length ? 'pipe' : 'agent';
}

function varFindings(v: View, words: readonly Word[], cfg: CredentialNameConfig | undefined, what: string): Finding[] {
  const secret: string[] = [];
  const maybe: string[] = [];
  let indirect = false;
  for (const w of words) {
    const c = credentialVars(w, cfg);
    secret.push(...c.secret);
    maybe.push(...c.maybe);
    if (c.indirect) indirect = true;
  }
  if (!secret.length && !maybe.length && !indirect) return [];
  const dest = stdoutDest(v.sc);
  const out: Finding[] = [];
  if (secret.length) {
    if (dest === 'agent') out.push(deny('secrets.env-print', `${what} prints the credential in $${secret[0]}`, v));
    else
      out.push(
        ap(
          'secrets.env-pass',
          `${what} passes the credential in $${secret[0]} to ${dest === 'file' ? 'a file' : 'another program'}`,
          v,
        ),
      );
  }
  if (maybe.length) out.push(ap('secrets.env-print', `${what} prints $${maybe[0]}, which may hold a credential`, v));
  if (indirect)
    out.push(
      ap('secrets.env-print', `${what} prints a variable chosen at run time (\${!name}), which may be a credential`, v),
    );
  return out;
}

/** echo/printf/print of `$TOKEN` (the value reaches whoever reads the output). */
export function printVarsRule(v: View, env: RuleEnv): Finding[] {
  let any = false;
  for (const w of v.args)
    if (w.vars.length) {
      any = true;
      break;
    }
  const out = any ? varFindings(v, v.args, env.credentialNames, v.prog) : [];
  // `cat <<< "$TOKEN"`, `cat <<EOF … $TOKEN … EOF`: the here-document's expansions print too.
  const s = v.sc.stdin;
  if (s?.dynamic && (v.prog === 'cat' || v.prog === 'tee')) {
    const secret = [...s.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)]
      .map((m) => m[1]!)
      .filter((n) => credentialNameKind(n, env.credentialNames) === 'secret');
    if (secret.length)
      out.push(
        stdoutDest(v.sc) === 'agent'
          ? deny('secrets.env-print', `${v.prog} prints the credential in $${secret[0]}`, v)
          : ap('secrets.env-pass', `${v.prog} passes the credential in $${secret[0]} on`, v),
      );
  }
  return out;
}

/** Options whose value authenticates the client (`-u user:$PASS`, `-H 'Authorization: Bearer $TOKEN'`). */
const AUTH_OPTION =
  /^(-u|--user|-U|--proxy-user|--oauth2-bearer|--password|--http-password|--http-user|-a|--auth|--pass|--tlspassword)$/;
const AUTH_HEADER =
  /^\s*(authorization|proxy-authorization|x-[\w-]*(token|key|auth)[\w-]*|[\w-]*api[_-]?key|private-token|x-vault-token)\s*:/i;

/**
 * Network clients with `$TOKEN` in their arguments send it off the host (item 2). As
 * authentication (`-u`, an Authorization header) it may be where the credential belongs, so a
 * person confirms the host (approve); anywhere else (data, URL, another header) it is deny.
 */
export function netVarsRule(v: View, env: RuleEnv): Finding[] {
  const out: Finding[] = [];
  const a = v.args;
  for (const [i, w] of a.entries()) {
    if (!w.vars.length) continue;
    const c = credentialVars(w, env.credentialNames);
    if (!c.secret.length && !c.maybe.length && !c.indirect) continue;
    const prev = a[i - 1]?.text ?? '';
    const eq = w.text.indexOf('=');
    const auth =
      AUTH_OPTION.test(prev) ||
      (w.text.startsWith('--') && eq > 0 && AUTH_OPTION.test(w.text.slice(0, eq))) ||
      ((prev === '-H' || prev === '--header' || /^--header=/.test(w.text)) &&
        AUTH_HEADER.test(w.text.replace(/^--header=/, '')));
    if (c.secret.length && !auth) {
      out.push(deny('secrets.exfil-env', `${v.prog} sends the credential in $${c.secret[0]} to another host`, v));
      break;
    }
    if (c.secret.length)
      out.push(
        ap(
          'secrets.env-auth',
          `${v.prog} authenticates with the credential in $${c.secret[0]}: a person should confirm the host is where it belongs`,
          v,
        ),
      );
    else
      out.push(
        ap(
          'secrets.exfil-env',
          `${v.prog} sends ${c.indirect ? 'a variable chosen at run time' : `$${c.maybe[0]}`}, which may hold a credential, to another host`,
          v,
        ),
      );
  }
  return out;
}

/** printenv [NAME…]: all of it, or the named credentials. */
export function printenvRule(v: View, env: RuleEnv): Finding[] {
  const names = v.args.filter((w) => !w.text.startsWith('-'));
  if (v.args.some((w) => w.text === '--help' || w.text === '--version')) return [];
  if (!names.length)
    return [deny('secrets.env-dump', 'printenv prints every environment variable, credentials included', v)];
  return nameFindings(v, names, env.credentialNames, 'printenv');
}

function nameFindings(v: View, names: readonly Word[], cfg: CredentialNameConfig | undefined, what: string): Finding[] {
  for (const n of names) {
    if (n.dynamic)
      return [ap('secrets.env-print', `${what} prints a variable named at run time, which may be a credential`, v)];
    const k = credentialNameKind(n.text, cfg);
    if (k === 'secret') return [deny('secrets.env-print', `${what} prints the credential ${n.text}`, v)];
    if (k === 'maybe') return [ap('secrets.env-print', `${what} prints ${n.text}, which may hold a credential`, v)];
  }
  return [];
}

/** `env` with no command prints the environment (after its own assignments and unsets). */
export function envRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'uCS', ['unset', 'chdir', 'split-string'], true);
  if (o.long.has('help') || o.long.has('version') || o.values.has('S') || o.long.has('split-string')) return [];
  if (o.short.has('i') || o.long.has('ignore-environment') || v.args.some((w) => w.text === '-')) return [];
  const rest = o.posIdx.length ? v.args.slice(o.posIdx[0]) : [];
  if (rest.some((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.text))) return [];
  return [deny('secrets.env-dump', 'env prints every environment variable, credentials included', v)];
}

/** `set` alone prints every shell variable (and function). */
export function setRule(v: View): Finding[] {
  return v.args.length === 0
    ? [deny('secrets.env-dump', 'set prints every shell variable, credentials included', v)]
    : [];
}

/** BSD-style `ps e` (`ps auxe`, `ps eww`) prints every process's environment. */
export function psRule(v: View): Finding[] {
  for (const w of v.args)
    if (
      !w.text.startsWith('-') &&
      /^[a-zA-Z]+$/.test(w.text) &&
      w.text.includes('e') &&
      /^[auxewfjlrtvcTSUhHgnmsLMZ]+$/.test(w.text)
    )
      return [deny('secrets.env-dump', 'ps e prints the environment of processes, credentials included', v)];
  return [];
}

/**
 * Declarations that print (`declare -p`, `declare -x`, `export -p`, bare `export`/`declare`/
 * `typeset`): the analyzer's declaration path asks for these (it runs no argv rules there).
 */
export function declarationFindings(c: SimpleCommand, env: Pick<RuleEnv, 'credentialNames'> = {}): Finding[] {
  const argv = c.argv;
  const prog = argv[0]?.text ?? '';
  if (!/^(declare|typeset|export|readonly|local)$/.test(prog)) return [];
  const v: View = { prog, path: prog, args: argv.slice(1), sc: c, depth: 0, text: c.text };
  const flags = argv
    .slice(1)
    .filter((w) => /^[-+][A-Za-z]+$/.test(w.text))
    .map((w) => w.text)
    .join('');
  const names = argv.slice(1).filter((w) => !/^[-+][A-Za-z]+$/.test(w.text) && !w.text.includes('='));
  if (c.assigns.length) return [];
  if (flags.includes('f') || flags.includes('F')) return [];
  if (!names.length) {
    // Bare declare/typeset/export/readonly, or with -p/-x: a listing of variables and their values.
    if (prog === 'local' || (prog === 'readonly' && !flags.includes('p'))) return [];
    if (flags === '' || /^-[pxrgaAilntu]*[px][pxrgaAilntu]*$/.test(flags.replace(/\+/g, '-')) || /p|x/.test(flags))
      return [
        deny(
          'secrets.env-dump',
          `${prog}${flags ? ' ' + flags : ''} prints variables and their values, credentials included`,
          v,
        ),
      ];
    return [];
  }
  if (flags.includes('p')) return nameFindings(v, names, env.credentialNames, `${prog} -p`);
  return [];
}

/* ---------------- code that prints the environment ---------------- */

/**
 * Inline interpreter code (or an awk/jq program) that prints the whole environment or a credential
 * from it: `print(os.environ)`, `console.log(process.env)`, `%ENV`, `ENV.to_h`, `getenv()`,
 * `ENVIRON`, jq's `env`/`$ENV`. Returns the reason, or undefined.
 */
export function codeEnvDisclosure(code: string, lang: string, cfg?: CredentialNameConfig): string | undefined {
  const named = (re: RegExp): string | undefined => {
    for (const m of code.matchAll(re)) {
      const n = m[1] ?? m[2];
      if (n && credentialNameKind(n, cfg) === 'secret') return n;
    }
    return undefined;
  };
  let whole = false;
  let name: string | undefined;
  if (/python|pypy/.test(lang)) {
    whole = /\bos\.environ\b(?!\s*(\[|\.get\s*\(|\.setdefault|\.pop|\.__getitem__))|\bos\.getenv\s*\(\s*\)/.test(code);
    name = named(
      /os\.environ\s*(?:\[\s*|\.get\s*\(\s*)['"]([A-Za-z_][A-Za-z0-9_]*)['"]|os\.getenv\s*\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]/g,
    );
  } else if (/node|deno|bun/.test(lang)) {
    whole = /\bprocess\.env\b(?!\s*(\.|\[))|\bDeno\.env\.toObject\s*\(/.test(code);
    name = named(
      /process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"`]([A-Za-z_][A-Za-z0-9_]*)['"`]\s*\])|Deno\.env\.get\s*\(\s*['"]([A-Za-z_]\w*)['"]/g,
    );
  } else if (/perl/.test(lang)) {
    whole = /%ENV\b/.test(code);
    name = named(/\$ENV\s*\{\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?\s*\}/g);
  } else if (/ruby|irb/.test(lang)) {
    whole = /\bENV\b(?!\s*(\[|\.fetch|\.key\?|\.include\?|\.has_key\?))/.test(code);
    name = named(/ENV(?:\[\s*|\.fetch\s*\(\s*)['"]([A-Za-z_][A-Za-z0-9_]*)['"]/g);
  } else if (/php/.test(lang)) {
    whole = /\bgetenv\s*\(\s*\)|\$_ENV\b(?!\s*\[)|\$_SERVER\b(?!\s*\[)/.test(code);
    name = named(/getenv\s*\(\s*['"]([A-Za-z_]\w*)['"]|\$_(?:ENV|SERVER)\s*\[\s*['"]([A-Za-z_]\w*)['"]/g);
  } else if (/awk/.test(lang)) {
    whole = /\bin\s+ENVIRON\b|ENVIRON\s*\)|print[^;}]*\bENVIRON\b(?!\s*\[)/.test(code);
    name = named(/ENVIRON\s*\[\s*"([A-Za-z_]\w*)"\s*\]/g);
  } else if (/lua/.test(lang)) {
    name = named(/os\.getenv\s*\(\s*['"]([A-Za-z_]\w*)['"]/g);
  } else if (/^R|Rscript/.test(lang)) {
    whole = /\bSys\.getenv\s*\(\s*\)/.test(code);
    name = named(/Sys\.getenv\s*\(\s*['"]([A-Za-z_]\w*)['"]/g);
  } else if (/jq|yq/.test(lang)) {
    whole = /(^|[^\w.$])(env|\$ENV)\b(?!\s*\.\s*\w|\s*\[)/.test(code);
    name = named(
      /(?:\benv|\$ENV)\s*\.\s*([A-Za-z_]\w*)|(?:\benv|\$ENV)\s*\[\s*"([A-Za-z_]\w*)"\s*\]|\b(?:str)?env\s*\(\s*([A-Za-z_]\w*)\s*\)/g,
    );
  }
  if (whole) return `${lang} code reads the whole environment, credentials included`;
  if (name) return `${lang} code reads the credential ${name} from the environment`;
  return undefined;
}

/** jq/yq filters that print the environment (`jq -n env`, `jq -n '$ENV.TOKEN'`, `yq 'strenv(TOKEN)'`). */
export function jqRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args, 'fL', [
    'from-file',
    'arg',
    'argjson',
    'slurpfile',
    'rawfile',
    'indent',
    'args',
    'jsonargs',
  ]);
  if (o.values.has('f') || o.long.has('from-file')) return [];
  const filter = o.pos[0]?.text;
  if (filter === undefined) return [];
  const why = codeEnvDisclosure(filter, v.prog, env.credentialNames);
  return why ? [deny('secrets.env-print', why, v)] : [];
}

/** envsubst with known input naming a credential (`envsubst <<< '$TOKEN'`). */
export function envsubstRule(v: View, env: RuleEnv): Finding[] {
  const s = v.sc.stdin;
  if (!s || s.dynamic) return [];
  for (const m of s.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (credentialNameKind(m[1]!, env.credentialNames) === 'secret')
      return [
        stdoutDest(v.sc) === 'agent'
          ? deny('secrets.env-print', `envsubst prints the credential in $${m[1]}`, v)
          : ap('secrets.env-pass', `envsubst passes the credential in $${m[1]} on`, v),
      ];
  }
  return [];
}

/* ---------------- CLIs that print or mint credentials ---------------- */

const MINT = 'secrets.cli-token';

/** Operands (words not starting with `-`). */
function ops(v: View): string[] {
  return texts(v.args).filter((x) => !x.startsWith('-'));
}

/** Whether `seq` appears in `words` in order (gaps allowed: option values may sit between). */
function inOrder(words: readonly string[], ...seq: (string | RegExp)[]): boolean {
  let k = 0;
  for (const w of words) {
    const s = seq[k];
    if (s === undefined) break; // only with an empty `seq` (no caller passes one)
    if (typeof s === 'string' ? w === s : s.test(w)) k++;
    if (k === seq.length) return true;
  }
  return false;
}

function outputFormat(v: View): string {
  const a = texts(v.args);
  for (const [i, x] of a.entries()) {
    if (x === '-o' || x === '--output') return a[i + 1] ?? '';
    const m = /^(?:-o=?|--output=)(.+)$/.exec(x);
    if (m) return m[1]!;
    if (/^--template(=|$)/.test(x)) return 'go-template';
  }
  return '';
}

/** Writes its output to a file (`-o F`, `--out-file`, a redirect), rather than to the agent. */
function toFile(v: View, opts: RegExp): boolean {
  return texts(v.args).some((x) => opts.test(x)) || stdoutDest(v.sc) === 'file';
}

/**
 * Cloud, platform and password-manager CLIs that print or mint credentials: deny (the agent would
 * see the secret, or hold a new one). Decryption into a file and listings that may hold secrets:
 * approve.
 */
export function credentialCliRule(v: View, env: RuleEnv): Finding[] {
  const p = v.prog;
  const o = ops(v);
  const a = texts(v.args);
  const mint = (what: string): Finding[] => [deny(MINT, `${p} ${what}`, v)];
  switch (p) {
    case 'aws': {
      const svcOp = (svc: string, op: RegExp): boolean => inOrder(o, svc, op);
      if (
        svcOp(
          'sts',
          /^(get-session-token|assume-role|assume-role-with-saml|assume-role-with-web-identity|get-federation-token)$/,
        )
      )
        return mint('mints temporary credentials and prints them');
      if (
        svcOp('ecr', /^(get-login-password|get-authorization-token|get-login)$/) ||
        svcOp('ecr-public', /^(get-login-password|get-authorization-token)$/)
      )
        return mint('prints a registry login token');
      if (
        svcOp('codeartifact', /^get-authorization-token$/) ||
        svcOp('eks', /^get-token$/) ||
        svcOp('rds', /^generate-db-auth-token$/) ||
        svcOp('redshift', /^get-cluster-credentials/) ||
        svcOp('redshift-serverless', /^get-credentials$/) ||
        svcOp('sso', /^get-role-credentials$/) ||
        svcOp('cognito-identity', /^(get-credentials-for-identity|get-open-id-token)/)
      )
        return mint('prints an access token or credentials');
      if (
        svcOp('configure', /^export-credentials$/) ||
        (svcOp('configure', /^get$/) &&
          o
            .slice(o.indexOf('get') + 1)
            .some((x) => /secret|token|password|session|key/i.test(x) && !/key_id$/i.test(x)))
      )
        return mint('prints configured credentials');
      if (
        svcOp(
          'iam',
          /^(create-access-key|create-login-profile|update-login-profile|create-service-specific-credential|reset-service-specific-credential|create-virtual-mfa-device)$/,
        )
      )
        return mint('creates a credential and prints it');
      if (svcOp('secretsmanager', /^(get-secret-value|batch-get-secret-value)$/)) return mint('prints a secret value');
      if (
        svcOp('ssm', /^(get-parameter|get-parameters|get-parameters-by-path|get-parameter-history)$/) &&
        a.includes('--with-decryption')
      )
        return mint('prints decrypted parameters');
      if (
        svcOp('ec2', /^get-password-data$/) ||
        svcOp('acm', /^export-certificate$/) ||
        svcOp('iot', /^create-keys-and-certificate$/) ||
        svcOp('lightsail', /^(get-instance-access-details|download-default-key-pair|create-key-pair)$/) ||
        svcOp('ec2', /^create-key-pair$/)
      )
        return mint('prints a password or private key');
      if (svcOp('kms', /^(decrypt|generate-data-key|generate-data-key-pair|generate-random)$/))
        return [ap('secrets.decrypt', `aws kms ${o[1] ?? ''} prints plaintext key material or data`, v)];
      if (
        svcOp('lambda', /^get-function-configuration$/) ||
        svcOp('lambda', /^get-function$/) ||
        svcOp('ecs', /^describe-task-definition$/)
      )
        return [
          ap(
            'secrets.container-env',
            `aws ${o[0]} ${o[1]} prints environment variables, which often hold credentials`,
            v,
          ),
        ];
      return [];
    }
    case 'gcloud': {
      if (
        inOrder(o, 'auth', /^print-(access|identity|refresh)-token$/) ||
        inOrder(o, 'auth', 'application-default', /^print-access-token$/)
      )
        return mint('prints an access token');
      // Into a file or not, the agent can read it next: the secret is disclosed.
      if (inOrder(o, 'secrets', 'versions', 'access'))
        return mint(
          toFile(v, /^--out-file/) ? 'writes a secret value where the agent can read it' : 'prints a secret value',
        );
      if (
        inOrder(o, 'iam', 'service-accounts', 'keys', 'create') ||
        inOrder(o, 'compute', 'reset-windows-password') ||
        inOrder(o, 'config', 'config-helper') ||
        inOrder(o, 'sql', 'generate-login-token')
      )
        return mint('creates or prints credentials');
      if (inOrder(o, 'kms', /^(decrypt|asymmetric-decrypt)$/))
        return [ap('secrets.decrypt', 'gcloud kms decrypt produces plaintext', v)];
      if (inOrder(o, 'functions', 'describe') || inOrder(o, 'run', 'services', 'describe'))
        return [
          ap('secrets.container-env', "prints a service's environment variables, which often hold credentials", v),
        ];
      return [];
    }
    case 'az': {
      const j = o.join(' ');
      if (
        /\b(get-access-token|show-connection-string|list-connection-strings|list-publishing-credentials|list-publishing-profiles|generate-sas|list-keys|list-secrets|get-credentials --admin)\b/.test(
          j,
        ) &&
        !/aks get-credentials$/.test(j)
      )
        return mint('prints or mints credentials');
      if (
        /\b(keys? (list|show|renew|regenerate)|admin-key show|query-key list|credential(s)? (show|reset|list)|secret (show|download)|certificate download|keyvault key download)\b/.test(
          j,
        ) ||
        /\bsp create-for-rbac\b/.test(j) ||
        (/\bacr login\b/.test(j) && a.includes('--expose-token'))
      )
        return mint('prints or mints credentials');
      if (/\b(webapp|functionapp) config appsettings list\b/.test(j) || /\bcontainerapp secret list\b/.test(j))
        return [ap('secrets.container-env', 'prints application settings, which often hold credentials', v)];
      return [];
    }
    case 'gh':
      if (
        inOrder(o, 'auth', 'token') ||
        (inOrder(o, 'auth', 'status') && a.some((x) => x === '-t' || x === '--show-token')) ||
        inOrder(o, 'auth', 'git-credential')
      )
        return mint('prints the GitHub token');
      return [];
    case 'kubectl':
    case 'oc':
    case 'k3s':
    case 'microk8s.kubectl': {
      const { sub, index } = subcommand(v.args, [
        '-n',
        '--namespace',
        '--context',
        '--kubeconfig',
        '--cluster',
        '--user',
        '-s',
        '--server',
        '-l',
        '--selector',
        '-o',
        '--output',
      ]);
      const rest = v.args
        .slice(index + 1)
        .map((w) => w.text)
        .filter((x) => !x.startsWith('-'));
      if (sub === 'get' || sub === 'edit') {
        const res = (rest[0] ?? '').toLowerCase();
        const secrets = res.split(',').some((r) => /^secrets?(\.v1|\/|$)|^secret\//.test(r));
        const fmt = outputFormat(v);
        if (
          secrets &&
          (sub === 'edit' ||
            /^(yaml|json|jsonpath|go-template|custom-columns|template|go-template-file|jsonpath-file|jsonpath-as-json)/.test(
              fmt,
            ))
        )
          return mint('prints Secret data');
        return [];
      }
      if (sub === 'view-secret' || v.args[index]?.text === 'view-secret') return mint('prints Secret data');
      if (sub === 'create' && rest[0] === 'token') return mint('mints a service account token');
      if (sub === 'config' && rest[0] === 'view') {
        if (a.includes('--raw')) return mint('prints the kubeconfig with its credentials (--raw)');
        if (/token|password|client-key|secret/i.test(outputFormat(v)))
          return mint('prints a credential from the kubeconfig');
      }
      if (sub === 'exec' || sub === 'debug') return [];
      return [];
    }
    case 'helm':
      if (inOrder(o, 'get', /^(values|all|manifest)$/))
        return [
          ap('secrets.helm-values', `helm get ${o[1]} prints a release's values, which often hold credentials`, v),
        ];
      return [];
    case 'vault':
    case 'bao': {
      const s0 = o[0] ?? '';
      if (s0 === 'read' && /^sys\//.test(o[1] ?? '') && !/sys\/(wrapping|raw)/.test(o[1] ?? '')) return [];
      if (
        s0 === 'read' ||
        s0 === 'unwrap' ||
        (s0 === 'kv' && o[1] === 'get') ||
        (s0 === 'token' && /^(create|lookup)$/.test(o[1] ?? '')) ||
        (s0 === 'print' && o[1] === 'token') ||
        (s0 === 'operator' && /^(init|generate-root)$/.test(o[1] ?? '')) ||
        (s0 === 'write' && o.slice(1).some((x) => /(^|\/)(login|creds|token\/create|issue|sign)(\/|$)/.test(x)))
      )
        return mint('prints a secret or a token');
      if (s0 === 'login' && !a.some((x) => /^-no-print(=true)?$/.test(x))) return mint('logs in and prints the token');
      return [];
    }
    case 'docker':
    case 'podman':
    case 'nerdctl': {
      const { sub } = subcommand(v.args, ['-H', '--host', '--context', '-c', '--config', '--log-level']);
      const j = o.join(' ');
      let type: string | undefined;
      for (const [i, x] of a.entries()) {
        if (x === '--type') type = a[i + 1];
        else if (x.startsWith('--type=')) type = x.slice(7);
      }
      if (
        (sub === 'inspect' && (type === undefined || type === 'container')) ||
        /^(container|service) inspect\b/.test(j)
      ) {
        const fmt = a.find((x, i) => a[i - 1] === '-f' || a[i - 1] === '--format' || x.startsWith('--format=')) ?? '';
        if (/\bEnv\b/.test(fmt)) return mint("prints a container's environment, which holds its credentials");
        if (!fmt)
          return [
            ap(
              'secrets.container-env',
              `${p} inspect prints a container's environment, which often holds credentials`,
              v,
            ),
          ];
        return [];
      }
      if (/^secret inspect\b/.test(j) && a.includes('--showsecret')) return mint('prints a secret');
      if (/^compose config\b/.test(j) || (sub === 'compose' && o.includes('config')))
        return [
          ap(
            'secrets.container-env',
            `${p} compose config prints the resolved environment, which often holds credentials`,
            v,
          ),
        ];
      return [];
    }
    case 'npm':
    case 'pnpm':
    case 'yarn': {
      if (o[0] === 'token' && /^(create|list|ls)$/.test(o[1] ?? ''))
        return o[1] === 'create'
          ? mint('creates a registry token and prints it')
          : [ap(MINT, `${p} token list prints (partial) registry tokens`, v)];
      if (o[0] === 'config' && o[1] === 'get' && o.slice(2).some((x) => /auth|token|password|_pass/i.test(x)))
        return mint('prints a registry credential');
      return [];
    }
    case 'heroku':
      if (
        o[0] === 'auth:token' ||
        o[0] === 'authorizations:create' ||
        /^pg:credentials:url$|^redis:credentials$/.test(o[0] ?? '')
      )
        return mint('prints a token or database credentials');
      if (
        o[0] === 'config' ||
        o[0] === 'config:show' ||
        (o[0] === 'config:get' && o.slice(1).some((x) => credentialNameKind(x, env.credentialNames) === 'secret'))
      )
        return mint('prints config vars, credentials included');
      return [];
    case 'doppler':
      if (o[0] === 'secrets' && (o.length === 1 || /^(get|download)$/.test(o[1] ?? ''))) return mint('prints secrets');
      if (o[0] === 'configure' && o[1] === 'get' && o.slice(2).some((x) => /token/.test(x)))
        return mint('prints its token');
      return [];
    case 'op':
      if (
        /^(read|inject)$/.test(o[0] ?? '') ||
        (/^(item|document)$/.test(o[0] ?? '') && o[1] === 'get') ||
        (o[0] === 'signin' && a.includes('--raw'))
      )
        return mint('prints a secret from 1Password');
      return [];
    case 'pass':
    case 'gopass': {
      if (a.some((x) => x === '-c' || x === '--clip'))
        return [ap('secrets.clipboard', `${p} copies a password to the clipboard`, v)];
      const sub = o[0];
      if (sub === 'otp' || sub === 'grep' || sub === 'generate' || sub === 'show' || sub === 'cat')
        return mint(sub === 'generate' ? 'creates a password and prints it' : 'prints a password');
      if (
        sub === undefined ||
        /^(ls|list|find|search|init|insert|add|edit|rm|remove|mv|cp|git|help|version|sync|setup|config|mounts|recipients|templates|fsck|audit|clone)$/.test(
          sub,
        )
      )
        return [];
      return mint('prints a password');
    }
    case 'bw':
      if (
        (o[0] === 'get' && o[1] !== 'template') ||
        (o[0] === 'list' && o[1] === 'items') ||
        o[0] === 'export' ||
        ((o[0] === 'unlock' || o[0] === 'login') && a.includes('--raw'))
      )
        return mint('prints a password or vault data');
      return [];
    case 'lpass':
      if (/^(show|export)$/.test(o[0] ?? '')) return mint('prints a password');
      return [];
    case 'secret-tool':
      if (o[0] === 'lookup' || (o[0] === 'search' && a.some((x) => x === '--all' || x === '--unlock')))
        return mint('prints a stored secret');
      return [];
    case 'security':
      if (
        (/^find-(generic|internet)-password$/.test(o[0] ?? '') && a.some((x) => x === '-w' || x === '-g')) ||
        (o[0] === 'dump-keychain' && a.includes('-d'))
      )
        return mint('prints a keychain password');
      return [];
    case 'keyring':
      if (o[0] === 'get') return mint('prints a stored password');
      return [];
    case 'gpg':
    case 'gpg2':
      if (a.some((x) => /^--export-secret-(sub)?keys$/.test(x))) return mint('exports secret keys');
      if (a.some((x) => x === '-d' || x === '--decrypt'))
        return toFile(v, /^(-o|--output)(=|$)/)
          ? [ap('secrets.decrypt', 'gpg decrypts into a file', v)]
          : mint('decrypts and prints the plaintext');
      return [];
    case 'age':
    case 'rage':
      if (a.some((x) => x === '-d' || x === '--decrypt'))
        return toFile(v, /^(-o|--output)(=|$)/)
          ? [ap('secrets.decrypt', `${p} decrypts into a file`, v)]
          : mint('decrypts and prints the plaintext');
      return [];
    case 'sops':
      if (a.some((x) => x === '-d' || x === '--decrypt') || /^(decrypt|exec-env|exec-file)$/.test(o[0] ?? ''))
        return toFile(v, /^(--output)(=|$)/) || o[0] === 'exec-env' || o[0] === 'exec-file'
          ? [ap('secrets.decrypt', 'sops decrypts secrets for a file or a program', v)]
          : mint('decrypts and prints secrets');
      return [];
    case 'ansible-vault':
      if (o[0] === 'view') return mint('prints decrypted secrets');
      if (o[0] === 'decrypt')
        return a.some((x) => x === '--output=-' || (x === '--output' && a[a.indexOf(x) + 1] === '-'))
          ? mint('decrypts and prints secrets')
          : [ap('secrets.decrypt', 'ansible-vault decrypts files in place', v)];
      return [];
    case 'systemd-creds':
      if (o[0] === 'decrypt' || o[0] === 'cat')
        return o.length >= 3 || stdoutDest(v.sc) === 'file'
          ? [ap('secrets.decrypt', 'systemd-creds decrypts into a file', v)]
          : mint('decrypts and prints a credential');
      return [];
    case 'git':
      if (
        inOrder(o, 'credential', /^(fill|get)$/) ||
        (/^credential-(store|cache)$/.test(o[0] ?? '') && o.includes('get'))
      )
        return mint('prints stored credentials');
      return [];
    case 'terraform':
    case 'tofu':
      if (
        (o[0] === 'output' && a.some((x) => /^-(raw|json)$/.test(x))) ||
        (o[0] === 'state' && o[1] === 'pull') ||
        (o[0] === 'show' && a.includes('-json'))
      )
        return [ap('secrets.tf-state', `${p} ${o[0]} prints state or outputs, which may hold credentials`, v)];
      return [];
    case 'xauth':
      if (/^(extract|nextract|list|nlist)$/.test(o[0] ?? '')) return mint('prints X11 authorization cookies');
      return [];
    case 'borg':
    case 'borgbackup':
      if (o[0] === 'key' && o[1] === 'export')
        return o.length >= 4 || stdoutDest(v.sc) === 'file'
          ? [ap('secrets.key-export', 'borg key export writes the repository key to a file', v)]
          : mint('prints the repository key');
      return [];
    case 'pg_dumpall':
      return a.some((x) => x === '--no-role-passwords')
        ? []
        : [ap('secrets.db-dump', 'pg_dumpall dumps every database and the roles with their password hashes', v)];
    case 'systemctl':
      if (
        o[0] === 'show-environment' ||
        (o[0] === 'show' &&
          a.some(
            (x, i) =>
              /^--property=.*Environment|^-pEnvironment/.test(x) ||
              ((x === '-p' || x === '--property') && /Environment/.test(a[i + 1] ?? '')),
          ))
      )
        return [ap('secrets.env-dump', "prints a service manager's environment, which may hold credentials", v)];
      return [];
    case 'busctl':
      if ((o.includes('get-property') && o.includes('Environment')) || o[0] === 'monitor' || o[0] === 'capture')
        return [ap('secrets.env-dump', `busctl ${o[0]} reads environments or messages that may hold credentials`, v)];
      return [];
    case 'dbus-monitor':
      return [
        ap('secrets.eavesdrop', 'dbus-monitor prints messages between other programs, which may hold credentials', v),
      ];
    case 'consul':
      if (inOrder(o, 'acl', 'bootstrap') || inOrder(o, 'acl', 'token', /^(read|create|clone)$/))
        return mint('prints an ACL token');
      return [];
    case 'etcdctl':
      if (o[0] === 'get' && o.slice(1).some((x) => /secret/i.test(x))) return mint('prints stored secrets');
      return [];
    case 'doctl':
      if (inOrder(o, 'kubernetes', 'cluster', 'kubeconfig', 'show') || inOrder(o, 'registry', 'docker-config'))
        return mint('prints cluster or registry credentials');
      return [];
    default:
      return [];
  }
}

/* ---------------- credential files and directories ---------------- */

/**
 * Credential files the path rules (src/guard/paths.ts) do not list, read by the programs below.
 * Deny: credential stores and keys. (Moving these into paths.ts would cover every program.)
 */
const EXTRA_SECRET_FILES = [
  '~/.config/gh/hosts.yml',
  '~/.config/hub',
  '~/.config/doctl/config.yaml',
  '~/.config/rclone/rclone.conf',
  '~/.s3cfg',
  '~/.boto',
  '~/.databrickscfg',
  '~/.terraform.d/credentials.tfrc.json',
  '~/.cargo/credentials',
  '~/.cargo/credentials.toml',
  '~/.gem/credentials',
  '~/.config/containers/auth.json',
  '/run/containers/*/auth.json',
  '/run/user/*/containers/auth.json',
  '~/.config/helm/registry/config.json',
  '~/.my.cnf',
  '/etc/mysql/debian.cnf',
  '~/.config/op/**',
  '~/.local/share/keyrings/**',
  '~/.mozilla/firefox/**/logins.json',
  '~/.mozilla/firefox/**/key4.db',
  '~/.mozilla/firefox/**/cookies.sqlite',
  '~/.config/google-chrome/**/Login Data',
  '~/.config/google-chrome/**/Cookies',
  '~/.config/chromium/**/Login Data',
  '~/.config/chromium/**/Cookies',
  '~/.config/BraveSoftware/**/Login Data',
  '/etc/kubernetes/admin.conf',
  '/etc/kubernetes/*.conf',
  '/etc/kubernetes/pki/**',
  '/var/lib/kubelet/pki/*.key',
  '/etc/rancher/k3s/k3s.yaml',
  '/var/lib/rancher/k3s/server/token',
  '/var/lib/rancher/k3s/server/cred/**',
  '/etc/letsencrypt/live/**/privkey*.pem',
  '/etc/letsencrypt/archive/**/privkey*.pem',
  '/var/lib/jenkins/secrets/**',
  '/var/lib/jenkins/credentials.xml',
  '~/.jenkins/secrets/**',
  '~/.docker/config.json',
  '~/.ssh/id_*',
  '**/id_rsa',
  '**/id_ed25519',
  '**/id_ecdsa',
  '**/id_dsa',
  '~/.kube/config',
  '~/.kube/*.yaml',
  '~/.kube/*.yml',
  '~/.aws/credentials',
  '~/.aws/sso/cache/**',
  '~/.aws/cli/cache/**',
  '~/.azure/**',
  '~/.config/gcloud/**',
  '~/.vault-token',
  '~/.netrc',
  '~/.pgpass',
  '~/.git-credentials',
  '/proc/*/environ',
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/ssh/ssh_host_*_key',
  '/etc/ssl/private/**',
  '/var/run/secrets/**',
  '/run/secrets/**',
  '**/*.kdbx',
  '**/config/master.key',
];
const EXTRA_SECRET_RE = compileGlobs(EXTRA_SECRET_FILES);
/** Concrete files a glob argument is tested against (`~/.config/gh/h*`, `/proc/PID/environ`). */
const GLOB_SAMPLES = [
  ...EXTRA_SECRET_FILES.filter((f) => !f.includes('*')),
  '/proc/1/environ',
  '/proc/self/environ',
  '~/.ssh/id_rsa',
  '~/.ssh/id_ed25519',
  '~/.kube/config.yaml',
  '/etc/kubernetes/pki/ca.key',
].map((f) => normalizePath(f));

/**
 * Directories that hold credentials: archiving or copying one discloses what is inside. In a
 * STRONG one (almost) every file is a credential, so a recursive search anywhere under it reads
 * them; a WEAK one also holds many files that are not (configs, caches, public certificates).
 */
const STRONG = 'strong';
const WEAK = 'weak';
const CREDENTIAL_DIRS: readonly (readonly [dir: string, kind: typeof STRONG | typeof WEAK])[] = [
  ['~/.ssh', STRONG],
  ['~/.aws', STRONG],
  ['~/.gnupg', STRONG],
  ['~/.kube', STRONG],
  ['~/.docker', STRONG],
  ['~/.config/gcloud', STRONG],
  ['~/.azure', STRONG],
  ['~/.password-store', STRONG],
  ['~/.config/gh', STRONG],
  ['~/.config/op', STRONG],
  ['~/.local/share/keyrings', STRONG],
  ['~/.config/rclone', WEAK],
  ['~/.terraform.d', WEAK],
  ['~/.mozilla', WEAK],
  ['~/.config/google-chrome', WEAK],
  ['~/.config/chromium', WEAK],
  ['/etc/ssh', WEAK],
  ['/etc/ssl/private', STRONG],
  ['/etc/kubernetes/pki', WEAK],
  ['/etc/kubernetes', WEAK],
  ['/var/run/secrets', STRONG],
  ['/run/secrets', STRONG],
  ['/etc/letsencrypt', WEAK],
  ['/var/lib/jenkins/secrets', STRONG],
  ['/var/lib/rancher/k3s/server', WEAK],
];
const CRED_DIR_SET: ReadonlySet<string> = new Set(CREDENTIAL_DIRS.map(([d]) => normalizePath(d)));
const STRONG_DIRS = CREDENTIAL_DIRS.filter(([, kind]) => kind === STRONG).map(([d]) => normalizePath(d));

const MAY_BE_CREDENTIAL =
  /ssh|aws|gnupg|kube|docker|gcloud|azure|password|\/gh|\/op|keyring|vault|rclone|terraform|mozilla|chrom|ssl|secret|letsencrypt|jenkins|environ|\.pem|\.key|kdbx|cnf|netrc|pgpass|credential|s3cfg|boto|cargo|gem|containers|helm|rancher|k3s|wp-config|master\.key|shadow|hub|doctl|databricks|brave/i;

/** The credential FILE a word names (`~/.config/gh/hosts.yml`, `/proc/$PID/environ`), or undefined. */
export function credentialFile(p: Word): string | undefined {
  if (p.dynamic && !p.glob) return /^\/proc\/.+\/environ$/.test(p.text) ? p.text : undefined;
  const text = p.text;
  if (!MAY_BE_CREDENTIAL.test(text)) return undefined;
  if (p.glob) {
    // A glob that can match a listed file (`~/.config/gh/*`): test the fixed prefix's files.
    const re = safeGlob(normalizePath(text));
    if (!re) return undefined;
    for (const f of GLOB_SAMPLES) if (re.test(f)) return f;
    return undefined;
  }
  const n = normalizePath(text);
  // Public halves and host lists are not secrets.
  if (/\.pub$|known_hosts2?$/.test(n)) return undefined;
  return EXTRA_SECRET_RE.test(n) ? n : undefined;
}

function safeGlob(g: string): RegExp | undefined {
  try {
    return globToRegExp(g);
  } catch {
    return undefined;
  }
}

/** A credential directory a word names (itself, or a glob matching one), or a credential file; for archives, copies and finds. */
export function credentialLocation(p: Word): string | undefined {
  const f = credentialFile(p);
  if (f) return f;
  if (p.dynamic && !p.glob) return undefined;
  if (!MAY_BE_CREDENTIAL.test(p.text)) return undefined;
  const n = normalizePath(p.text).replace(/\/+$/, '');
  if (!p.glob) return CRED_DIR_SET.has(n) ? n : undefined;
  const re = safeGlob(n);
  if (re) for (const d of CRED_DIR_SET) if (re.test(d)) return d;
  return undefined;
}

/** A path in (or at) a directory where every file is a credential, for recursive searches. */
function inStrongDir(p: Word): string | undefined {
  if (p.dynamic && !p.glob) return undefined;
  const n = normalizePath(p.glob ? p.prefix || p.text : p.text).replace(/\/+$/, '');
  for (const d of STRONG_DIRS) if (n === d || n.startsWith(d + '/')) return d;
  return undefined;
}

/** Programs that print, copy or send the files they are given: the credential files paths.ts does not list. */
export function readerRule(v: View): Finding[] {
  for (const w of v.args) {
    let p = w;
    const at = /^(?:[A-Za-z_-]*=)?@(.+)$/.exec(w.text) ?? /^--?[A-Za-z-]+=(.+)$/.exec(w.text);
    const target = at?.[1];
    if (target !== undefined) p = { ...w, text: target, prefix: target };
    const f = credentialFile(p);
    if (f) return [hardDeny('secrets.read', `${v.prog} reads credentials (${f})`, v.text)];
  }
  return [];
}

/** Archivers and copiers of credential directories (`tar czf x ~/.ssh`, `cp -r ~/.gnupg /tmp`, `rsync -a ~/.kube host:`). */
export function archiveRule(v: View): Finding[] {
  const args = v.args;
  // The destination of cp/rsync/scp/install is written, not read (the last operand).
  const operands = args.filter((w) => !w.text.startsWith('-'));
  const dest =
    /^(cp|rsync|scp|install|mv|ln)$/.test(v.prog) && operands.length > 1 ? operands[operands.length - 1] : undefined;
  for (const w of args) {
    if (w === dest) continue;
    const loc = credentialLocation(w);
    if (loc) return [hardDeny('secrets.archive', `${v.prog} copies or archives credentials (${loc})`, v.text)];
  }
  return [];
}

/** Words that look like a search for credentials. */
const CRED_PATTERN =
  /pass(word|wd)?|secret|token|api[_-]?key|private[ _-]?key|BEGIN .*PRIVATE|aws_(secret|access)|credential|auth|bearer|client[_-]?secret/i;

/**
 * grep/rg/ag/ack over credential locations (any pattern), or a credential-looking pattern over
 * configuration trees (`/etc`, the home directory, `/`): the matches print the secrets.
 */
export function grepRule(v: View): Finding[] {
  const o = parseOpts(v.args, v.prog === 'rg' ? 'egfAmBCtTjMr' : 'efmABCdD', [
    'regexp',
    'file',
    'max-count',
    'after-context',
    'before-context',
    'context',
    'include',
    'exclude',
    'exclude-dir',
    'glob',
    'type',
    'type-not',
    'threads',
    'max-columns',
    'replace',
    'label',
    'binary-files',
    'devices',
    'directories',
    'color',
    'colour',
  ]);
  const explicit = o.values.get('e') ?? o.long.get('regexp');
  const pattern = explicit ?? o.pos[0]?.text ?? '';
  const paths = explicit !== undefined || o.values.has('f') ? o.pos : o.pos.slice(1);
  const recursive =
    (v.prog !== 'grep' && v.prog !== 'egrep' && v.prog !== 'fgrep') ||
    [...o.short].some((c) => c === 'r' || c === 'R') ||
    o.long.has('recursive') ||
    o.long.has('dereference-recursive');
  for (const p of paths) {
    const loc = credentialFile(p) ?? (recursive ? inStrongDir(p) : undefined);
    if (loc)
      return [hardDeny('secrets.read', `${v.prog} searches credentials (${loc}) and prints what matches`, v.text)];
  }
  // `grep -R --include='*.env' -e API_KEY .`: searching credential files by name.
  const include = [
    ...v.args
      .map((w) => w.text)
      .filter((x) => /^--include=/.test(x))
      .map((x) => x.slice(10)),
    ...(v.prog === 'rg'
      ? v.args.filter((w, i) => v.args[i - 1]?.text === '-g' || v.args[i - 1]?.text === '--glob').map((w) => w.text)
      : []),
  ];
  if (recursive && include.some((g) => CRED_NAME.test(g)))
    return [
      deny(
        'secrets.search',
        `${v.prog} searches files named like credentials (${include.find((g) => CRED_NAME.test(g))}) and prints what matches`,
        v,
      ),
    ];
  if (recursive && CRED_PATTERN.test(pattern)) {
    for (const p of paths) {
      const n = p.dynamic ? '' : normalizePath(p.text);
      if (
        n === '/' ||
        n === '~' ||
        n === '/etc' ||
        n.startsWith('/etc/') ||
        n === '/root' ||
        n === '/home' ||
        n === '/var/lib' ||
        n === '/opt' ||
        n.startsWith('/proc')
      ) {
        return [deny('secrets.search', `${v.prog} searches ${n} for credentials and prints what it finds`, v)];
      }
    }
  }
  return [];
}

/** File-name patterns that find credentials (`-name 'id_*'`, `*.pem`, `.env`, `credentials`). */
const CRED_NAME =
  /(^|[*/._-])(id_(rsa|dsa|ecdsa|ed25519)|id_\*|id_?\*|\*?\.pem|\*?\.key|\*?\.p12|\*?\.pfx|\*?\.jks|\*?\.keystore|\*?\.kdbx|\.env|credentials?|secrets?|\.netrc|\.pgpass|\.npmrc|\.pypirc|git-credentials|vault-token|htpasswd|shadow|private|token|passw)/i;
/** Programs that print, copy or send a file they are given. */
const FILE_READER =
  /^(cat|tac|head|tail|less|more|most|strings|xxd|od|hexdump|base64|base32|nl|cp|scp|rsync|tar|zip|7z|gzip|curl|wget|nc|ncat|socat|openssl|grep|egrep|fgrep|rg|awk|gawk|sed|perl|python3?|ruby|jq|yq|bat|batcat|view|vim|vi|nano|emacs|mail|mailx|sendmail|gpg|sha256sum|install|dd|tee|xargs|sh|bash)$/;

/** find … -name CREDENTIAL -exec READER: reads every credential file it finds. */
export function findCredentialsRule(v: View): Finding[] {
  const a = texts(v.args);
  let credName: string | undefined;
  let readerAction: string | undefined;
  for (const [i, x] of a.entries()) {
    if (/^-(i?name|i?path|i?wholename|i?regex)$/.test(x) && CRED_NAME.test(a[i + 1] ?? '')) credName = a[i + 1];
    if (/^-(exec|execdir|ok|okdir)$/.test(x)) {
      const prog = (a[i + 1] ?? '').replace(/^.*\//, '');
      if (FILE_READER.test(prog)) readerAction = prog;
    }
  }
  if (credName !== undefined && readerAction !== undefined)
    return [
      hardDeny('secrets.read', `find runs ${readerAction} on every file named like a credential (${credName})`, v.text),
    ];
  // Searching a credential directory with a reader: `find ~/.ssh -type f -exec cat {} +`.
  const roots = v.args.filter(
    (w, i) =>
      !w.text.startsWith('-') &&
      !v.args.slice(0, i).some((b) => b.text.startsWith('-') || b.text === '!' || b.text === '('),
  );
  if (readerAction !== undefined)
    for (const r of roots) {
      const loc = credentialLocation(r);
      if (loc) return [hardDeny('secrets.read', `find runs ${readerAction} on the files of ${loc}`, v.text)];
    }
  return [];
}

/** xargs -a FILE reads FILE (`xargs -0 -a /proc/1/environ`). */
export function xargsFileRule(v: View): Finding[] {
  const a = v.args;
  for (const [i, w] of a.entries()) {
    const t = w.text;
    const file =
      t === '-a' || t === '--arg-file'
        ? a[i + 1]
        : t.startsWith('--arg-file=')
          ? { ...w, text: t.slice(11) }
          : /^-a./.test(t)
            ? { ...w, text: t.slice(2) }
            : undefined;
    if (!file) continue;
    const f = classifyRead(file, v.text);
    if (f) return [f];
    const loc = credentialLocation(file);
    if (loc) return [hardDeny('secrets.read', `xargs reads credentials (${loc})`, v.text)];
  }
  return [];
}

export type { CredentialKind };
