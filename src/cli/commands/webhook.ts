import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { cutText, GatehouseError, parseDuration, truncateText } from '../../core/index.js';
import { bootRuntime, type Runtime } from '../../server/index.js';
import { parseFieldRef } from '../../vault/index.js';
import {
  activeSecrets,
  checkEndpointName,
  checkSecretRef,
  EVENT_STATES,
  PROVIDERS,
  sampleEvent,
  signSample,
  validateConfig,
  withDefaults,
  type CustomScheme,
  type Endpoint,
  type EndpointConfig,
  type EndpointSecret,
  type EventState,
  type InboxStats,
  type ProviderName,
  type StoredEvent,
} from '../../webhooks/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { block, visible } from '../terminal.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';
import { operator } from './approve.js';
import { parseListen } from './serve.js';

const USAGE = `usage:
  gatehouse webhook add NAME --provider PRESET [--secret vault:VAULT/ITEM.FIELD | --generate-secret] [OPTIONS]
        PRESET: ${PROVIDERS.join(', ')}
        prints the endpoint's URL once (and a generated secret once); --public-url URL: the address
        providers reach Gatehouse at (default GATEHOUSE_PUBLIC_URL, else the local serve address)
  gatehouse webhook list [--json]             endpoints with pending, leased and dead counts
  gatehouse webhook show NAME [--json]        configuration (secret references, never values), instructions, counts
  gatehouse webhook update NAME [OPTIONS]     change any option but the provider (a secret: see rotate-secret)
        also --no-seal-body, --no-legacy-sha1, --clear-events, --clear-projection, --clear-allow-from,
        --clear-public-keys; --instructions-file makes a new instructions version
  gatehouse webhook rm NAME [--yes]           remove an endpoint and all its events (asks first on a terminal)
  gatehouse webhook rotate-secret NAME (--secret vault:VAULT/ITEM.FIELD | --generate-secret) [--retire-after 24h|now]
                                              add a secret; the ones in use now stop after --retire-after (default 24h)
  gatehouse webhook rotate-url NAME [--public-url URL]
                                              a new URL, printed once; the old one stops at once
  gatehouse webhook test NAME [--type TYPE] [--server URL]
                                              send a signed sample event to the running server
                                              (--server, else GATEHOUSE_URL, else the local serve address)
  gatehouse webhook events NAME [--state ${EVENT_STATES.join('|')}] [--limit N] [--json]
                                              recent events, newest first (never their bodies)
  gatehouse webhook event ID [--body] [--json]
                                              one event; --body: its body, with secrets scrubbed
  gatehouse webhook replay ID                 offer an acked, failed or dead event again
  gatehouse webhook purge                     delete events past retention and dedupe keys past their window
OPTIONS (add and update):
  --secret vault:VAULT/ITEM.FIELD   the verification secret, stored in the vault first (never a value)
  --generate-secret                 make a secret, store it in the vault (webhooks/NAME) and print it once
  --public-key whpk_...             an Ed25519 public key (Standard Webhooks v1a, custom ed25519); repeatable
  --instructions-file FILE          handling instructions agents are given with each event (text)
  --events TYPE,...                 queue only these event types (others are answered and ignored)
  --retention 7d                    how long events are kept
  --dedupe-window 7d                how long delivered event ids are remembered (at least 3d)
  --tolerance 5m                    how far a signed timestamp may be off
  --max-attempts N                  deliveries before an event is dead (default 8)
  --max-body 1MiB                   largest body accepted (bytes, KiB or MiB; at most 16MiB)
  --seal-body                       keep bodies encrypted at rest
  --legacy-sha1                     github only: accept X-Hub-Signature (SHA-1) when SHA-256 is absent
  --allow-from CIDR,...             only these sender addresses (required for unsigned)
  --rate N/s  --burst N             requests per second and burst per endpoint (default 50/s, 200)
  --projection PATH,...             give agents these JSON paths (a.b, items.0.id) instead of the body
  --custom-scheme FILE.json         the custom preset's scheme (header, algorithm, encoding, template, ...)
  --description TEXT`;

