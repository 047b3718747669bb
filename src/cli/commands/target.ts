import { createInterface } from 'node:readline/promises';
import { GatehouseError } from '../../core/index.js';
import { bootRuntime } from '../../server/boot.js';
import type { Runtime } from '../../server/runtime.js';
import { fetchHostKeyFingerprint } from '../../ssh/index.js';
import { parseSecretRef, type HttpTargetConfig, type SshTargetConfig, type Target } from '../../targets/index.js';
import { parseAuthSpec } from '../../upstream/index.js';
import { bindingMatches, parseBinding, parseFieldRef } from '../../vault/index.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse target add http NAME --base-url URL --auth bearer|basic|none|header:NAME|query:NAME [--secret vault:VAULT/ITEM.FIELD]
                                 [--description TEXT] [--allow-private] [--follow-redirects]
  gatehouse target add ssh NAME --host HOST [--port 22] --user USER --key vault:VAULT/ITEM.FIELD [--passphrase vault:...]
                                [--host-key SHA256:...] [--description TEXT]
  gatehouse target list [--json]
  gatehouse target update NAME [any add option; --no-allow-private, --no-follow-redirects]
  gatehouse target rm NAME
  gatehouse target trust NAME [--yes]     (ssh: show the server's host key fingerprint and pin it)`;

const OPTIONS = {
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
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new GatehouseError('usage', `invalid --port ${text}`, { hint: 'a port from 1 to 65535' });
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
    throw new GatehouseError('not_found', `${flag} ${ref}: no such vault field`, { hint: `store it first: gatehouse vault set ${fieldRef} --bind target:${target}` });
  }
  if (!item.bindings.some((b) => bindingMatches(parseBinding(b), { target, host }))) {
    throw new GatehouseError('vault_handle_refused', `${flag} ${ref} is not bound to target ${target} or host ${host}`, {
      hint: `bind it: gatehouse vault set ${fieldRef} --bind target:${target}  (reads the value again from stdin)`,
    });
  }
}

