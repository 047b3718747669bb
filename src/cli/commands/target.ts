import { createInterface } from 'node:readline/promises';
import { GatehouseError, truncateText } from '../../core/index.js';
import { bootRuntime, type Runtime } from '../../server/index.js';
import { fetchHostKeyFingerprint } from '../../ssh/index.js';
import {
  baseUrlHost,
  checkSshHost,
  checkTargetName,
  isModelPreset,
  MODEL_PRESET_SPECS,
  MODEL_PRESETS,
  parseSecretRef,
  validateHttpConfig,
  validateSshConfig,
  type HttpTargetConfig,
  type SshTargetConfig,
  type Target,
} from '../../targets/index.js';
import { parseAuthSpec, type HttpAuth } from '../../upstream/index.js';
import { bindingMatches, parseBinding, parseFieldRef } from '../../vault/index.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse target add http NAME --base-url URL --auth bearer|basic|none|header:NAME|query:NAME [--secret vault:VAULT/ITEM.FIELD]
                                 [--description TEXT] [--allow-private] [--follow-redirects]
  gatehouse target add http NAME --preset anthropic|openai --secret vault:VAULT/ITEM.FIELD [--base-url URL] [--no-dlp]
                                 a model API: its base URL and auth header, and the variables
                                 \`gatehouse run --model-gateway\` sets for an agent's SDK; DLP on
  (add http) --dlp / --no-dlp    scan request bodies before they leave (vault values, keys, dlp.patterns)
  gatehouse target add ssh NAME --host HOST [--port 22] --user USER --key vault:VAULT/ITEM.FIELD [--passphrase vault:...]
                                [--host-key SHA256:...] [--description TEXT]
  gatehouse target list [--json]
  gatehouse target update NAME [any add option; --no-allow-private, --no-follow-redirects]
  gatehouse target rm NAME
  gatehouse target trust NAME [--yes]     (ssh: show the server's host key fingerprint and pin it)`;

const OPTIONS = {
  preset: { type: 'string' },
  dlp: { type: 'boolean' },
  'no-dlp': { type: 'boolean' },
  'base-url': { type: 'string' },
  auth: { type: 'string' },
  secret: { type: 'string' },
  description: { type: 'string' },
  'allow-private': { type: 'boolean' },
  'no-allow-private': { type: 'boolean' },
  'follow-redirects': { type: 'boolean' },
  'no-follow-redirects': { type: 'boolean' },
  host: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
  passphrase: { type: 'string' },
  'host-key': { type: 'string' },
  json: { type: 'boolean' },
  yes: { type: 'boolean' },
} as const;

function port(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  // Digits only: Number() would also take ' 22', '0x16', '2.2e1' and '' (0).
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new GatehouseError('usage', `invalid --port ${JSON.stringify(truncateText(text, 20))}`, {
      hint: 'a port from 1 to 65535',
    });
  return n;
}

/**
 * A target's own credential must exist and be bound to the target (or its host) in the vault:
 * the same binding rule agents' handles obey, so a credential is never sent somewhere its owner
 * did not bind it to.
 */
async function checkSecret(rt: Runtime, ref: string, flag: string, target: string, host: string): Promise<void> {
  const { ref: fieldRef } = parseSecretRef(ref, flag);
  const f = parseFieldRef(fieldRef);
  const item = (await rt.vault.listItems(f.vault)).find((i) => i.item === f.item);
  if (!item || !item.fields.includes(f.field)) {
    throw new GatehouseError('not_found', `${flag} ${ref}: no such vault field`, {
      hint: `store it first: gatehouse vault set ${fieldRef} --bind target:${target}`,
    });
  }
  if (!item.bindings.some((b) => bindingMatches(parseBinding(b), { target, host }))) {
    throw new GatehouseError(
      'vault_handle_refused',
      `${flag} ${ref} is not bound to target ${target} or host ${host}`,
      {
        hint: `bind it: gatehouse vault bind ${f.vault}/${f.item} --bind target:${target}`,
      },
    );
  }
}

