import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { GatehouseError, gatehouseHome } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { openStore, pendingMigrations, storeOptionsFromEnv } from '../../store/index.js';
import {
  commandBinding,
  decodeKeyText,
  formatBinding,
  isGuessable,
  openKeyring,
  parseBinding,
  parseFieldRef,
  type RekeyResult,
  type Vault,
} from '../../vault/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse vault create NAME
  gatehouse vault set VAULT/ITEM.FIELD [--bind BINDING ...] [--description TEXT]
        the value is read from stdin (or a hidden prompt on a terminal), never from the command line
  gatehouse vault bind VAULT/ITEM --bind BINDING ...
  gatehouse vault bind VAULT/ITEM --command TARGET --env NAME -- 'EXACT COMMAND LINE'
        lets {{vault:VAULT/ITEM.FIELD}} fill env NAME of exactly that command on TARGET (ssh_exec;
        TARGET local = exec), with no stdin, no cwd and no other plain env variable
  gatehouse vault unbind VAULT/ITEM --bind BINDING ...
  gatehouse vault list [--json]
  gatehouse vault rm VAULT[/ITEM] [--force]
  gatehouse vault rekey [--empty-store]
        key file: a new random key; the old one is kept as master.key.old (0600) for old backups
        GATEHOUSE_MASTER_KEY: set GATEHOUSE_NEW_MASTER_KEY;  passphrase: set GATEHOUSE_NEW_MASTER_PASSPHRASE
        refused when the store holds no vault sealed by the current key (--empty-store: it really holds none)
  BINDING: target:NAME | host:PATTERN (host:api.example.com, host:*.example.com) | command:TARGET:ENV=COMMAND LINE`;

const SUBS = ['create', 'set', 'bind', 'unbind', 'list', 'rm', 'rekey'];

const OPTIONS = {
  bind: { type: 'string', multiple: true },
  command: { type: 'string' },
  env: { type: 'string' },
  description: { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  'empty-store': { type: 'boolean' },
} as const;

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...all] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!SUBS.includes(sub))
    throw new GatehouseError('usage', `unknown vault command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals, bindings } = vaultArgs(sub, all);
  if (sub === 'rekey') return rekey(ctx, !!values['empty-store'], !!values.json);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const { vault } = rt;
    switch (sub) {
      case 'create': {
        const name = onlyPositional(positionals);
        await vault.createVault(name);
        await rt.gate.event(null, 'cli:vault.create', 'ok', { vault: name });
        write(ctx.stderr, `created vault ${name}`);
        return EXIT.ok;
      }
      case 'set': {
        const ref = onlyPositional(positionals);
        const value = await readSecret(ctx, `value for ${ref}: `);
        await vault.setField(ref, value, {
          ...(bindings.length ? { bind: bindings } : {}),
          ...(values.description !== undefined ? { description: values.description } : {}),
        });
        await rt.gate.event(null, 'cli:vault.set', 'ok', { field: ref, bindings });
        write(ctx.stderr, `sealed ${ref}${bindings.length ? ` (bound to ${bindings.join(', ')})` : ''}`);
        warnIfGuessable(ctx, ref, value);
        return EXIT.ok;
      }
      case 'bind': {
        const item = onlyPositional(positionals);
        await vault.bind(item, bindings);
        await rt.gate.event(null, 'cli:vault.bind', 'ok', { item, bindings });
        write(ctx.stderr, `bound ${item} to ${bindings.join(', ')}`);
        return EXIT.ok;
      }
      case 'unbind': {
        const item = onlyPositional(positionals);
        const n = await vault.unbind(item, values.bind ?? []);
        await rt.gate.event(null, 'cli:vault.unbind', 'ok', { item, bindings: values.bind, removed: n });
        write(ctx.stderr, `removed ${n} binding(s) from ${item}`);
        return EXIT.ok;
      }
      case 'list':
        return await listVaults(vault, !!values.json, ctx);
      case 'rm': {
        const ref = onlyPositional(positionals);
        const [v, item] = splitOnce(ref);
        if (item !== undefined) {
          await vault.removeItem(v, item);
          write(ctx.stderr, `removed ${v}/${item}`);
        } else {
          const n = (await vault.listItems(v)).length;
          if (n > 0 && !values.force)
            throw new GatehouseError('conflict', `vault ${v} holds ${n} item(s)`, {
              hint: `add --force to remove vault ${v} and all its items`,
            });
          await vault.removeVault(v);
          write(ctx.stderr, `removed vault ${v}`);
        }
        await rt.gate.event(null, 'cli:vault.rm', 'ok', { ref });
        return EXIT.ok;
      }
    }
    return EXIT.usage;
  } finally {
    await rt.close();
  }
};

/**
 * Checks a vault subcommand's arguments before anything is read or opened (bad input changes
 * nothing): the options, the names, and the bindings it would add.
 */
