import { GatehouseError } from '../../core/index.js';
import { createApprovalService } from '../../approvals/index.js';
import { bootRuntime } from '../../server/boot.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

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
  if (!['add', 'list', 'rm'].includes(sub)) throw new GatehouseError('usage', `unknown approver command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, { json: { type: 'boolean' } });
  if ((sub === 'add' || sub === 'rm') && positionals.length !== 1) throw new GatehouseError('usage', `approver ${sub} needs one NAME`, { hint: USAGE });

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const service = await createApprovalService({ store: rt.store, keys: rt.keyring });
    if (sub === 'add') {
      const { name, otpauthUri } = await service.addApprover(positionals[0]);
      await rt.gate.event(null, 'cli:approver.add', 'ok', { approver: name });
      write(ctx.stdout, otpauthUri);
      write(ctx.stderr, `enrolled approver ${name}. Scan or paste the URI above into an authenticator app now: it holds the seed and is never shown again (the seed is sealed in the store).`);
    } else if (sub === 'rm') {
      await service.removeApprover(positionals[0]);
      await rt.gate.event(null, 'cli:approver.rm', 'ok', { approver: positionals[0] });
      write(ctx.stdout, `removed approver ${positionals[0]}`);
    } else {
      const list = await service.listApprovers();
      if (values.json) write(ctx.stdout, JSON.stringify(list, null, 2));
      else
        write(
          ctx.stdout,
          table(
            list.map((a) => ({ name: a.name, created: a.createdAt.slice(0, 19), last_used: a.lastUsedAt?.slice(0, 19) ?? '-', locked: a.locked ? 'yes' : 'no' })),
            ['name', 'created', 'last_used', 'locked'],
          ),
        );
    }
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