function row(t: Target): Record<string, string> {
  const where = t.kind === 'http' ? t.config.baseUrl : `${t.config.user}@${t.config.host}:${t.config.port}`;
  const secret = t.kind === 'http' ? (t.config.secret ?? '-') : t.config.key;
  const extra =
    t.kind === 'http'
      ? `auth=${t.config.auth.kind}${'name' in t.config.auth ? `:${t.config.auth.name}` : ''}${t.config.allowPrivate ? ' private-ok' : ''}`
      : `host-key=${t.config.hostKey ?? 'NOT PINNED'}`;
  return { name: t.name, kind: t.kind, where, credential: secret, settings: extra, description: t.description };
}

async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (!(ctx.stdin as NodeJS.ReadStream).isTTY) return false;
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

/** A target command with every flag parsed and checked, before anything is opened. */
export type TargetPlan =
  | { sub: 'help' }
  | { sub: 'list'; json: boolean }
  | { sub: 'rm' | 'trust'; name: string; yes: boolean }
  | { sub: 'add'; kind: 'http'; name: string; config: HttpTargetConfig; description: string }
  | { sub: 'add'; kind: 'ssh'; name: string; config: SshTargetConfig; description: string }
  | { sub: 'update'; name: string; values: Values; auth: HttpAuth | undefined; port: number | undefined };

/**
 * Parses and validates a target command. INVARIANT: every input either yields a plan or throws a
 * GatehouseError (usage or invalid_input) with a hint; nothing reaches a raw exception, and bad
 * input changes nothing because the store is opened only afterwards.
 */
export async function planTargetCommand(args: string[]): Promise<TargetPlan> {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') return { sub: 'help' };
  if (!['add', 'list', 'update', 'rm', 'trust'].includes(sub))
    throw new GatehouseError('usage', `unknown target command ${JSON.stringify(truncateText(sub, 40))}`, {
      hint: USAGE,
    });
  const { values: v, positionals } = parse(rest, OPTIONS);
  const auth = v.auth !== undefined ? guardedAuth(v.auth) : undefined;
  if (v.description !== undefined && v.description.length > 2000)
    throw new GatehouseError('invalid_input', '--description is over 2000 characters', { hint: 'shorten it' });
  if (sub === 'list') {
    if (positionals.length) throw new GatehouseError('usage', 'target list takes no NAME', { hint: USAGE });
    return { sub, json: !!v.json };
  }
  if (sub === 'add') {
    const [kind, name] = positionals;
    if ((kind !== 'http' && kind !== 'ssh') || !name || positionals.length !== 2)
      throw new GatehouseError('usage', 'target add needs a kind (http or ssh) and a NAME', { hint: USAGE });
    checkTargetName(name);
    if (kind === 'http') {
      const preset = v.preset;
      if (preset !== undefined && !isModelPreset(preset))
        throw new GatehouseError('usage', `unknown --preset ${JSON.stringify(truncateText(preset, 40))}`, {
          hint: `presets: ${MODEL_PRESETS.join(', ')}`,
        });
      if (preset !== undefined && auth)
        throw new GatehouseError('usage', '--preset sets the auth header; drop --auth', { hint: USAGE });
      const spec = preset !== undefined ? MODEL_PRESET_SPECS[preset] : undefined;
      const baseUrl = v['base-url'] ?? spec?.baseUrl;
      const how = auth ?? spec?.auth;
      if (!baseUrl || !how)
        throw new GatehouseError('usage', 'target add http needs --base-url and --auth (or --preset)', {
          hint: USAGE,
        });
      const config: HttpTargetConfig = {
        baseUrl,
        auth: how,
        secret: v.secret ?? null,
        allowPrivate: !!v['allow-private'],
        followRedirects: !!v['follow-redirects'],
        ...(preset !== undefined ? { model: preset } : {}),
        // DLP: on for model presets unless --no-dlp, on for any other target with --dlp.
        ...((preset !== undefined && !v['no-dlp']) || v.dlp ? { dlp: true } : {}),
      };
      return { sub, kind, name, config: await validateHttpConfig(name, config), description: v.description ?? '' };
    }
    if (!v.host || !v.user || !v.key)
      throw new GatehouseError('usage', 'target add ssh needs --host, --user and --key', { hint: USAGE });
    const config: SshTargetConfig = {
      host: v.host,
      port: port(v.port, 22),
      user: v.user,
      key: v.key,
      passphrase: v.passphrase ?? null,
      hostKey: v['host-key'] ?? null,
    };
    return { sub, kind, name, config: await validateSshConfig(config), description: v.description ?? '' };
  }
  const name = positionals[0];
  if (!name || positionals.length !== 1)
    throw new GatehouseError('usage', `target ${sub} needs one NAME`, { hint: USAGE });
  checkTargetName(name);
  if (sub === 'rm' || sub === 'trust') return { sub, name, yes: !!v.yes };
  // update: each given flag is checked now; the merged config is validated again by the repository.
  if (v['base-url'] !== undefined) baseUrlHost(v['base-url']);
  if (v.host !== undefined) checkSshHost(v.host);
  if (v.secret !== undefined) parseSecretRef(v.secret, '--secret');
  if (v.key !== undefined) parseSecretRef(v.key, '--key');
  if (v.passphrase !== undefined) parseSecretRef(v.passphrase, '--passphrase');
  return { sub: 'update', name, values: v, auth, port: v.port !== undefined ? port(v.port, 22) : undefined };
}