const OPTIONS = {
  provider: { type: 'string' },
  secret: { type: 'string' },
  'generate-secret': { type: 'boolean' },
  'public-key': { type: 'string', multiple: true },
  'instructions-file': { type: 'string' },
  events: { type: 'string' },
  retention: { type: 'string' },
  'dedupe-window': { type: 'string' },
  tolerance: { type: 'string' },
  'max-attempts': { type: 'string' },
  'max-body': { type: 'string' },
  'seal-body': { type: 'boolean' },
  'no-seal-body': { type: 'boolean' },
  'legacy-sha1': { type: 'boolean' },
  'no-legacy-sha1': { type: 'boolean' },
  'allow-from': { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  projection: { type: 'string' },
  'custom-scheme': { type: 'string' },
  description: { type: 'string' },
  'public-url': { type: 'string' },
  'clear-events': { type: 'boolean' },
  'clear-projection': { type: 'boolean' },
  'clear-allow-from': { type: 'boolean' },
  'clear-public-keys': { type: 'boolean' },
  'retire-after': { type: 'string' },
  type: { type: 'string' },
  server: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  body: { type: 'boolean' },
  json: { type: 'boolean' },
  yes: { type: 'boolean' },
} as const;

type Option = keyof typeof OPTIONS;
type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

/** The options every endpoint setting takes, in add and in update. */
const SETTINGS: readonly Option[] = [
  'public-key',
  'instructions-file',
  'events',
  'retention',
  'dedupe-window',
  'tolerance',
  'max-attempts',
  'max-body',
  'seal-body',
  'legacy-sha1',
  'allow-from',
  'rate',
  'burst',
  'projection',
  'custom-scheme',
  'description',
];

/** Which options each subcommand takes (anything else is a usage error, not silently ignored). */
const SUBS: Record<string, readonly Option[]> = {
  add: ['provider', 'secret', 'generate-secret', 'public-url', ...SETTINGS],
  list: ['json'],
  show: ['json'],
  update: [
    ...SETTINGS,
    'no-seal-body',
    'no-legacy-sha1',
    'clear-events',
    'clear-projection',
    'clear-allow-from',
    'clear-public-keys',
    // Refused with a pointer to rotate-secret, rather than as an unknown option.
    'secret',
    'generate-secret',
  ],
  rm: ['yes'],
  'rotate-secret': ['secret', 'generate-secret', 'retire-after'],
  'rotate-url': ['public-url'],
  test: ['type', 'server'],
  events: ['state', 'limit', 'json'],
  event: ['body', 'json'],
  replay: [],
  purge: [],
};

/** Retired secrets are dropped from the configuration this long after they stopped working. */
const RETIRED_KEPT_MS = 30 * 86_400_000;
const DEFAULT_RETIRE_AFTER_MS = 24 * 3_600_000;
/** Largest instructions file read (the configuration takes at most 20000 characters). */
const MAX_FILE_BYTES = 256 * 1024;
/** Presets whose provider issues the signing secret itself (a generated one cannot be set there). */
const PROVIDER_ISSUED: readonly ProviderName[] = ['stripe', 'slack', 'shopify', 'linear', 'hookdeck', 'svix'];

const usage = (message: string) =>
  new GatehouseError('usage', message, { hint: 'run `gatehouse webhook --help` for every subcommand and option' });

const csv = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function seconds(flag: string, text: string): number {
  try {
    return parseDuration(text) / 1000;
  } catch {
    throw new GatehouseError('usage', `invalid ${flag} ${JSON.stringify(truncateText(text, 40))}`, {
      hint: 'use a number and a unit: 45s, 90m, 12h, 7d, 2w',
    });
  }
}

function wholeNumber(flag: string, text: string, lo: number, hi: number): number {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < lo || n > hi)
    throw new GatehouseError('usage', `invalid ${flag} ${JSON.stringify(truncateText(text, 40))}`, {
      hint: `a whole number from ${lo} to ${hi}`,
    });
  return n;
}

/** `1048576`, `512KiB`, `1MiB` (also `KB`/`MB`: 1000-based). */
function bytes(text: string): number {
  const m = /^(\d{1,9})\s*(B|KiB|MiB|KB|MB|k|K|M)?$/.exec(text.trim());
  const unit: Record<string, number> = {
    B: 1,
    KiB: 1024,
    k: 1024,
    K: 1024,
    MiB: 1024 ** 2,
    M: 1024 ** 2,
    KB: 1e3,
    MB: 1e6,
  };
  if (!m)
    throw new GatehouseError('usage', `invalid --max-body ${JSON.stringify(truncateText(text, 40))}`, {
      hint: 'e.g. 1MiB, 256KiB or 1048576 (bytes)',
    });
  return Number(m[1]) * (m[2] ? unit[m[2]]! : 1);
}

/** `50/s`, `50` (per second) or `600/m`. */
function rate(text: string): number {
  const m = /^(\d{1,6}(?:\.\d{1,3})?)\s*(?:\/\s*([sm]))?$/.exec(text.trim());
  const n = m ? Number(m[1]) / (m[2] === 'm' ? 60 : 1) : NaN;
  if (!m || !(n > 0))
    throw new GatehouseError('usage', `invalid --rate ${JSON.stringify(truncateText(text, 40))}`, {
      hint: 'e.g. --rate 50/s (or 600/m)',
    });
  return n;
}

