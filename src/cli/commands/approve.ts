import { userInfo } from 'node:os';
import { GatehouseError } from '../../core/index.js';
import { describeForHuman } from '../../approvals/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

/** The person at the terminal (the OS account running the CLI on the Gatehouse host). */
export function operator(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER || env.LOGNAME || 'unknown';
  }
}

async function decide(decision: 'approved' | 'denied', args: string[], ctx: CliContext): Promise<number> {
  const verb = decision === 'approved' ? 'approve' : 'deny';
  const usage = `usage: gatehouse ${verb} ID [--note TEXT]`;
  if (args[0] === 'help' || args[0] === '--help') {
    write(ctx.stdout, usage);
    return EXIT.ok;
  }
  const { values, positionals } = parse(args, { note: { type: 'string' } });
  if (positionals.length !== 1)
    throw new GatehouseError('usage', `${verb} needs one approval ID`, {
      hint: `${usage}; \`gatehouse approvals list\` shows the ids`,
    });
  const id = onlyPositional(positionals);
  const by = operator(ctx.env);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    // The process's one ApprovalService, built by bootRuntime exactly as the server builds it:
    // this decision (or its refusal) is audited by the same event as one made through the admin API.
    const a = await rt.approvals.decide(id, decision, { by, channel: 'cli', note: values.note });
    write(ctx.stderr, describeForHuman(a));
    write(
      ctx.stdout,
      `${decision} ${a.id}${decision === 'approved' ? ': the agent may now retry the same call once with this approval_id' : ' (final)'}`,
    );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
}

/** `gatehouse approve ID [--note TEXT]` */
export const run: CommandRunner = (args, ctx) => decide('approved', args, ctx);

/** `gatehouse deny ID [--note TEXT]` */
export const runDeny: CommandRunner = (args, ctx) => decide('denied', args, ctx);
