import { GatehouseError } from '../../core/index.js';
import { describeForHuman } from '../../approvals/index.js';
import { bootRuntime } from '../../server/boot.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse approvals list [--json] [--all]   what is waiting for a person (--all: every recent approval)
  gatehouse approve ID [--note TEXT]          let the waiting action run once
  gatehouse deny ID [--note TEXT]             refuse it (final)`;

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (sub !== 'list') throw new GatehouseError('usage', `unknown approvals command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, { json: { type: 'boolean' }, all: { type: 'boolean' } });
  if (positionals.length > 0) throw new GatehouseError('usage', 'approvals list takes no arguments', { hint: USAGE });

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const list = await rt.approvals.list({ status: values.all ? 'all' : 'pending' });
    if (values.json) {
      write(ctx.stdout, JSON.stringify(list.map((a) => ({ ...a, description: describeForHuman(a) })), null, 2));
    } else if (list.length === 0) {
      write(ctx.stdout, values.all ? '(no approvals)' : '(no pending approvals)');
    } else {
      write(ctx.stdout, list.map((a) => describeForHuman(a)).join('\n\n'));
      if (!values.all) write(ctx.stderr, `\n${list.length} waiting. Decide with \`gatehouse approve ID\` or \`gatehouse deny ID\` [--note TEXT].`);
      const tampered = list.filter((a) => a.status === 'tampered').length;
      // Loud: a record nobody legitimate wrote means someone can write to the store.
      if (tampered > 0) write(ctx.stderr, `WARNING: ${tampered} approval record(s) failed the integrity check: they were written or changed outside Gatehouse. Nothing in them is used; find out who can write to the database.`);
    }
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