function readText(flag: string, file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new GatehouseError(
      'not_found',
      `${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        hint: 'give the path of a readable file',
      },
    );
  }
  if (size > MAX_FILE_BYTES)
    throw new GatehouseError('input_too_large', `${flag} ${file} is ${size} bytes, over ${MAX_FILE_BYTES}`, {
      hint: 'shorten it',
    });
  const buf = readFileSync(file);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new GatehouseError('invalid_input', `${flag} ${file} is not UTF-8 text`, { hint: 'save it as UTF-8' });
  }
}

function readCustom(file: string): CustomScheme {
  const text = readText('--custom-scheme', file);
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as CustomScheme;
  } catch (e) {
    throw new GatehouseError(
      'invalid_input',
      `--custom-scheme ${file} is not a JSON object (${(e as Error).message})`,
      {
        hint: 'e.g. {"header": "X-Signature", "algorithm": "sha256", "encoding": "hex", "template": "{body}"}',
      },
    );
  }
}

/** The settings an add or update sets, each checked (the whole result is validated again when stored). */
interface Changes {
  fields: Partial<EndpointConfig>;
  perSecond?: number;
  burst?: number;
  instructions?: string;
}

function changesFrom(v: Values): Changes {
  const both = (a: Option, b: Option) => {
    if (v[a] !== undefined && v[b] !== undefined) throw usage(`--${a} and --${b} cannot be used together`);
  };
  both('seal-body', 'no-seal-body');
  both('legacy-sha1', 'no-legacy-sha1');
  both('events', 'clear-events');
  both('projection', 'clear-projection');
  both('allow-from', 'clear-allow-from');
  both('public-key', 'clear-public-keys');
  const f: Partial<EndpointConfig> = {};
  if (v.description !== undefined) f.description = v.description;
  if (v['public-key'] !== undefined) f.publicKeys = v['public-key'];
  if (v['clear-public-keys']) f.publicKeys = [];
  if (v.events !== undefined) f.events = csv(v.events);
  if (v['clear-events']) f.events = [];
  if (v.projection !== undefined) f.projection = csv(v.projection);
  if (v['clear-projection']) f.projection = [];
  if (v['allow-from'] !== undefined) f.allowFrom = csv(v['allow-from']);
  if (v['clear-allow-from']) f.allowFrom = [];
  if (v.retention !== undefined) f.retentionS = seconds('--retention', v.retention);
  if (v['dedupe-window'] !== undefined) f.dedupeS = seconds('--dedupe-window', v['dedupe-window']);
  if (v.tolerance !== undefined) f.toleranceS = seconds('--tolerance', v.tolerance);
  if (v['max-attempts'] !== undefined) f.maxAttempts = wholeNumber('--max-attempts', v['max-attempts'], 1, 100);
  if (v['max-body'] !== undefined) f.maxBodyBytes = bytes(v['max-body']);
  if (v['seal-body'] || v['no-seal-body']) f.sealBody = !!v['seal-body'];
  if (v['legacy-sha1'] || v['no-legacy-sha1']) f.legacySha1 = !!v['legacy-sha1'];
  if (v['custom-scheme'] !== undefined) f.custom = readCustom(v['custom-scheme']);
  return {
    fields: f,
    perSecond: v.rate === undefined ? undefined : rate(v.rate),
    burst: v.burst === undefined ? undefined : wholeNumber('--burst', v.burst, 1, 100_000),
    instructions:
      v['instructions-file'] === undefined ? undefined : readText('--instructions-file', v['instructions-file']),
  };
}

function applyChanges(c: EndpointConfig, ch: Changes, now: string): EndpointConfig {
  return {
    ...c,
    ...ch.fields,
    rate: { perSecond: ch.perSecond ?? c.rate.perSecond, burst: ch.burst ?? c.rate.burst },
    ...(ch.instructions !== undefined
      ? { instructions: { version: (c.instructions?.version ?? 0) + 1, text: ch.instructions, updatedAt: now } }
      : {}),
  };
}

/** A secret in the form the preset expects: Standard Webhooks' `whsec_` + base64, else 32 bytes as hex. */
function newSecretValue(provider: ProviderName): string {
  return provider === 'standard-webhooks' || provider === 'svix'
    ? `whsec_${randomBytes(24).toString('base64')}`
    : randomBytes(32).toString('hex');
}

/** Stores a generated secret as `webhooks/NAME.secret-<UTC yyyymmddHHMMSS>` and returns its reference. */
async function storeGeneratedSecret(rt: Runtime, name: string, value: string): Promise<string> {
  await rt.vault.createVault('webhooks').catch((e: unknown) => {
    if (!(e instanceof GatehouseError && e.code === 'conflict')) throw e;
  });
  const taken = new Set((await rt.vault.listItems('webhooks')).find((i) => i.item === name)?.fields ?? []);
  const stamp = cutText(new Date().toISOString().replace(/\D/g, ''), 14);
  let field = `secret-${stamp}`;
  for (let n = 2; taken.has(field); n++) field = `secret-${stamp}-${n}`;
  await rt.vault.setField(`webhooks/${name}.${field}`, value, {
    description: `webhook endpoint ${name}: verification secret`,
  });
  return `vault:webhooks/${name}.${field}`;
}

/** A `--secret` reference must name a field that exists (a typo would refuse every event). */
async function checkSecretExists(rt: Runtime, ref: string): Promise<void> {
  const f = parseFieldRef(ref.slice('vault:'.length));
  const item = (await rt.vault.listItems(f.vault).catch(() => [])).find((i) => i.item === f.item);
  if (!item?.fields.includes(f.field))
    throw new GatehouseError('not_found', `--secret ${ref}: no such vault field`, {
      hint: `store the provider's secret first: gatehouse vault set ${f.vault}/${f.item}.${f.field} (the value is read from stdin), or use --generate-secret`,
    });
}

/** Where a local `gatehouse serve` listens, as a base URL (an any-address listen is reached on loopback). */
function localBase(rt: Runtime, env: NodeJS.ProcessEnv): string {
  const l = parseListen(env.GATEHOUSE_LISTEN ?? rt.config.server.listen ?? '127.0.0.1:3000');
  const host = l.host === '0.0.0.0' || l.host === '::' ? '127.0.0.1' : l.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${l.port}`;
}

function baseUrl(flag: string, text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new GatehouseError('usage', `invalid ${flag} ${JSON.stringify(truncateText(text, 80))}`, {
      hint: 'e.g. https://gatehouse.example.com',
    });
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password)
    throw new GatehouseError('usage', `${flag} must be an http(s) URL without query, fragment or credentials`, {
      hint: 'e.g. https://gatehouse.example.com',
    });
  return u.href.replace(/\/+$/, '');
}

/** The public base providers post to, and whether it was guessed from the local listen address. */
function publicBase(rt: Runtime, v: Values, env: NodeJS.ProcessEnv): { base: string; guessed: boolean } {
  if (v['public-url'] !== undefined) return { base: baseUrl('--public-url', v['public-url']), guessed: false };
  if (env.GATEHOUSE_PUBLIC_URL)
    return { base: baseUrl('GATEHOUSE_PUBLIC_URL', env.GATEHOUSE_PUBLIC_URL), guessed: false };
  return { base: localBase(rt, env), guessed: true };
}

function printUrl(ctx: CliContext, name: string, pub: { base: string; guessed: boolean }, urlKey: string): void {
  write(
    ctx.stdout,
    `\nURL (shown once: it is not stored in the clear; \`gatehouse webhook rotate-url ${name}\` issues a new one):\n  ${pub.base}/webhooks/in/${urlKey}`,
  );
  if (pub.guessed)
    write(
      ctx.stdout,
      `  (this is the local serve address; providers need the address they reach Gatehouse at: pass --public-url or set GATEHOUSE_PUBLIC_URL, and put the same /webhooks/in/... path after it)`,
    );
}

