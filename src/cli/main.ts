import { realpathSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatehouseHome, isGatehouseError, log, toGatehouseError } from '../core/index.js';
import { EXIT, type CliContext, type CommandRunner } from './context.js';

/**
 * The `gatehouse` command. Each subcommand is loaded only when used, so `gatehouse mcp` starts
 * without paying for the guard's parser or the SSH library.
 */
interface Command {
  summary: string;
  load: () => Promise<{ run: CommandRunner }>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'serve MCP over Streamable HTTP (POST /mcp) and the plain HTTP routes',
    load: () => import('./commands/serve.js'),
  },
  mcp: {
    summary: 'serve MCP over stdio for a local client (token from GATEHOUSE_TOKEN or --token-file)',
    load: () => import('./commands/mcp.js'),
  },
  token: { summary: 'create, list, revoke and rotate agent tokens', load: () => import('./commands/token.js') },
  target: {
    summary: 'HTTP and SSH targets: add, list, update, rm, trust (pin an SSH host key)',
    load: () => import('./commands/target.js'),
  },
  approvals: {
    summary: 'list approvals waiting for a person (and past ones with --all)',
    load: () => import('./commands/approvals.js'),
  },
  approve: {
    summary: 'approve a waiting action: approve ID [--note TEXT]',
    load: () => import('./commands/approve.js'),
  },
  deny: {
    summary: 'deny a waiting action: deny ID [--note TEXT]',
    load: async () => ({ run: (await import('./commands/approve.js')).runDeny }),
  },
  requests: {
    summary: 'list, approve or deny the access requests agents filed (request_access)',
    load: () => import('./commands/requests.js'),
  },
  connect: {
    summary:
      'print or write the setup that connects Claude Code, Cursor, VS Code or Codex (token in a file, never shown)',
    load: () => import('./commands/connect.js'),
  },
  console: {
    summary: 'print a one-time login link (valid 60 s) for the browser console of the local serve',
    load: () => import('./commands/console.js'),
  },
  approver: {
    summary: 'TOTP approvers: approver add NAME (prints the otpauth URI once), list, rm',
    load: () => import('./commands/approver.js'),
  },
  policy: {
    summary:
      'profile, then lock: policy generate --from-audit [--token NAME] [--session ID] [--since 1d] writes a policy from what was observed; policy test FILE --from-audit replays recorded actions against it',
    load: () => import('./commands/policy.js'),
  },
  checkpoint: {
    summary: 'workspace checkpoints: create, list, show --diff, rollback [--dry-run], purge',
    load: () => import('./commands/checkpoint.js'),
  },
  audit: { summary: 'verify, tail and search the tamper-evident audit log', load: () => import('./commands/audit.js') },
  memory: {
    summary: "agents' memory for operators: list, show, history, revert, rm, restore, purge",
    load: () => import('./commands/memory.js'),
  },
  skill: {
    summary: 'org skills for operators: list, show, history, diff, publish, revert, rm, purge, import, export',
    load: () => import('./commands/skill.js'),
  },
  wiki: {
    summary: 'the wiki for operators: list, show, history, revert, rm, restore, purge, lint',
    load: () => import('./commands/wiki.js'),
  },
  webhook: {
    summary: 'inbound webhook endpoints: add, list, show, update, rm, rotate-secret, rotate-url, test, events, replay',
    load: () => import('./commands/webhook.js'),
  },
  guard: {
    summary: 'judge a shell command with the guard: guard check -- COMMAND',
    load: () => import('./commands/guard.js'),
  },
  vault: {
    summary: 'sealed secrets: create, set, bind, unbind, list, rm, rekey',
    load: () => import('./commands/vault.js'),
  },
  sandbox: {
    summary: 'the sandbox: doctor (which isolation is active), init, deny/allow read|exec|net, status',
    load: () => import('./commands/sandbox.js'),
  },
  report: {
    summary:
      'what a token or session did, from the audit log: report [--token NAME|--session ID] [--since 1d] [--level detailed] [--format json]',
    load: () => import('./commands/report.js'),
  },
  usage: {
    summary:
      'model tokens per token, target and day (usage [--token NAME] [--since 7d]); usage budget NAME --max-tokens-per-day N',
    load: () => import('./commands/usage.js'),
  },
  run: {
    summary: 'run a program inside the sandbox: run [--profile NAME] [--model-gateway] -- CMD ...',
    load: () => import('./commands/run.js'),
  },
  doctor: {
    summary: 'check the store, key file, Node and optional system parts',
    load: () => import('./commands/doctor.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: gatehouse <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`),
    '',
    "Run `gatehouse <command> --help` for a command's options. Environment: GATEHOUSE_HOME, DATABASE_URL, GATEHOUSE_PG_SCHEMA, GATEHOUSE_CONFIG, GATEHOUSE_TOKEN, GATEHOUSE_LOG_LEVEL.",
  ].join('\n');
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    ctx.stdout.write(usage() + '\n');
    return cmd ? EXIT.ok : EXIT.usage;
  }
  if (cmd === '--version' || cmd === 'version') {
    ctx.stdout.write('gatehouse 0.1.0\n');
    return EXIT.ok;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    ctx.stderr.write(`error: unknown command ${JSON.stringify(cmd)}\n\n${usage()}\n`);
    return EXIT.usage;
  }
  try {
    const { run } = await entry.load();
    return await run(rest, ctx);
  } catch (e) {
    const err = toGatehouseError(e);
    if (!isGatehouseError(e)) ctx.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    ctx.stderr.write(`error [${err.code}]: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    return err.code === 'usage' ? EXIT.usage : EXIT.failure;
  }
}

function isEntryPoint(): boolean {
  // Through npm's bin symlink argv[1] is the link; compare real paths.
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

/**
 * V8's compile cache (Node 22.1 and later) lets later starts skip compiling (Claude Code starts
 * `gatehouse mcp` at every session). It is kept in Gatehouse's own home, and only when that exists,
 * belongs to this user and is closed to others: never in a shared temp folder, where another local
 * user could plant code that the next start would run.
 */
function enableCompileCache(): void {
  const enable = (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (!enable) return;
  try {
    const { home } = gatehouseHome(process.env);
    const st = statSync(home);
    if (!st.isDirectory() || (st.mode & 0o077) !== 0 || st.uid !== process.getuid?.()) return;
    enable(join(home, 'compile-cache'));
  } catch {
    // No home yet, or no cache: it only saves time.
  }
}

/**
 * Runs the command line of this process (what the `gatehouse` launcher calls: src/cli/launch.ts),
 * told whether this code came from V8's code cache (code-cache.ts) when it was run from one.
 */
export function start(codeCache?: string): void {
  if (codeCache !== undefined) log.debug('code cache', { state: codeCache });
  enableCompileCache();
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
      // Commands close what they open; a forced exit would cut stdout short, so let the loop drain.
    },
    (e) => {
      process.stderr.write(`fatal: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

if (isEntryPoint()) start();
