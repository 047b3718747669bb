import { cutText, GatehouseError } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';

const USAGE = `usage:
  gatehouse approver add NAME     enrol a TOTP approver; prints the otpauth:// URI once (scan it into an authenticator app)
  gatehouse approver list [--json]
  gatehouse approver rm NAME`;

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['add', 'list', 'rm'].includes(sub))
    throw new GatehouseError('usage', `unknown approver command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, { json: { type: 'boolean' } });
  if ((sub === 'add' || sub === 'rm') && positionals.length !== 1)
    throw new GatehouseError('usage', `approver ${sub} needs one NAME`, { hint: USAGE });

  const rt = await bootRuntime({ env: ctx.env });
  try {
    // The process's one (audited) ApprovalService: enrolment and removal are recorded by its events.
    const service = rt.approvals;
    const by = { by: operator(ctx.env), channel: 'cli' as const };
    if (sub === 'add') {
      const { name, otpauthUri } = await service.addApprover(onlyPositional(positionals), by);
      write(ctx.stdout, otpauthUri);
      write(
        ctx.stderr,
        `enrolled approver ${name}. Scan or paste the URI above into an authenticator app now: it holds the seed and is never shown again (the seed is sealed in the store).`,
      );
    } else if (sub === 'rm') {
      const name = onlyPositional(positionals);
      await service.removeApprover(name, by);
      write(ctx.stdout, `removed approver ${name}`);
    } else {
      const list = await service.listApprovers();
      if (values.json) write(ctx.stdout, JSON.stringify(list, null, 2));
      else
        write(
          ctx.stdout,
          table(
            list.map((a) => ({
              name: a.name,
              created: cutText(a.createdAt, 19),
              last_used: a.lastUsedAt ? cutText(a.lastUsedAt, 19) : '-',
              locked: a.locked ? 'slowed' : 'no',
              locked_tokens: a.lockedTokens.length ? a.lockedTokens.join(',') : '-',
            })),
            ['name', 'created', 'last_used', 'locked', 'locked_tokens'],
          ),
        );
    }
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