function row(t: Target): Record<string, string> {
  const where = t.kind === 'http' ? t.config.baseUrl : `${t.config.user}@${t.config.host}:${t.config.port}`;
  const secret = t.kind === 'http' ? (t.config.secret ?? '-') : t.config.key;
  const extra = t.kind === 'http' ? `auth=${t.config.auth.kind}${'name' in t.config.auth ? `:${t.config.auth.name}` : ''}${t.config.allowPrivate ? ' private-ok' : ''}` : `host-key=${t.config.hostKey ?? 'NOT PINNED'}`;
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

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['add', 'list', 'update', 'rm', 'trust'].includes(sub)) throw new GatehouseError('usage', `unknown target command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values: v, positionals } = parse(rest, OPTIONS);
  let kind: 'http' | 'ssh' | undefined;
  let name: string | undefined;
  if (sub === 'add') {
    [kind, name] = positionals as ['http' | 'ssh', string];
    if ((kind !== 'http' && kind !== 'ssh') || !name || positionals.length !== 2) throw new GatehouseError('usage', 'target add needs a kind (http or ssh) and a NAME', { hint: USAGE });
  } else if (sub !== 'list') {
    name = positionals[0];
    if (!name || positionals.length !== 1) throw new GatehouseError('usage', `target ${sub} needs one NAME`, { hint: USAGE });
  }
  // Parse every flag before the store is opened: bad input changes nothing.
  const auth = v.auth ? parseAuthSpec(v.auth) : undefined;
  const p = port(v.port, 22);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    if (sub === 'list') {
      const list = await rt.targets.list();
      write(ctx.stdout, v.json ? JSON.stringify(list, null, 2) : table(list.map(row), ['name', 'kind', 'where', 'credential', 'settings', 'description']));
      return EXIT.ok;
    }
    if (sub === 'rm') {
      await rt.targets.remove(name!);
      await rt.gate.event(null, 'cli:target.rm', 'ok', { target: name });
      write(ctx.stdout, `removed target ${name}`);
      return EXIT.ok;
    }
    if (sub === 'add' && kind === 'http') {
      if (!v['base-url'] || !auth) throw new GatehouseError('usage', 'target add http needs --base-url and --auth', { hint: USAGE });
      const config: HttpTargetConfig = { baseUrl: v['base-url'], auth, secret: v.secret ?? null, allowPrivate: !!v['allow-private'], followRedirects: !!v['follow-redirects'] };
      if (config.secret) await checkSecret(rt, config.secret, '--secret', name!, new URL(config.baseUrl).hostname);
      const t = await rt.targets.add('http', name!, config, v.description ?? '');
      await rt.gate.event(null, 'cli:target.add', 'ok', { target: t.name, kind: 'http' });
      warnIfCleartext(ctx.stderr, t.name, config);
      write(ctx.stdout, `added http target ${t.name} -> ${config.baseUrl}\ngrant it to a token: gatehouse token create --name NAME --grant tool:api_request --grant target:${t.name}`);
      return EXIT.ok;
    }
    if (sub === 'add') {
      if (!v.host || !v.user || !v.key) throw new GatehouseError('usage', 'target add ssh needs --host, --user and --key', { hint: USAGE });
      const config: SshTargetConfig = { host: v.host, port: p, user: v.user, key: v.key, passphrase: v.passphrase ?? null, hostKey: v['host-key'] ?? null };
      await checkSecret(rt, config.key, '--key', name!, config.host);
      if (config.passphrase) await checkSecret(rt, config.passphrase, '--passphrase', name!, config.host);
      const t = await rt.targets.add('ssh', name!, config, v.description ?? '');
      await rt.gate.event(null, 'cli:target.add', 'ok', { target: t.name, kind: 'ssh' });
      write(ctx.stdout, `added ssh target ${t.name} -> ${config.user}@${config.host}:${config.port}`);
      if (!config.hostKey) write(ctx.stdout, `its host key is not pinned yet, so nothing will connect: run gatehouse target trust ${t.name}`);
      return EXIT.ok;
    }
    const cur = await rt.targets.get(name!);
    if (sub === 'trust') {
      if (cur.kind !== 'ssh') throw new GatehouseError('usage', `target ${name} is not an ssh target`);
      const { fingerprint, keyType } = await fetchHostKeyFingerprint(cur.config.host, cur.config.port);
      write(ctx.stdout, `${cur.config.host}:${cur.config.port} presents a ${keyType} host key with fingerprint\n  ${fingerprint}`);
      if (cur.config.hostKey) write(ctx.stdout, `currently pinned: ${cur.config.hostKey}${cur.config.hostKey === fingerprint ? ' (same)' : ' (DIFFERENT)'}`);
      write(ctx.stdout, 'Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` run on the server itself.');
      const ok = v.yes || (await confirm(ctx, 'Pin this key? [y/N] '));
      if (!ok) {
        write(ctx.stderr, 'not pinned (pass --yes to pin without a prompt)');
        return EXIT.failure;
      }
      await rt.targets.update(name!, { config: { hostKey: fingerprint } });
      await rt.gate.event(null, 'cli:target.trust', 'ok', { target: name, fingerprint });
      write(ctx.stdout, `pinned ${fingerprint} for ${name}`);
      return EXIT.ok;
    }
    // update
    const bool = (yes: boolean | undefined, no: boolean | undefined, cur: boolean) => (yes ? true : no ? false : cur);
    const patch =
      cur.kind === 'http'
        ? {
            baseUrl: v['base-url'] ?? cur.config.baseUrl,
            auth: auth ?? cur.config.auth,
            secret: v.secret ?? cur.config.secret,
            allowPrivate: bool(v['allow-private'], v['no-allow-private'], cur.config.allowPrivate),
            followRedirects: bool(v['follow-redirects'], v['no-follow-redirects'], cur.config.followRedirects),
          }
        : {
            host: v.host ?? cur.config.host,
            port: v.port ? p : cur.config.port,
            user: v.user ?? cur.config.user,
            key: v.key ?? cur.config.key,
            passphrase: v.passphrase ?? cur.config.passphrase,
            hostKey: v['host-key'] ?? cur.config.hostKey,
          };
    if (cur.kind === 'http' && v.secret) await checkSecret(rt, v.secret, '--secret', name!, new URL((patch as HttpTargetConfig).baseUrl).hostname);
    if (cur.kind === 'ssh' && v.key) await checkSecret(rt, v.key, '--key', name!, (patch as SshTargetConfig).host);
    await rt.targets.update(name!, { description: v.description, config: patch });
    await rt.gate.event(null, 'cli:target.update', 'ok', { target: name });
    if (cur.kind === 'http') warnIfCleartext(ctx.stderr, name!, patch as HttpTargetConfig);
    write(ctx.stdout, `updated target ${name}`);
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};

/**
 * A credential sent over plain http:// can be read by anyone on the path. Allowed (internal
 * services on a trusted network exist), but never silently: an operator who typed http:// for a
 * public API by mistake sees it here.
 */
function warnIfCleartext(stderr: NodeJS.WritableStream, name: string, config: HttpTargetConfig): void {
  const url = new URL(config.baseUrl);
  if (url.protocol !== 'http:' || config.auth.kind === 'none' || config.allowPrivate) return;
  write(stderr, `warning: target ${name} uses http://, so its credential travels unencrypted to ${url.host}; use https:// unless that network is trusted (then add --allow-private if it is a private address)`);
}