function printSecret(ctx: CliContext, ref: string, value: string): void {
  write(ctx.stdout, `\nsecret (shown once; stored in the vault as ${ref}):\n  ${value}`);
}

const PROVIDER_PLACE: Partial<Record<ProviderName, string>> = {
  github:
    'the repository or organisation: Settings → Webhooks → Add webhook (Payload URL, Content type application/json, Secret)',
  gitlab: 'the project: Settings → Webhooks (URL, Secret token)',
  stripe: 'Developers → Webhooks → Add endpoint; Stripe shows the signing secret (whsec_…): store it in the vault',
  slack: 'your app: Event Subscriptions (Request URL); the Signing Secret is under Basic Information',
  linear: 'Settings → API → Webhooks; Linear shows the signing secret',
  shopify: 'the app or store notification settings; the secret is the app’s client secret',
};

function printProviderSteps(ctx: CliContext, provider: ProviderName, hasSecret: boolean): void {
  const lines = [
    `\nat the provider (${provider}):`,
    '  - the URL above, as the webhook / payload URL',
    `  - content type application/json${provider === 'unsigned' ? '' : ' (the raw body is what is verified)'}`,
  ];
  if (hasSecret) lines.push('  - the secret (the same value as the vault field above)');
  if (PROVIDER_PLACE[provider]) lines.push(`  - where: ${PROVIDER_PLACE[provider]}`);
  write(ctx.stdout, lines.join('\n'));
}

function warnUnsigned(ctx: CliContext, name: string, allowFrom: readonly string[]): void {
  write(
    ctx.stderr,
    `WARNING: webhook endpoint ${name} is UNSIGNED: its events are NOT VERIFIED. Anything posted to its URL from ${allowFrom.join(', ')} is queued and shown to agents as an event. Use a signed preset whenever the sender supports one.`,
  );
}

function warnProviderIssued(ctx: CliContext, name: string, provider: ProviderName): void {
  if (PROVIDER_ISSUED.includes(provider))
    write(
      ctx.stderr,
      `note: ${provider} usually issues its own signing secret. If it cannot be set there, store the provider's secret with \`gatehouse vault set VAULT/ITEM.FIELD\` and switch to it with \`gatehouse webhook rotate-secret ${name} --secret vault:VAULT/ITEM.FIELD --retire-after now\`.`,
    );
}

