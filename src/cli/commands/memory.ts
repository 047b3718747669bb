import { GatehouseError } from '../../core/index.js';
import { ORG_PROPOSALS, parseProposalKey, type Author, type Item, type Scope } from '../../knowledge/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { block, historyTable, visible } from '../terminal.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';

const USAGE = `usage:
  gatehouse memory list [--scope org|token:ID] [--prefix P] [--deleted] [--json]
                                          every memory in every scope (operators see them all)
  gatehouse memory show ID [--version N] [--json]
                                          one memory with who wrote it (a version: its content then)
  gatehouse memory history ID [--json]    every version: op, author, trust, time, note
  gatehouse memory revert ID --version N  write version N's content as a new version
  gatehouse memory rm ID                  delete (a tombstone: history kept, restorable)
  gatehouse memory restore ID             bring a deleted memory back
  gatehouse memory purge ID               remove a memory and its whole history for good
  gatehouse memory proposals [--json]     changes to the team's memory proposed by tokens that may not write it
  gatehouse memory accept ID              apply a proposal to the team's memory (as a version by you)
  gatehouse memory rm ID                  (on a proposal) reject it`;

/** An operator, as the versions and the audit log name them (the account approvals name too). */
const operatorAuthor = (env: NodeJS.ProcessEnv): Author => ({ name: `operator:${operator(env)}`, trust: 'operator' });

/** One row of a table; every text an agent wrote is made visible (no terminal escapes pass). */
function line(i: Item): Record<string, string> {
  return {
    id: i.id,
    scope: visible(i.scope),
    path: visible(i.key),
    version: String(i.provenance.version),
    author: visible(i.provenance.author),
    updated: i.provenance.at,
    title: visible(i.title) || (i.deleted ? '(deleted)' : ''),
  };
}

/**
 * `gatehouse memory`: the operators' view of agents' memory. Operators read every scope; their
 * changes are versions with trust `operator`, and each is an audit record (`cli:memory.*`).
 */
export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['list', 'show', 'history', 'revert', 'rm', 'restore', 'purge', 'proposals', 'accept'].includes(sub))
    throw new GatehouseError('usage', `unknown memory command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, {
    json: { type: 'boolean' },
    scope: { type: 'string' },
    prefix: { type: 'string' },
    deleted: { type: 'boolean' },
    version: { type: 'string' },
  });
  // Arguments are checked before the store is opened.
  const listing = sub === 'list' || sub === 'proposals';
  const id = listing ? undefined : onlyPositional(positionals);
  if (listing && positionals.length)
    throw new GatehouseError('usage', `memory ${sub} takes no arguments`, { hint: USAGE });
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1))
    throw new GatehouseError('usage', '--version must be a whole number from 1', { hint: USAGE });
  if (sub === 'revert' && version === undefined)
    throw new GatehouseError('usage', 'memory revert needs --version N', { hint: USAGE });
  const rt = await bootRuntime({ env: ctx.env });
  try {
    const k = rt.knowledge;
    const item = id ?? '';
    const all = async (): Promise<Scope[]> => k.scopes('memory');
    const show = (i: unknown) => write(ctx.stdout, JSON.stringify(i, null, 2));
    switch (sub) {
      case 'list': {
        const scopes = values.scope ? [values.scope] : await all();
        const items = await k.list('memory', scopes, { prefix: values.prefix, includeDeleted: values.deleted });
        if (values.json) write(ctx.stdout, JSON.stringify(items, null, 2));
        else if (items.length === 0) write(ctx.stdout, '(no memories)');
        else
          write(ctx.stdout, table(items.map(line), ['id', 'scope', 'path', 'version', 'author', 'updated', 'title']));
        return EXIT.ok;
      }
      case 'show': {
        if (version !== undefined) {
          const v = await k.readVersion(item, await all(), version);
          if (values.json) show(v);
          else
            write(
              ctx.stdout,
              `version ${v.version} (${v.op}) by ${visible(v.author)} [${v.trust}] at ${v.at}\n\n${block(v.body)}`,
            );
          return EXIT.ok;
        }
        const i = await k.get(item, await all());
        if (values.json) show(i);
        else
          write(
            ctx.stdout,
            `${visible(i.scope)} ${visible(i.key)} — version ${i.provenance.version} by ${visible(i.provenance.author)} [${i.provenance.trust}] at ${i.provenance.at}${i.deleted ? ' (deleted)' : ''}\n\n${block(i.body)}`,
          );
        return EXIT.ok;
      }
      case 'history': {
        const h = await k.history(item, await all());
        if (values.json) write(ctx.stdout, JSON.stringify(h, null, 2));
        else write(ctx.stdout, historyTable(h, table));
        return EXIT.ok;
      }
      case 'revert':
      case 'rm':
      case 'restore': {
        const scopes = await all();
        const cur = await k.get(item, scopes);
        const opts = { author: operatorAuthor(ctx.env), expectedVersion: cur.provenance.version };
        let after: Item;
        if (sub === 'revert') after = await k.revert(item, scopes, version ?? 0, opts);
        else after = sub === 'rm' ? await k.delete(item, scopes, opts) : await k.restore(item, scopes, opts);
        await rt.gate.event(null, `cli:memory.${sub}`, 'ok', {
          item,
          scope: after.scope,
          path: after.key,
          version: after.provenance.version,
          by: opts.author.name,
        });
        write(
          ctx.stdout,
          `${sub === 'rm' ? 'deleted' : sub === 'restore' ? 'restored' : 'reverted'} ${item}: now version ${after.provenance.version}`,
        );
        return EXIT.ok;
      }
      case 'proposals': {
        const items = await k.list('memory', [ORG_PROPOSALS]);
        const rows = items.map((i) => {
          const p = parseProposalKey(i.key);
          return {
            ...line(i),
            path: visible(p?.path ?? i.key),
            against: !p ? '?' : p.base === 0 ? 'new' : `v${p.base}`,
            proposer: visible(i.provenance.author),
          };
        });
        if (values.json) write(ctx.stdout, JSON.stringify(items, null, 2));
        else if (items.length === 0) write(ctx.stdout, '(no proposals)');
        else {
          write(ctx.stdout, table(rows, ['id', 'path', 'against', 'proposer', 'updated', 'title']));
          write(
            ctx.stderr,
            'Read one with `gatehouse memory show ID`; apply it with `gatehouse memory accept ID`, reject it with `gatehouse memory rm ID`.',
          );
        }
        return EXIT.ok;
      }
      case 'accept': {
        const me = operatorAuthor(ctx.env);
        const proposal = await k.get(item, [ORG_PROPOSALS]);
        const applied = await k.applyProposal(item, me);
        await rt.gate.event(null, 'cli:memory.accept', 'ok', {
          proposal: item,
          item: applied.id,
          path: applied.key,
          version: applied.provenance.version,
          by: me.name,
          proposer: proposal.provenance.author,
        });
        write(
          ctx.stdout,
          `accepted ${item}: org ${visible(applied.key)} is now version ${applied.provenance.version} (${applied.id})`,
        );
        return EXIT.ok;
      }
      case 'purge': {
        const cur = await k.get(item, await all());
        await k.purge(item);
        await rt.gate.event(null, 'cli:memory.purge', 'ok', {
          item,
          scope: cur.scope,
          path: cur.key,
          by: operatorAuthor(ctx.env).name,
        });
        write(ctx.stdout, `purged ${item} (${visible(cur.scope)} ${visible(cur.key)}) and its history`);
        return EXIT.ok;
      }
      default:
        return EXIT.usage; // unreachable: checked above
    }
  } finally {
    await rt.close();
  }
};
