/**
 * `gatehouse sandbox doctor [--json]`: which isolation is really active here (by trying it), and
 * what to do about anything missing. Exit 0 when sandboxed runs work, 1 when they would be refused.
 */
import { probeSandbox } from '../../sandbox/index.js';
import { configuredWorkspace } from '../workspace-check.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = 'usage: gatehouse sandbox doctor [--json]\n';

const LEVEL_TEXT: Record<string, string> = {
  'bwrap+slirp': 'bubblewrap with user-mode networking (allowlisted egress available)',
  bwrap: 'bubblewrap without network (profiles with a network allowlist fail closed)',
  none: 'none: sandboxed exec is refused unless a profile sets allowUnsandboxed',
};

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (sub !== 'doctor' || rest.some((a) => a !== '--json')) {
    ctx.stderr.write(USAGE);
    return EXIT.usage;
  }
  const result = await probeSandbox();
  result.checks.push(configuredWorkspace(ctx.env));
  if (rest.includes('--json')) {
    ctx.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    ctx.stdout.write(`isolation: ${LEVEL_TEXT[result.level] ?? result.level}\n`);
    for (const c of result.checks) {
      ctx.stdout.write(`  [${c.status}] ${c.name}: ${c.detail}\n`);
      if (c.fix && c.status !== 'ok') ctx.stdout.write(`         fix: ${c.fix}\n`);
    }
  }
  return result.level === 'none' ? EXIT.failure : EXIT.ok;
};