function guardedAuth(text: string): HttpAuth {
  try {
    return parseAuthSpec(text);
  } catch (e) {
    if (e instanceof GatehouseError) throw e;
    throw new GatehouseError('invalid_input', `invalid --auth ${JSON.stringify(truncateText(text, 60))}`, {
      hint: 'use one of: bearer, basic, none, header:NAME, query:NAME',
      cause: e,
    });
  }
}

export const run: CommandRunner = async (args, ctx) => {
  const plan = await planTargetCommand(args);
  if (plan.sub === 'help') {
    write(ctx.stdout, USAGE);
    return args[0] ? EXIT.ok : EXIT.usage;
  }
  const rt = await bootRuntime({ env: ctx.env });
  try {
    return await execute(plan, rt, ctx);
  } finally {
    await rt.close();
  }
};

async function execute(plan: Exclude<TargetPlan, { sub: 'help' }>, rt: Runtime, ctx: CliContext): Promise<number> {
  if (plan.sub === 'list') {
    const { targets: list, rejected } = await rt.targets.listChecked();
    write(
      ctx.stdout,
      plan.json
        ? JSON.stringify(list, null, 2)
        : table(list.map(row), ['name', 'kind', 'where', 'credential', 'settings', 'description']),
    );
    for (const r of rejected) {
      write(
        ctx.stderr,
        `WARNING: target ${r.name} (${r.kind}) fails its integrity check (${r.reason}): written or changed without the master key, so it is refused. Remove it with \`gatehouse target rm ${r.name}\` and add it again.`,
      );
    }
    return EXIT.ok;
  }
  if (plan.sub === 'rm') {
    await rt.targets.remove(plan.name);
    await rt.gate.event(null, 'cli:target.rm', 'ok', { target: plan.name });
    write(ctx.stdout, `removed target ${plan.name}`);
    return EXIT.ok;
  }
  if (plan.sub === 'add' && plan.kind === 'http') {
    const { name, config } = plan;
    if (config.secret) await checkSecret(rt, config.secret, '--secret', name, baseUrlHost(config.baseUrl));
    const t = await rt.targets.add('http', name, config, plan.description);
    await rt.gate.event(null, 'cli:target.add', 'ok', { target: t.name, kind: 'http' });
    warnIfCleartext(ctx.stderr, t.name, config);
    write(
      ctx.stdout,
      `added http target ${t.name} -> ${config.baseUrl}\ngrant it to a token: gatehouse token create --name NAME --grant tool:api_request --grant target:${t.name}`,
    );
    return EXIT.ok;
  }
  if (plan.sub === 'add') {
    const { name, config } = plan;
    await checkSecret(rt, config.key, '--key', name, config.host);
    if (config.passphrase) await checkSecret(rt, config.passphrase, '--passphrase', name, config.host);
    const t = await rt.targets.add('ssh', name, config, plan.description);
    await rt.gate.event(null, 'cli:target.add', 'ok', { target: t.name, kind: 'ssh' });
    write(ctx.stdout, `added ssh target ${t.name} -> ${config.user}@${config.host}:${config.port}`);
    if (!config.hostKey)
      write(
        ctx.stdout,
        `its host key is not pinned yet, so nothing will connect: run gatehouse target trust ${t.name}`,
      );
    return EXIT.ok;
  }
  const name = plan.name;
  const cur = await rt.targets.get(name);
  if (plan.sub === 'trust') {
    if (cur.kind !== 'ssh') throw new GatehouseError('usage', `target ${name} is not an ssh target`);
    const { fingerprint, keyType } = await fetchHostKeyFingerprint(cur.config.host, cur.config.port);
    write(
      ctx.stdout,
      `${cur.config.host}:${cur.config.port} presents a ${keyType} host key with fingerprint\n  ${fingerprint}`,
    );
    if (cur.config.hostKey)
      write(
        ctx.stdout,
        `currently pinned: ${cur.config.hostKey}${cur.config.hostKey === fingerprint ? ' (same)' : ' (DIFFERENT)'}`,
      );
    write(ctx.stdout, 'Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` run on the server itself.');
    const ok = plan.yes || (await confirm(ctx, 'Pin this key? [y/N] '));
    if (!ok) {
      write(ctx.stderr, 'not pinned (pass --yes to pin without a prompt)');
      return EXIT.failure;
    }
    await rt.targets.update(name, { config: { hostKey: fingerprint } });
    await rt.gate.event(null, 'cli:target.trust', 'ok', { target: name, fingerprint });
    write(ctx.stdout, `pinned ${fingerprint} for ${name}`);
    return EXIT.ok;
  }
  if (plan.sub !== 'update') return EXIT.usage;
  const v = plan.values;
  const bool = (yes: boolean | undefined, no: boolean | undefined, cur: boolean) => (yes ? true : no ? false : cur);
  const patch =
    cur.kind === 'http'
      ? {
          baseUrl: v['base-url'] ?? cur.config.baseUrl,
          auth: plan.auth ?? cur.config.auth,
          secret: v.secret ?? cur.config.secret,
          allowPrivate: bool(v['allow-private'], v['no-allow-private'], cur.config.allowPrivate),
          followRedirects: bool(v['follow-redirects'], v['no-follow-redirects'], cur.config.followRedirects),
        }
      : {
          host: v.host ?? cur.config.host,
          port: plan.port ?? cur.config.port,
          user: v.user ?? cur.config.user,
          key: v.key ?? cur.config.key,
          passphrase: v.passphrase ?? cur.config.passphrase,
          hostKey: v['host-key'] ?? cur.config.hostKey,
        };
  if (cur.kind === 'http' && v.secret)
    await checkSecret(rt, v.secret, '--secret', name, baseUrlHost((patch as HttpTargetConfig).baseUrl));
  if (cur.kind === 'ssh' && v.key)
    await checkSecret(rt, v.key, '--key', name, checkSshHost((patch as SshTargetConfig).host));
  await rt.targets.update(name, { description: v.description, config: patch });
  await rt.gate.event(null, 'cli:target.update', 'ok', { target: name });
  if (cur.kind === 'http') warnIfCleartext(ctx.stderr, name, patch as HttpTargetConfig);
  write(ctx.stdout, `updated target ${name}`);
  return EXIT.ok;
}

/**
 * A credential sent over plain http:// can be read by anyone on the path. Allowed (internal
 * services on a trusted network exist), but never silently: an operator who typed http:// for a
 * public API by mistake sees it here.
 */
function warnIfCleartext(stderr: NodeJS.WritableStream, name: string, config: HttpTargetConfig): void {
  baseUrlHost(config.baseUrl);
  const url = new URL(config.baseUrl);
  if (url.protocol !== 'http:' || config.auth.kind === 'none' || config.allowPrivate) return;
  write(
    stderr,
    `warning: target ${name} uses http://, so its credential travels unencrypted to ${url.host}; use https:// unless that network is trusted (then add --allow-private if it is a private address)`,
  );
}