const ago = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172_800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86_400)}d`;
};

const span = (s: number): string =>
  s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;

function secretState(s: EndpointSecret, now: number): string {
  if (s.retireAt === undefined) return 'active';
  const at = Date.parse(s.retireAt);
  return at > now ? `retiring at ${s.retireAt} (in ${ago(at - now)})` : `retired at ${s.retireAt}`;
}

const noStats: InboxStats = { ready: 0, leased: 0, dead: 0, oldest: null, duplicates: 0, seq: 0 };

function showText(e: Endpoint, st: InboxStats, now: number): string {
  const c = e.config;
  const out: string[] = [`webhook endpoint ${e.name} — ${c.provider}`];
  const kv = (k: string, val: string) => out.push(`${`${k}:`.padEnd(15)}${val}`.trimEnd());
  if (c.description) kv('description', visible(c.description));
  kv('created', `${e.createdAt}   updated ${e.updatedAt}`);
  if (c.provider !== 'unsigned' || c.secrets.length) {
    kv('secrets', c.secrets.length ? '' : '(none)');
    for (const s of c.secrets) out.push(`  ${visible(s.ref)}  added ${s.addedAt}  ${secretState(s, now)}`);
  }
  if (c.publicKeys.length) kv('public keys', c.publicKeys.join(', '));
  if (c.custom) kv('custom scheme', visible(JSON.stringify(c.custom)));
  kv('allow from', c.allowFrom.length ? c.allowFrom.join(', ') : '(any address)');
  kv('events', c.events.length ? visible(c.events.join(', ')) : '(every type)');
  kv('projection', c.projection.length ? visible(c.projection.join(', ')) : '(the whole body)');
  kv('retention', `${span(c.retentionS)}   dedupe window ${span(c.dedupeS)}   tolerance ${span(c.toleranceS)}`);
  kv(
    'delivery',
    `at most ${c.maxAttempts} attempts   bodies up to ${c.maxBodyBytes} bytes${c.sealBody ? ', sealed at rest' : ''}`,
  );
  kv('rate', `${c.rate.perSecond}/s, burst ${c.rate.burst}`);
  if (c.legacySha1) kv('legacy sha1', 'accepted (X-Hub-Signature when SHA-256 is absent)');
  if (c.instructions) {
    kv('instructions', `version ${c.instructions.version}, updated ${c.instructions.updatedAt}`);
    out.push(block(c.instructions.text.trimEnd()).replace(/^/gm, '  | '));
  } else kv('instructions', '(none)');
  kv(
    'queue',
    `${st.ready} pending, ${st.leased} leased, ${st.dead} dead; ${st.duplicates} duplicates; last seq ${st.seq}${st.oldest ? `; oldest pending ${ago(now - Date.parse(st.oldest))} old` : ''}`,
  );
  return out.join('\n');
}

const eventRow = (e: StoredEvent) => ({
  id: e.id,
  seq: String(e.seq),
  state: e.state,
  type: visible(truncateText(e.type ?? '-', 40)),
  attempts: `${e.attempts}/${e.maxAttempts}`,
  received: e.receivedAt,
  outcome: visible(truncateText([e.outcome, e.note].filter(Boolean).join(': ') || '-', 60)),
});

/** An event for operators: everything but the body (and the lease token, which is never stored). */
const eventMeta = (e: StoredEvent) => ({
  id: e.id,
  endpoint: e.endpoint,
  seq: e.seq,
  state: e.state,
  provider: e.provider,
  eventId: e.eventId,
  type: e.type,
  receivedAt: e.receivedAt,
  verified: e.verified,
  headers: e.headers,
  bodyBytes: e.bodyBytes,
  sealed: e.sealed,
  attempts: e.attempts,
  maxAttempts: e.maxAttempts,
  leaseUntil: e.leaseUntil === null ? null : new Date(e.leaseUntil).toISOString(),
  outcome: e.outcome,
  note: e.note,
  doneAt: e.doneAt,
  intact: e.intact,
});

async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (!(ctx.stdin as NodeJS.ReadStream).isTTY) return false;
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function checkEventId(id: string): string {
  if (!/^whe_[A-Za-z0-9_-]{8,40}$/.test(id))
    throw new GatehouseError('usage', `${JSON.stringify(truncateText(id, 60))} is not a webhook event id`, {
      hint: 'event ids look like whe_…; see `gatehouse webhook events NAME`',
    });
  return id;
}

/**
 * `gatehouse webhook`: operators' management of inbound webhook endpoints and their events.
 * Secrets stay in the vault (a generated one is printed once); the URL key is printed once when
 * made and never shown again by list or show. Every change is an audit record (`webhook_admin`).
 */
export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const allowed = SUBS[sub];
  if (!allowed)
    throw new GatehouseError('usage', `unknown webhook command ${JSON.stringify(truncateText(sub, 40))}`, {
      hint: USAGE,
    });
  const { values: v, positionals } = parse(rest, OPTIONS);
  for (const k of Object.keys(v) as Option[])
    if (!allowed.includes(k)) throw usage(`--${k} is not an option of \`gatehouse webhook ${sub}\``);
  if ((sub === 'list' || sub === 'purge') && positionals.length) throw usage(`webhook ${sub} takes no arguments`);
  const arg = sub === 'list' || sub === 'purge' ? '' : onlyPositional(positionals);
  if (['event', 'replay'].includes(sub)) checkEventId(arg);
  else if (arg) checkEndpointName(arg);
  if (v.secret !== undefined && v['generate-secret'])
    throw usage('--secret and --generate-secret cannot be used together');
  const secretRef = v.secret === undefined ? undefined : checkSecretRef(v.secret);
  // Everything given is checked before the store is opened: bad input changes nothing.
  const changes = sub === 'add' || sub === 'update' ? changesFrom(v) : undefined;
  const state = v.state as EventState | undefined;
  if (state !== undefined && !EVENT_STATES.includes(state))
    throw usage(`--state must be one of ${EVENT_STATES.join(', ')}`);
  const limit = v.limit === undefined ? undefined : wholeNumber('--limit', v.limit, 1, 1000);
  let retireAfterMs: number | undefined;
  if (v['retire-after'] !== undefined)
    retireAfterMs = ['now', '0', '0s'].includes(v['retire-after'])
      ? 0
      : seconds('--retire-after', v['retire-after']) * 1000;
  if (v.server !== undefined) baseUrl('--server', v.server);
  if (v['public-url'] !== undefined) baseUrl('--public-url', v['public-url']);
  let provider: ProviderName | undefined;
  if (sub === 'add') {
    if (v.provider === undefined) throw usage(`webhook add needs --provider (one of ${PROVIDERS.join(', ')})`);
    if (!PROVIDERS.includes(v.provider as ProviderName))
      throw new GatehouseError('usage', `unknown --provider ${JSON.stringify(truncateText(v.provider, 40))}`, {
        hint: `use one of: ${PROVIDERS.join(', ')}`,
      });
    provider = v.provider as ProviderName;
    if (provider === 'custom' && !changes!.fields.custom)
      throw usage('the custom preset needs --custom-scheme FILE.json');
    if (provider !== 'custom' && changes!.fields.custom) throw usage('--custom-scheme is for --provider custom only');
    if (provider === 'unsigned' && (secretRef || v['generate-secret'] || changes!.fields.publicKeys?.length))
      throw usage('an unsigned endpoint has no secret or public key: it relies on --allow-from alone');
    if (provider === 'custom' && changes!.fields.custom?.algorithm === 'ed25519' && v['generate-secret'])
      throw usage('an ed25519 custom scheme verifies with the sender’s --public-key: there is no secret to generate');
    // Checked now, with a stand-in secret reference, so nothing is put in the vault for an endpoint
    // whose settings would be refused.
    const standIn = secretRef || v['generate-secret'] ? [{ ref: 'vault:webhooks/check.field', addedAt: '' }] : [];
    validateConfig(applyChanges(withDefaults({ provider, secrets: standIn }), changes!, new Date().toISOString()));
  }
  if (sub === 'update') {
    if (secretRef || v['generate-secret'])
      throw new GatehouseError('usage', 'webhook update does not change secrets', {
        hint: `use \`gatehouse webhook rotate-secret ${arg} --secret vault:VAULT/ITEM.FIELD\` (or --generate-secret); --retire-after now stops the old one at once`,
      });
    const ch = changes!;
    if (
      Object.keys(ch.fields).length === 0 &&
      ch.perSecond === undefined &&
      ch.burst === undefined &&
      ch.instructions === undefined
    )
      throw usage('webhook update needs at least one option to change');
  }
  if (sub === 'rotate-secret' && !secretRef && !v['generate-secret'])
    throw usage('webhook rotate-secret needs --secret vault:VAULT/ITEM.FIELD or --generate-secret');

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const by = `operator:${operator(ctx.env)}`;
    const audit = (target: string, outcome: string, detail: Record<string, unknown>) =>
      rt.audit.append({ phase: 'event', tool: 'webhook_admin', target, outcome, detail: { ...detail, by } });
    const now = Date.now();
    switch (sub) {
      case 'add': {
        const name = arg;
        const exists = await rt.webhookEndpoints.get(name).then(
          () => true,
          (e: unknown) => !(e instanceof GatehouseError && e.code === 'not_found'),
        );
        if (exists)
          throw new GatehouseError('conflict', `a webhook endpoint named ${name} already exists`, {
            hint: 'use `gatehouse webhook update`, or pick another name',
          });
        const pub = publicBase(rt, v, ctx.env);
        if (secretRef) await checkSecretExists(rt, secretRef);
        let generated: { ref: string; value: string } | undefined;
        if (v['generate-secret']) {
          const value = newSecretValue(provider!);
          generated = { ref: await storeGeneratedSecret(rt, name, value), value };
        }
        const ref = generated?.ref ?? secretRef;
        const at = new Date(now).toISOString();
        const config = applyChanges(
          withDefaults({ provider: provider!, secrets: ref ? [{ ref, addedAt: at }] : [] }),
          changes!,
          at,
        );
        const { endpoint, urlKey } = await rt.webhookEndpoints.add(name, config);
        await audit(name, 'add', {
          provider: endpoint.config.provider,
          secrets: endpoint.config.secrets.map((s) => s.ref),
          generatedSecret: !!generated,
          allowFrom: endpoint.config.allowFrom,
          events: endpoint.config.events,
        });
        if (endpoint.config.provider === 'unsigned') warnUnsigned(ctx, name, endpoint.config.allowFrom);
        if (generated) warnProviderIssued(ctx, name, endpoint.config.provider);
        write(ctx.stdout, `added webhook endpoint ${name} (${endpoint.config.provider})`);
        printUrl(ctx, name, pub, urlKey);
        if (generated) printSecret(ctx, generated.ref, generated.value);
        printProviderSteps(ctx, endpoint.config.provider, !!generated);
        if (!generated && ref) write(ctx.stdout, `  - the secret stored in ${ref}`);
        write(ctx.stdout, `\ncheck it: gatehouse webhook test ${name}   (with \`gatehouse serve\` running)`);
        return EXIT.ok;
      }
      case 'list': {
        const { endpoints, rejected } = await rt.webhookEndpoints.listChecked();
        const stats = await rt.webhookQueue.stats(
          endpoints.map((e) => e.name),
          now,
        );
        if (v.json) {
          write(
            ctx.stdout,
            JSON.stringify(
              {
                endpoints: endpoints.map((e) => ({
                  name: e.name,
                  provider: e.config.provider,
                  description: e.config.description,
                  stats: stats.get(e.name) ?? noStats,
                })),
                rejected,
              },
              null,
              2,
            ),
          );
        } else if (endpoints.length === 0 && rejected.length === 0) write(ctx.stdout, '(no webhook endpoints)');
        else {
          const rows: Record<string, string>[] = endpoints.map((e) => {
            const st = stats.get(e.name) ?? noStats;
            return {
              name: e.name,
              provider: e.config.provider,
              pending: String(st.ready),
              leased: String(st.leased),
              dead: String(st.dead),
              duplicates: String(st.duplicates),
              oldest: st.oldest ? ago(now - Date.parse(st.oldest)) : '-',
              description: visible(truncateText(e.config.description, 60)),
            };
          });
          for (const r of rejected)
            rows.push({
              name: r,
              provider: 'REJECTED',
              pending: '-',
              leased: '-',
              dead: '-',
              duplicates: '-',
              oldest: '-',
              description: 'fails its integrity check',
            });
          write(
            ctx.stdout,
            table(rows, ['name', 'provider', 'pending', 'leased', 'dead', 'duplicates', 'oldest', 'description']),
          );
        }
        for (const r of rejected)
          write(
            ctx.stderr,
            `WARNING: webhook endpoint ${r} fails its integrity check: written or changed without the master key, so its events are refused. Remove it with \`gatehouse webhook rm ${r}\` and add it again.`,
          );
        return EXIT.ok;
      }
      case 'show': {
        const e = await rt.webhookEndpoints.get(arg);
        const st = (await rt.webhookQueue.stats([arg], now)).get(arg) ?? noStats;
        if (v.json) write(ctx.stdout, JSON.stringify({ ...e, stats: st }, null, 2));
        else write(ctx.stdout, showText(e, st, now));
        return EXIT.ok;
      }
      case 'update': {
        const at = new Date(now).toISOString();
        const e = await rt.webhookEndpoints.update(arg, (c) => {
          if (changes!.fields.custom && c.provider !== 'custom')
            throw usage('--custom-scheme is for custom endpoints only');
          if (c.provider === 'unsigned' && changes!.fields.publicKeys?.length)
            throw usage('an unsigned endpoint has no public key: it relies on --allow-from alone');
          return applyChanges(c, changes!, at);
        });
        const changed = [
          ...Object.keys(changes!.fields),
          ...(changes!.perSecond !== undefined || changes!.burst !== undefined ? ['rate'] : []),
          ...(changes!.instructions !== undefined ? ['instructions'] : []),
        ];
        await audit(arg, 'update', { changed, instructionsVersion: e.config.instructions?.version });
        write(
          ctx.stdout,
          `updated webhook endpoint ${arg}: ${changed.join(', ')}${changes!.instructions !== undefined ? ` (instructions are now version ${e.config.instructions!.version})` : ''}`,
        );
        if (e.config.provider === 'unsigned') warnUnsigned(ctx, arg, e.config.allowFrom);
        return EXIT.ok;
      }
      case 'rm': {
        const e = await rt.webhookEndpoints.get(arg).catch((err: unknown) => {
          // A row that fails its integrity check is removed all the same: that is how it goes.
          if (err instanceof GatehouseError && err.code === 'integrity_failed') return undefined;
          throw err;
        });
        const n = await rt.webhookQueue.count(arg);
        if (
          !v.yes &&
          !(await confirm(ctx, `Remove webhook endpoint ${arg} and its ${n} events? Its URL stops at once. [y/N] `))
        ) {
          write(ctx.stderr, `not removed (pass --yes to remove without a prompt)`);
          return EXIT.failure;
        }
        await rt.webhookEndpoints.remove(arg);
        await audit(arg, 'rm', { events: n, provider: e?.config.provider ?? null });
        write(ctx.stdout, `removed webhook endpoint ${arg} and its ${n} event${n === 1 ? '' : 's'}`);
        const generated = e?.config.secrets.filter((s) => s.ref.startsWith(`vault:webhooks/${arg}.`)) ?? [];
        if (generated.length)
          write(
            ctx.stdout,
            `its generated secrets stay in the vault; delete them with: gatehouse vault rm webhooks/${arg}`,
          );
        return EXIT.ok;
      }
      case 'rotate-secret': {
        const cur = await rt.webhookEndpoints.get(arg);
        if (cur.config.provider === 'unsigned')
          throw new GatehouseError('usage', `webhook endpoint ${arg} is unsigned: it has no secret to rotate`, {
            hint: 'add a signed endpoint instead, and remove this one',
          });
        if (secretRef) await checkSecretExists(rt, secretRef);
        if (secretRef && cur.config.secrets.some((s) => s.ref === secretRef))
          throw new GatehouseError('conflict', `${secretRef} is already a secret of ${arg}`, {
            hint: 'store the new secret in another vault field',
          });
        let generated: { ref: string; value: string } | undefined;
        if (v['generate-secret']) {
          const value = newSecretValue(cur.config.provider);
          generated = { ref: await storeGeneratedSecret(rt, arg, value), value };
        }
        const ref = (generated?.ref ?? secretRef)!;
        const retireAt = new Date(now + (retireAfterMs ?? DEFAULT_RETIRE_AFTER_MS)).toISOString();
        const retiring: EndpointSecret[] = [];
        const dropped: string[] = [];
        const e = await rt.webhookEndpoints.update(arg, (c) => {
          retiring.length = 0;
          dropped.length = 0;
          const active = new Set(activeSecrets(c, now));
          const kept: EndpointSecret[] = [];
          for (const s of c.secrets) {
            if (active.has(s)) {
              // A secret already due to retire sooner keeps its earlier time.
              const r = s.retireAt !== undefined && s.retireAt < retireAt ? s.retireAt : retireAt;
              const next = { ...s, retireAt: r };
              retiring.push(next);
              kept.push(next);
            } else if (Date.parse(s.retireAt!) < now - RETIRED_KEPT_MS) dropped.push(s.ref);
            else kept.push(s);
          }
          return { ...c, secrets: [...kept, { ref, addedAt: new Date(now).toISOString() }] };
        });
        await audit(arg, 'rotate-secret', {
          added: ref,
          generatedSecret: !!generated,
          retiring: retiring.map((s) => ({ ref: s.ref, retireAt: s.retireAt })),
          dropped,
        });
        write(
          ctx.stdout,
          `added secret ${ref} to webhook endpoint ${arg} (${e.config.secrets.length} secrets configured)`,
        );
        if (generated) {
          printSecret(ctx, generated.ref, generated.value);
          warnProviderIssued(ctx, arg, cur.config.provider);
        }
        for (const s of retiring) {
          const at = Date.parse(s.retireAt!);
          write(
            ctx.stdout,
            at <= now
              ? `the old secret ${s.ref} stopped working now`
              : `the old secret ${s.ref} keeps working until ${s.retireAt} (in ${ago(at - now)}): set the new one at the provider before then`,
          );
        }
        if (dropped.length) write(ctx.stdout, `dropped secrets retired over 30 days ago: ${dropped.join(', ')}`);
        return EXIT.ok;
      }
      case 'rotate-url': {
        const pub = publicBase(rt, v, ctx.env);
        const { urlKey } = await rt.webhookEndpoints.newUrlKey(arg);
        await audit(arg, 'rotate-url', {});
        write(ctx.stdout, `issued a new URL for webhook endpoint ${arg}; the old URL stopped working now`);
        printUrl(ctx, arg, pub, urlKey);
        write(ctx.stdout, '\nset it at the provider as the webhook / payload URL.');
        return EXIT.ok;
      }
      case 'test':
        return await sendTest(rt, ctx, arg, v);
      case 'events': {
        await rt.webhookEndpoints.get(arg);
        const list = await rt.webhookQueue.events(arg, { state, limit }, now);
        if (v.json) write(ctx.stdout, JSON.stringify(list.map(eventMeta), null, 2));
        else if (list.length === 0) write(ctx.stdout, '(no events)');
        else
          write(
            ctx.stdout,
            table(list.map(eventRow), ['id', 'seq', 'state', 'type', 'attempts', 'received', 'outcome']),
          );
        return EXIT.ok;
      }
      case 'event': {
        const e = await rt.webhookQueue.get(arg, now);
        if (!e)
          throw new GatehouseError('not_found', `no webhook event ${arg} (or it is past its retention)`, {
            hint: 'see `gatehouse webhook events NAME`',
          });
        let text: string | undefined;
        if (v.body) {
          try {
            text = rt.operatorRedactor.scrub(new TextDecoder('utf-8', { fatal: true }).decode(e.body));
          } catch {
            text = undefined;
          }
        }
        const headers = Object.fromEntries(
          Object.entries(e.headers).map(([k, val]) => [k, rt.operatorRedactor.scrub(val)]),
        );
        if (v.json) {
          write(
            ctx.stdout,
            JSON.stringify(
              { ...eventMeta(e), headers, ...(v.body ? { body: text ?? null, binary: text === undefined } : {}) },
              null,
              2,
            ),
          );
          return EXIT.ok;
        }
        const m = eventMeta(e);
        const lines = [
          `${m.id} — ${m.endpoint} #${m.seq}, ${m.state}`,
          ...(m.intact
            ? []
            : ['INTEGRITY FAILED: this row was written or changed without the master key; it is never delivered']),
          `provider:  ${m.provider}   verified: ${visible(m.verified)}`,
          `type:      ${visible(m.type ?? '-')}   event id: ${visible(m.eventId ?? '-')}`,
          `received:  ${m.receivedAt}`,
          `attempts:  ${m.attempts}/${m.maxAttempts}${m.leaseUntil ? `   leased until ${m.leaseUntil}` : ''}`,
          `outcome:   ${visible(m.outcome ?? '-')}${m.note ? `   note: ${visible(m.note)}` : ''}${m.doneAt ? `   at ${m.doneAt}` : ''}`,
          `body:      ${m.bodyBytes} bytes${m.sealed ? ', sealed at rest' : ''}`,
          `headers:`,
          ...Object.entries(headers).map(([k, val]) => `  ${visible(k)}: ${visible(val)}`),
        ];
        write(ctx.stdout, lines.join('\n'));
        if (v.body)
          write(
            ctx.stdout,
            text === undefined ? `\n(the body is binary: ${e.bodyBytes} bytes, not shown)` : `\n${block(text)}`,
          );
        return EXIT.ok;
      }
      case 'replay': {
        const e = await rt.webhookQueue.replay(arg, now);
        await rt.audit.append({
          phase: 'event',
          tool: 'webhook_replay',
          target: e.endpoint,
          outcome: 'ok',
          detail: { event: arg, by },
        });
        write(ctx.stdout, `event ${arg} of ${e.endpoint} is pending again (attempts reset; it was ${e.state})`);
        return EXIT.ok;
      }
      case 'purge': {
        const r = await rt.webhookQueue.purge(now);
        write(ctx.stdout, `purged ${r.events} events past their retention and ${r.keys} dedupe keys past their window`);
        return EXIT.ok;
      }
      default:
        return EXIT.usage;
    }
  } finally {
    await rt.close();
  }
};

