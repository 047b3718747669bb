/**
 * The one list of environment variable names that look like credentials (issue 14 item 1). Used
 * by the guard (printing `$NAME`, `printenv NAME`, sending `$NAME` to the network, interpreter code
 * reading `os.environ['NAME']`) and by the sandbox's environment builder (which drops such names
 * from what a sandbox inherits). Self-contained on purpose (no guard imports) so it can live in
 * src/core if both modules should import it from there.
 *
 * Two kinds, because one list serves two jobs:
 *
 * - `secret`: the value itself is a credential (TOKEN, SECRET, PASSWORD, API_KEY, *_PAT, DSN …).
 *   The guard denies printing it or sending it off the host.
 * - `maybe`: a provider's or tool's namespace that often holds credentials next to harmless
 *   settings (AWS_*, GITHUB_*, DOCKER_*, anything with KEY, AUTH, SESSION or PRIVATE in it). The
 *   sandbox drops these too (it never needs them); the guard asks a person before printing one
 *   (`echo $AWS_REGION` is harmless, `echo $AWS_WHATEVER` may not be).
 *
 * Names are matched case-insensitively. A policy can add patterns of either kind and exempt names
 * (`CredentialNameConfig`, built from the policy by the engine); with no config the defaults apply.
 */

export type CredentialKind = 'secret' | 'maybe';

export interface CredentialNamePattern {
  re: RegExp;
  kind: CredentialKind;
  /** What the pattern stands for, for people reading decisions and policies. */
  why: string;
}

const s = (re: RegExp, why: string): CredentialNamePattern => ({ re, kind: 'secret', why });
const m = (re: RegExp, why: string): CredentialNamePattern => ({ re, kind: 'maybe', why });

/**
 * The built-in list. The `maybe` entries include every pattern the sandbox used before the list
 * moved here (so the sandbox drops at least what it dropped before).
 */
export const CREDENTIAL_NAME_PATTERNS: readonly CredentialNamePattern[] = Object.freeze([
  s(/TOKEN/i, 'a token'),
  s(/SECRET/i, 'a secret'),
  s(/PASSWORD|PASSWD|PASSPHRASE/i, 'a password'),
  s(/(^|_)PASS(_|$)|(^|_)PWD$/i, 'a password (DB_PASS, SMTP_PWD)'),
  s(/CREDENTIAL|(^|_)CREDS?(_|$)/i, 'credentials'),
  s(/API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SIGNING_?KEY|ENCRYPTION_?KEY|MASTER_?KEY|LICENSE_?KEY|(^|_)KEYS?$/i, 'a key'),
  s(/(^|_)PAT(_|$)/i, 'a personal access token (*_PAT)'),
  s(/COOKIE/i, 'a cookie'),
  s(/(^|_)AUTH(_|$)|AUTHORIZATION|AUTH_?HEADER/i, 'an authorization value'),
  s(
    /(^|_)DSN(_|$)|^DATABASE_URL$|^(REDIS|MONGO(DB)?|AMQP|RABBITMQ|POSTGRES(QL)?|MYSQL|SMTP|SENTRY)_URL$/i,
    'a connection string that carries a password',
  ),
  s(/WEBHOOK_?URL|WEBHOOK_?SECRET/i, 'a webhook address (the address is the credential)'),
  s(/(^|_)(OTP|TOTP|MFA)_?SEED|SALT$/i, 'key material'),
  m(/KEY/i, 'a name with KEY in it'),
  m(/AUTH/i, 'a name with AUTH in it'),
  m(/SESSION/i, 'a session value'),
  m(/PRIVATE/i, 'a private value'),
  m(
    /^(AWS|AZURE|ARM|GOOGLE|GCP|GCLOUD|CLOUDSDK|GH|GITHUB|GITLAB|NPM|DOCKER|VAULT|GATEHOUSE|HEROKU|DIGITALOCEAN|DO|CLOUDFLARE|CF|STRIPE|TWILIO|SLACK|OPENAI|ANTHROPIC|HF|HUGGING_?FACE|SENTRY|DATADOG|DD|NEW_?RELIC|PAGERDUTY|OP|DOPPLER|CIRCLE|TRAVIS|BUILDKITE|CODECOV|SNYK|TF_VAR)_/i,
    "a provider's namespace",
  ),
  m(/^SSH_AUTH_SOCK$|^KUBECONFIG$|^GNUPGHOME$|^PGPASSFILE$|^NETRC$/i, 'a path to credentials'),
]);

/** Names a printing rule never treats as credentials (bash's own variables, well-known harmless ones). */
const NEVER =
  /^(PWD|OLDPWD|HOME|PATH|USER|LOGNAME|SHELL|TERM|LANG|LC_\w+|TZ|HOSTNAME|SHLVL|IFS|PS[0-4]|RANDOM|SECONDS|LINENO|BASH\w*|KEYMAP|XDG_SESSION_(TYPE|CLASS|DESKTOP|ID)|DESKTOP_SESSION)$/i;

/** Policy additions (`secret`/`maybe` patterns) and exemptions; absent parts use the defaults only. */
export interface CredentialNameConfig {
  secret?: readonly RegExp[];
  maybe?: readonly RegExp[];
  /** Names (patterns) that are never credentials under this policy, e.g. `^AWS_REGION$`. */
  ignore?: readonly RegExp[];
}

/** What `name` is under the defaults and `cfg`: a credential, maybe one, or neither (undefined). */
export function credentialNameKind(name: string, cfg?: CredentialNameConfig): CredentialKind | undefined {
  if (NEVER.test(name)) return undefined;
  if (cfg?.ignore?.some((re) => re.test(name))) return undefined;
  if (cfg?.secret?.some((re) => re.test(name))) return 'secret';
  let out: CredentialKind | undefined;
  for (const p of CREDENTIAL_NAME_PATTERNS) {
    if (!p.re.test(name)) continue;
    if (p.kind === 'secret') return 'secret';
    out = 'maybe';
  }
  if (out === undefined && cfg?.maybe?.some((re) => re.test(name))) out = 'maybe';
  return out;
}

/**
 * The sandbox's question: may this host variable be dropped as possibly secret? True for both
 * kinds (and for the policy's own additions); `NEVER` does not apply here, the sandbox allowlists
 * what it keeps.
 */
export function isCredentialLookingName(name: string, cfg?: CredentialNameConfig): boolean {
  if (cfg?.secret?.some((re) => re.test(name)) || cfg?.maybe?.some((re) => re.test(name))) return true;
  return CREDENTIAL_NAME_PATTERNS.some((p) => p.re.test(name));
}

/**
 * Builds the config from a policy's text lists (regular expressions, case-insensitive), as the
 * engine would from `secrets.credential_names: { secret: [...], maybe: [...], ignore: [...] }`.
 * Throws on an invalid expression (the policy loader reports it with file and line).
 */
export function credentialNameConfig(lists: {
  secret?: readonly string[];
  maybe?: readonly string[];
  ignore?: readonly string[];
}): CredentialNameConfig {
  const re = (xs: readonly string[] | undefined): RegExp[] | undefined =>
    xs && xs.length ? xs.map((x) => new RegExp(x, 'i')) : undefined;
  const out: CredentialNameConfig = {};
  const sec = re(lists.secret);
  const may = re(lists.maybe);
  const ign = re(lists.ignore);
  if (sec) out.secret = sec;
  if (may) out.maybe = may;
  if (ign) out.ignore = ign;
  return out;
}
