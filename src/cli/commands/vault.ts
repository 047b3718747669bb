import type { Readable } from 'node:stream';
import { GatehouseError } from '../../core/index.js';
import { decodeKeyText, openVaultFromEnv, parseFieldRef } from '../../vault/index.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse vault create NAME
  gatehouse vault set VAULT/ITEM.FIELD [--bind target:NAME|host:PATTERN ...] [--description TEXT]
        the value is read from stdin (or a hidden prompt on a terminal), never from the command line
  gatehouse vault list [--json]
  gatehouse vault rm VAULT[/ITEM] [--force]
  gatehouse vault rekey
        key file: a new random key; the old one is kept as master.key.old (0600) for old backups
        GATEHOUSE_MASTER_KEY: set GATEHOUSE_NEW_MASTER_KEY;  passphrase: set GATEHOUSE_NEW_MASTER_PASSPHRASE`;

const SUBS = ['create', 'set', 'list', 'rm', 'rekey'];

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!SUBS.includes(sub)) throw new GatehouseError('usage', `unknown vault command ${JSON.stringify(sub)}`, { hint: USAGE });
  // INVARIANT: a secret never comes from argv (shell history, `ps`). Checked before parsing so
  // that the refusal never repeats the extra words.
  if (sub === 'set') {
    const extra = rest.filter((a, i) => !a.startsWith('-') && !(i > 0 && ['--bind', '--description'].includes(rest[i - 1])));
    if (extra.length > 1 || rest.some((a) => /^--(value|secret|password)(=|$)/.test(a))) {
      throw new GatehouseError('usage', 'vault set takes the value on stdin, never on the command line', {
        hint: 'run `gatehouse vault set VAULT/ITEM.FIELD` and type the value at the hidden prompt, or pipe it: `printf %s "$VALUE" | gatehouse vault set ...`',
      });
    }
  }
  const { values, positionals } = parse(rest, {
    bind: { type: 'string', multiple: true },
    description: { type: 'string' },
    json: { type: 'boolean' },
    force: { type: 'boolean' },
  });

  if ((sub === 'create' || sub === 'set' || sub === 'rm') && positionals.length !== 1) {
    throw new GatehouseError('usage', `vault ${sub} needs exactly one name`, { hint: USAGE });
  }
  if ((sub === 'list' || sub === 'rekey') && positionals.length !== 0) throw new GatehouseError('usage', `vault ${sub} takes no arguments`, { hint: USAGE });
  // Validate before reading the secret or touching the store.
  if (sub === 'set') parseFieldRef(positionals[0]);

  const opened = await openVaultFromEnv(ctx.env, { create: true });
  try {
    const { vault, keyring } = opened;
    switch (sub) {
      case 'create':
        await vault.createVault(positionals[0]);
        write(ctx.stderr, `created vault ${positionals[0]}`);
        return EXIT.ok;
      case 'set': {
        const value = await readSecret(ctx, `value for ${positionals[0]}: `);
        await vault.setField(positionals[0], value, {
          ...(values.bind ? { bind: values.bind } : {}),
          ...(values.description !== undefined ? { description: values.description } : {}),
        });
        write(ctx.stderr, `sealed ${positionals[0]}${values.bind?.length ? ` (bound to ${values.bind.join(', ')})` : ''}`);
        return EXIT.ok;
      }
      case 'list': {
        const vaults = await vault.listVaults();
        const items = await vault.listItems();
        if (values.json) {
          write(ctx.stdout, JSON.stringify({ vaults, items }, null, 2));
        } else {
          write(ctx.stdout, table(vaults.map((v) => ({ vault: v.name, items: String(v.items), created: v.createdAt })), ['vault', 'items', 'created']));
          if (items.length) {
            write(ctx.stdout, '');
            write(
              ctx.stdout,
              table(
                items.map((i) => ({ item: `${i.vault}/${i.item}`, fields: i.fields.join(','), bindings: i.bindings.join(' ') || '(unbound: usable nowhere)', description: i.description ?? '' })),
                ['item', 'fields', 'bindings', 'description'],
              ),
            );
          }
        }
        return EXIT.ok;
      }
      case 'rm': {
        const [v, item] = splitOnce(positionals[0]);
        if (item !== undefined) {
          await vault.removeItem(v, item);
          write(ctx.stderr, `removed ${v}/${item}`);
        } else {
          const n = (await vault.listItems(v)).length;
          if (n > 0 && !values.force) throw new GatehouseError('conflict', `vault ${v} holds ${n} item(s)`, { hint: `add --force to remove vault ${v} and all its items` });
          await vault.removeVault(v);
          write(ctx.stderr, `removed vault ${v}`);
        }
        return EXIT.ok;
      }
      case 'rekey': {
        const newKey = ctx.env.GATEHOUSE_NEW_MASTER_KEY ? decodeKeyText(ctx.env.GATEHOUSE_NEW_MASTER_KEY, 'GATEHOUSE_NEW_MASTER_KEY') : undefined;
        const newPassphrase = ctx.env.GATEHOUSE_NEW_MASTER_PASSPHRASE || undefined;
        const r = await keyring.rekey({ ...(newKey ? { newKey } : {}), ...(newPassphrase ? { newPassphrase } : {}) });
        if (values.json) write(ctx.stdout, JSON.stringify(r));
        write(ctx.stderr, `master key rotated: ${r.oldKeyId} -> ${r.newKeyId} (${r.rewrapped.vaultKeys} vault keys, ${r.rewrapped.internalKeys} internal keys re-wrapped; no secret re-encrypted)`);
        if (r.oldKeyFile) write(ctx.stderr, `the previous key is kept in ${r.oldKeyFile} (mode 0600) to open backups taken before now; delete it when you no longer need them`);
        else write(ctx.stderr, `now replace ${r.source === 'env' ? 'GATEHOUSE_MASTER_KEY' : 'GATEHOUSE_MASTER_PASSPHRASE'} with the new value everywhere Gatehouse runs; stop other Gatehouse processes before restarting them`);
        return EXIT.ok;
      }
    }
    return EXIT.usage;
  } finally {
    await opened.close();
  }
};

function splitOnce(ref: string): [string, string | undefined] {
  const i = ref.indexOf('/');
  return i < 0 ? [ref, undefined] : [ref.slice(0, i), ref.slice(i + 1)];
}

/** Reads the secret: a hidden prompt on a terminal, otherwise all of stdin minus one trailing newline. */
async function readSecret(ctx: CliContext, prompt: string): Promise<string> {
  const input = ctx.stdin as Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => void };
  let value: string;
  if (input.isTTY && typeof input.setRawMode === 'function') {
    value = await hiddenPrompt(input as Readable & { setRawMode: (on: boolean) => void }, ctx, prompt);
  } else {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (!value) throw new GatehouseError('invalid_input', 'no value given on stdin', { hint: 'pipe the value in, or type it at the prompt' });
  return value;
}

function hiddenPrompt(input: Readable & { setRawMode: (on: boolean) => void }, ctx: CliContext, prompt: string): Promise<string> {
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