function vaultArgs(sub: string, all: string[]) {
  // `bind … -- 'COMMAND LINE'`: everything after `--` is the command, never an option.
  const dash = all.indexOf('--');
  const rest = dash < 0 ? all : all.slice(0, dash);
  const commandWords = dash < 0 ? undefined : all.slice(dash + 1);
  // INVARIANT: a secret never comes from argv (shell history, `ps`). Checked before parsing so
  // that the refusal never repeats the extra words.
  if (sub === 'set') {
    const extra = rest.filter(
      (a, i) => !a.startsWith('-') && !(i > 0 && ['--bind', '--description'].includes(rest[i - 1]!)),
    );
    if (extra.length > 1 || commandWords !== undefined || rest.some((a) => /^--(value|secret|password)(=|$)/.test(a))) {
      throw new GatehouseError('usage', 'vault set takes the value on stdin, never on the command line', {
        hint: 'run `gatehouse vault set VAULT/ITEM.FIELD` and type the value at the hidden prompt, or pipe it: `printf %s "$VALUE" | gatehouse vault set ...`',
      });
    }
  }
  const { values, positionals } = parse(rest, OPTIONS);

  if (['create', 'set', 'rm', 'bind', 'unbind'].includes(sub) && positionals.length !== 1) {
    throw new GatehouseError('usage', `vault ${sub} needs exactly one name`, { hint: USAGE });
  }
  if ((sub === 'list' || sub === 'rekey') && positionals.length !== 0)
    throw new GatehouseError('usage', `vault ${sub} takes no arguments`, { hint: USAGE });
  if (sub !== 'bind' && (commandWords !== undefined || values.command !== undefined || values.env !== undefined)) {
    throw new GatehouseError('usage', `--command, --env and -- belong to \`vault bind\``, { hint: USAGE });
  }
  // Validate everything before reading the secret or touching the store: bad input changes nothing.
  if (sub === 'set') parseFieldRef(onlyPositional(positionals));
  const bindings =
    sub === 'bind'
      ? bindingsToAdd(values, commandWords)
      : (values.bind ?? []).map((b) => formatBinding(parseBinding(b)));
  if (sub === 'unbind' && !values.bind?.length)
    throw new GatehouseError('usage', 'vault unbind needs --bind KIND:PATTERN', { hint: USAGE });
  return { values, positionals, bindings };
}

/** `vault list`: vaults and items (names, bindings, descriptions; never a value), and a warning per forged binding row. */
async function listVaults(vault: Vault, json: boolean, ctx: CliContext): Promise<number> {
  const vaults = await vault.listVaults();
  const items = await vault.listItems();
  if (json) {
    write(ctx.stdout, JSON.stringify({ vaults, items }, null, 2));
  } else {
    write(
      ctx.stdout,
      table(
        vaults.map((v) => ({ vault: v.name, items: String(v.items), created: v.createdAt })),
        ['vault', 'items', 'created'],
      ),
    );
    if (items.length) {
      const rows = items.map((i) => ({
        item: `${i.vault}/${i.item}`,
        fields: i.fields.join(','),
        bindings: i.bindings.join(' ') || '(unbound: usable nowhere)',
        description: i.description ?? '',
      }));
      write(ctx.stdout, '');
      write(ctx.stdout, table(rows, ['item', 'fields', 'bindings', 'description']));
    }
  }
  for (const i of items.filter((x) => x.rejectedBindings.length > 0)) {
    const unbind = i.rejectedBindings.map((b) => `--bind '${b}'`).join(' ');
    write(
      ctx.stderr,
      `WARNING: ${i.vault}/${i.item} has binding rows whose signature does not verify (written without the master key?); they are ignored: ${i.rejectedBindings.join(' ')}\n` +
        `  remove them: gatehouse vault unbind ${i.vault}/${i.item} ${unbind}`,
    );
  }
  return EXIT.ok;
}

/** `bind`'s bindings: `--bind` texts and/or one `--command TARGET --env NAME -- 'LINE'`. */
function bindingsToAdd(
  values: { bind?: string[]; command?: string; env?: string },
  commandWords: string[] | undefined,
): string[] {
  const out = (values.bind ?? []).map((b) => formatBinding(parseBinding(b)));
  const wantsCommand = values.command !== undefined || values.env !== undefined || commandWords !== undefined;
  if (wantsCommand) {
    if (values.command === undefined || values.env === undefined || commandWords === undefined) {
      throw new GatehouseError(
        'usage',
        'a command binding needs --command TARGET, --env NAME and -- followed by the command line',
        { hint: USAGE },
      );
    }
    const [line] = commandWords;
    if (line === undefined || commandWords.length !== 1) {
      // Joining words would lose the quoting the agent's command line will have: not exact.
      throw new GatehouseError(
        'usage',
        `give the command line as ONE quoted argument after -- (got ${commandWords.length})`,
        {
          hint: "e.g. gatehouse vault bind ops/db --command prod --env PGPASSWORD -- 'pg_dump -Fc app' (exactly as the agent will send it)",
        },
      );
    }
    out.push(formatBinding(commandBinding(values.command, values.env, line)));
  }
  if (out.length === 0)
    throw new GatehouseError('usage', 'vault bind needs --bind BINDING or --command/--env/--', { hint: USAGE });
  return out;
}

