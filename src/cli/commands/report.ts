/**
 * `gatehouse report [--token NAME | --session ID] [--since 1d] [--level summary|detailed]
 * [--format md|json]`: what a token or a session did, from the audit log (issue 20 item 8).
 */
import { buildReport, reportMarkdown } from '../../audit/index.js';
import { GatehouseError, pointInTime } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse report [--token NAME | --session ID] [--since 1d|ISO] [--level summary|detailed] [--format md|json]
        decisions (allowed, approved, refused, redirected), findings (refused attempts, approvals
        not given, DLP hits, limits reached, first use of a target), activity by tool and target;
        --level detailed adds a timeline. From the audit log (check it with gatehouse audit verify).`;

const OPTIONS = {
  token: { type: 'string' },
  session: { type: 'string' },
  since: { type: 'string' },
  level: { type: 'string' },
  format: { type: 'string' },
} as const;

export const run: CommandRunner = async (args, ctx) => {
  if (args[0] === 'help' || args[0] === '--help') {
    write(ctx.stdout, USAGE);
    return EXIT.ok;
  }
  const { values: v, positionals } = parse(args, OPTIONS);
  const level = v.level ?? 'summary';
  const format = v.format ?? 'md';
  if (positionals.length || (level !== 'summary' && level !== 'detailed') || (format !== 'md' && format !== 'json'))
    throw new GatehouseError('usage', 'bad report options', { hint: USAGE });
  if (v.token !== undefined && v.session !== undefined)
    throw new GatehouseError('usage', 'give --token or --session, not both', { hint: USAGE });
  if (v.session !== undefined && !/^sess_[A-Za-z0-9_-]{10,40}$/.test(v.session))
    throw new GatehouseError('usage', '--session takes a session id (sess_…)', { hint: USAGE });
  const since = pointInTime(v.since ?? '1d', Date.now());
  const rt = await bootRuntime({ env: ctx.env });
  try {
    const token = v.token !== undefined ? await rt.tokens.get(v.token) : undefined;
    const report = await buildReport(rt.store, {
      since,
      level,
      ...(token ? { tokenId: token.id } : {}),
      ...(v.session ? { session: v.session } : {}),
    });
    if (format === 'json') write(ctx.stdout, JSON.stringify(report, null, 2));
    else
      write(
        ctx.stdout,
        reportMarkdown(
          report,
          token ? `Report: token ${token.name}` : v.session ? `Report: session ${v.session}` : 'Report',
        ),
      );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