/**
 * How many events an endpoint holds (every state, expired or not): what `rm` deletes with it.
 * NOTE: the queue has no count of its own; this is one read-only query on its table.
 */
/** `webhook test`: a sample event signed with the newest active secret, posted to the running server. */
async function sendTest(rt: Runtime, ctx: CliContext, name: string, v: Values): Promise<number> {
  const e = await rt.webhookEndpoints.get(name);
  const now = Date.now();
  const newest = activeSecrets(e.config, now)
    .sort((a, b) => a.addedAt.localeCompare(b.addedAt))
    .pop();
  // INTERNAL USE: the secret signs the sample here and goes nowhere else.
  const secret = newest ? await rt.vault.openField(newest.ref.replace(/^vault:/, '')) : undefined;
  if (secret !== undefined) rt.addSecret(secret);
  const base =
    v.server !== undefined
      ? baseUrl('--server', v.server)
      : ctx.env.GATEHOUSE_URL
        ? baseUrl('GATEHOUSE_URL', ctx.env.GATEHOUSE_URL)
        : localBase(rt, ctx.env);
  const url = `${base}/webhooks/in/${await rt.webhookEndpoints.urlKey(name)}`;
  const sample = sampleEvent(e.config.provider, now, v.type, e.config.custom);
  const headers = signSample(e.config, secret, sample.body, now, sample.type, url);
  write(
    ctx.stdout,
    `POST ${base}/webhooks/in/<${name}'s URL key>  (${e.config.provider} sample, type ${visible(sample.type)}${newest ? `, signed with ${newest.ref}` : ''})`,
  );
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: sample.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new GatehouseError(
      cause === 'TimeoutError' ? 'timeout' : 'upstream_error',
      `could not reach ${base} (${cause ?? 'error'})`,
      {
        hint:
          cause === 'ECONNREFUSED'
            ? `is \`gatehouse serve\` running? Start it, or pass --server URL (or set GATEHOUSE_URL) where it listens`
            : 'check --server (or GATEHOUSE_URL) and that `gatehouse serve` is reachable there',
      },
    );
  }
  const answer = rt.operatorRedactor.scrub(await res.text());
  write(ctx.stdout, `${res.status} ${res.statusText}`);
  if (answer) write(ctx.stdout, block(truncateText(answer, 4000)));
  if (res.status >= 200 && res.status < 300) {
    write(ctx.stdout, `see it with: gatehouse webhook events ${name}`);
    return EXIT.ok;
  }
  write(
    ctx.stderr,
    res.status === 404
      ? 'the server does not know this URL: is this the server of this store, and does it serve /webhooks/in/?'
      : `the server refused the sample event (${res.status})`,
  );
  return EXIT.failure;
}
