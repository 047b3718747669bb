import { GatehouseError } from '../../core/index.js';
import { describeForHuman } from '../../approvals/index.js';
import { bootRuntime } from '../../server/index.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse approvals list [--json] [--all] [--limit N] [--cursor C] [--token TOKEN_ID]
                                              what is waiting for a person, newest first, 100 per page
                                              (--all: every recent approval; --cursor: the next page)
  gatehouse approve ID [--note TEXT]          let the waiting action run once
  gatehouse deny ID [--note TEXT]             refuse it (final)`;

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (sub !== 'list')
    throw new GatehouseError('usage', `unknown approvals command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, {
    json: { type: 'boolean' },
    all: { type: 'boolean' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    token: { type: 'string' },
  });
  if (positionals.length > 0) throw new GatehouseError('usage', 'approvals list takes no arguments', { hint: USAGE });
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
    throw new GatehouseError('usage', '--limit must be a whole number from 1 to 1000', { hint: USAGE });
  }

  const rt = await bootRuntime({ env: ctx.env });
  try {
    // INVARIANT (issue 24): the list says how many wait in all and per token, and when it is cut,
    // so one token's flood never hides another token's approval from the person reading it.
    const page = await rt.approvals.page({
      status: values.all ? 'all' : 'pending',
      limit,
      cursor: values.cursor,
      tokenId: values.token,
    });
    const list = page.approvals;
    if (values.json) {
      write(
        ctx.stdout,
        JSON.stringify({ ...page, approvals: list.map((a) => ({ ...a, description: describeForHuman(a) })) }, null, 2),
      );
      return EXIT.ok;
    }
    if (list.length === 0) {
      write(ctx.stdout, values.all ? '(no approvals)' : '(no pending approvals)');
      return EXIT.ok;
    }
    write(ctx.stdout, list.map((a) => describeForHuman(a)).join('\n\n'));
    const what = values.all ? 'recent' : 'waiting';
    const perToken = page.byToken.map((t) => `${t.tokenName} (${t.tokenId}): ${t.count}`).join(', ');
    write(ctx.stderr, `\n${page.total} ${what} in all, by token: ${perToken}.`);
    if (page.truncated) {
      write(
        ctx.stderr,
        `This page shows ${list.length} of ${page.total}. Next page: \`gatehouse approvals list${values.all ? ' --all' : ''}${values.token ? ` --token ${values.token}` : ''} --cursor '${page.nextCursor}'\`; one token's approvals: --token TOKEN_ID.`,
      );
    }
    if (!values.all) write(ctx.stderr, 'Decide with `gatehouse approve ID` or `gatehouse deny ID` [--note TEXT].');
    const tampered = list.filter((a) => a.status === 'tampered').length;
    // Loud: a record nobody legitimate wrote means someone can write to the store.
    if (tampered > 0)
      write(
        ctx.stderr,
        `WARNING: ${tampered} approval record(s) failed the integrity check: they were written or changed outside Gatehouse. Nothing in them is used; find out who can write to the database.`,
      );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
