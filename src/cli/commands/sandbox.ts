/**
 * `gatehouse sandbox doctor [--json]`: which isolation is really active here (by trying it), and
 * what to do about anything missing. Exit 0 when sandboxed runs work, 1 when they would be refused.
 * `init`, `deny`, `allow` and `status` edit and show a profile (src/cli/sandbox-policy.ts).
 */
import { GatehouseError } from '../../core/index.js';
import { probeSandbox, type SandboxProfile } from '../../sandbox/index.js';
import { changeProfile, initProfile, profileStatus } from '../sandbox-policy.js';
import { configuredWorkspace } from '../workspace-check.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse sandbox doctor [--json]            which isolation is active here, and how to fix what is missing
  gatehouse sandbox init [--profile NAME] [--workspace DIR] [--force]
                                               a profile (default "agent", made the default): credential files
                                               unreadable, curl/wget/nc/ssh/scp… not executable, no network
                                               (run --model-gateway opens the gateway's port only)
  gatehouse sandbox deny read PATH…            hide paths (absolute, ~/…, or in the workspace)
  gatehouse sandbox deny exec PROG…            programs that cannot run inside
  gatehouse sandbox deny net [--except HOST[:PORT]…]
                                               no network, or only those (port 443 unless given)
  gatehouse sandbox allow read|exec PATH|PROG… undo a deny;  allow net HOST[:PORT]… adds to the allowlist
  gatehouse sandbox status [--json]            the effective profile and the isolation in force
  (every command but doctor takes --profile NAME; default: sandbox.profile of the configuration)
`;

const LEVEL_TEXT: Record<string, string> = {
  'bwrap+slirp': 'bubblewrap with user-mode networking (allowlisted egress available)',
  bwrap: 'bubblewrap without network (profiles with a network allowlist fail closed)',
  none: 'none: sandboxed exec is refused unless a profile sets allowUnsandboxed',
};

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (sub === 'init' || sub === 'deny' || sub === 'allow' || sub === 'status') return policy(sub, rest, ctx);
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

/** Takes `--profile NAME`, `--workspace DIR`, `--force`, `--json` and `--except` out of `args`. */
function flags(args: string[]) {
  const out: {
    profile?: string;
    workspace?: string;
    force?: boolean;
    json?: boolean;
    except?: boolean;
    rest: string[];
  } = {
    rest: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '--profile' || a === '--workspace') && args[i + 1] !== undefined)
      out[a === '--profile' ? 'profile' : 'workspace'] = args[++i]!;
    else if (a === '--force') out.force = true;
    else if (a === '--json') out.json = true;
    else if (a === '--except') out.except = true;
    else if (a.startsWith('--')) throw new GatehouseError('usage', `unknown option ${a}`, { hint: USAGE });
    else out.rest.push(a);
  }
  return out;
}

function describe(p: SandboxProfile): string[] {
  return [
    `profile ${p.name}: workspace ${p.workspace}`,
    `  unreadable: ${p.denyRead.join(', ') || '(none)'}`,
    `  not executable: ${p.denyExec.join(', ') || '(none)'}`,
    `  network: ${p.network === 'none' ? 'none' : p.network.allow.map((a) => `${a.host}:${a.port}`).join(', ')}`,
  ];
}

async function policy(sub: 'init' | 'deny' | 'allow' | 'status', args: string[], ctx: CliContext): Promise<number> {
  const f = flags(args);
  let profile: SandboxProfile;
  if (sub === 'init') {
    if (f.rest.length) throw new GatehouseError('usage', 'sandbox init takes no arguments', { hint: USAGE });
    const made = initProfile(ctx.env, {
      workspace: f.workspace ?? process.cwd(),
      ...(f.profile ? { profile: f.profile } : {}),
      ...(f.force ? { force: true } : {}),
    });
    ctx.stdout.write(`wrote sandbox profile ${made.profile.name} to ${made.file} (now the default)\n`);
    profile = made.profile;
  } else if (sub === 'status') {
    if (f.rest.length) throw new GatehouseError('usage', 'sandbox status takes no arguments', { hint: USAGE });
    profile = profileStatus(ctx.env, f.profile);
    const probe = await probeSandbox();
    if (f.json) {
      ctx.stdout.write(JSON.stringify({ profile, isolation: probe.level }, null, 2) + '\n');
      return EXIT.ok;
    }
    ctx.stdout.write(`isolation: ${LEVEL_TEXT[probe.level] ?? probe.level}\n`);
  } else {
    const [kind, ...items] = f.rest;
    if (kind !== 'read' && kind !== 'exec' && kind !== 'net')
      throw new GatehouseError('usage', `sandbox ${sub} takes read, exec or net`, { hint: USAGE });
    if (kind !== 'net' && items.length === 0)
      throw new GatehouseError(
        'usage',
        `sandbox ${sub} ${kind} needs at least one ${kind === 'read' ? 'PATH' : 'PROG'}`,
        { hint: USAGE },
      );
    if (kind === 'net' && sub === 'deny' && items.length > 0 && !f.except)
      throw new GatehouseError('usage', 'sandbox deny net takes hosts only after --except', { hint: USAGE });
    if (kind === 'net' && sub === 'allow' && items.length === 0)
      throw new GatehouseError('usage', 'sandbox allow net needs HOST[:PORT]', { hint: USAGE });
    profile = changeProfile(ctx.env, f.profile, { kind, deny: sub === 'deny', items });
  }
  for (const line of describe(profile)) ctx.stdout.write(line + '\n');
  return EXIT.ok;
}