/**
 * `vault rekey` opens the store the environment names WITHOUT changing it first: no migration, no
 * new keyring, no internal key. The keyring then refuses to rotate a store that holds nothing
 * sealed by the current key (issue 21.5: a rekey pointed at the wrong store replaced master.key
 * and locked the real one).
 */
async function rekey(ctx: CliContext, allowEmptyStore: boolean, json: boolean): Promise<number> {
  const paths = gatehouseHome(ctx.env);
  const options = storeOptionsFromEnv(ctx.env, paths);
  if (options.sqliteFile && !existsSync(options.sqliteFile)) {
    throw new GatehouseError('not_found', `there is no store at ${options.sqliteFile}: nothing to rekey`, {
      hint: 'check GATEHOUSE_HOME, or DATABASE_URL and GATEHOUSE_PG_SCHEMA for a PostgreSQL store',
    });
  }
  const newKey = ctx.env.GATEHOUSE_NEW_MASTER_KEY
    ? decodeKeyText(ctx.env.GATEHOUSE_NEW_MASTER_KEY, 'GATEHOUSE_NEW_MASTER_KEY')
    : undefined;
  const newPassphrase = ctx.env.GATEHOUSE_NEW_MASTER_PASSPHRASE || undefined;
  const store = await openStore({ ...options, migrate: false, createSchema: false });
  let r: RekeyResult;
  try {
    const pending = await pendingMigrations(store.db);
    if (pending.length > 0) {
      throw new GatehouseError(
        'conflict',
        `the store at ${store.description} has ${pending.length} migration(s) not applied (${pending.join(', ')})`,
        {
          hint: 'start Gatehouse once with this configuration (any gatehouse command except rekey and doctor applies them), then rekey',
        },
      );
    }
    const keyring = await openKeyring({
      home: paths.home,
      masterKeyFile: paths.masterKeyFile,
      env: ctx.env,
      store,
      create: false,
      initialize: false,
    });
    try {
      r = await keyring.rekey({
        ...(newKey ? { newKey } : {}),
        ...(newPassphrase ? { newPassphrase } : {}),
        allowEmptyStore,
      });
    } finally {
      keyring.close();
    }
  } finally {
    await store.close();
  }
  if (json) write(ctx.stdout, JSON.stringify({ ...r, store: store.description }));
  write(
    ctx.stderr,
    `master key rotated for the store at ${store.description}: ${r.oldKeyId} -> ${r.newKeyId} (${r.rewrapped.vaultKeys} vault keys, ${r.rewrapped.internalKeys} internal keys re-wrapped; no secret re-encrypted)`,
  );
  if (r.oldKeyFile)
    write(
      ctx.stderr,
      `the previous key is kept in ${r.oldKeyFile} (mode 0600) to open backups taken before now; delete it when you no longer need them`,
    );
  else
    write(
      ctx.stderr,
      `now replace ${r.source === 'env' ? 'GATEHOUSE_MASTER_KEY' : 'GATEHOUSE_MASTER_PASSPHRASE'} with the new value everywhere Gatehouse runs; stop other Gatehouse processes before restarting them`,
    );
  return EXIT.ok;
}

/**
 * Gatehouse never scrubs a guessable value from what agents read (scrubbing it would let an agent
 * test guesses against the scrubber), so an operator storing one must know that a destination
 * which echoes it exposes it.
 */
function warnIfGuessable(ctx: CliContext, ref: string, value: string): void {
  if (!isGuessable(value)) return;
  write(
    ctx.stderr,
    `warning: the value of ${ref} is guessable (short, common or low in variety). Gatehouse will NOT scrub it from what agents read, because ` +
      'scrubbing a guessable value would let an agent test guesses against the scrubber; a destination that echoes it back exposes it. Use a long random value where you can.',
  );
}

function splitOnce(ref: string): [string, string | undefined] {
  const i = ref.indexOf('/');
  return i < 0 ? [ref, undefined] : [ref.slice(0, i), ref.slice(i + 1)];
}

/** Reads the secret: a hidden prompt on a terminal, otherwise all of stdin minus one trailing newline. */
export async function readSecret(ctx: CliContext, prompt: string): Promise<string> {
  const input = ctx.stdin as Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => void };
  let value: string;
  if (input.isTTY && typeof input.setRawMode === 'function') {
    value = await hiddenPrompt(input as Readable & { setRawMode: (on: boolean) => void }, ctx, prompt);
  } else {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    value = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!value)
    throw new GatehouseError('invalid_input', 'no value given on stdin', {
      hint: 'pipe the value in, or type it at the prompt',
    });
  return value;
}

function hiddenPrompt(
  input: Readable & { setRawMode: (on: boolean) => void },
  ctx: CliContext,
  prompt: string,
): Promise<string> {
  ctx.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.off('data', onData);
      input.pause();
      ctx.stderr.write('\n');
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (d: Buffer | string) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new GatehouseError('cancelled', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
