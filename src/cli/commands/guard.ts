import { createInterface } from 'node:readline';
import { isGatehouseError, toGatehouseError } from '../../core/index.js';
import {
  assertCommandSize,
  GUARD_RUN_CONTEXTS,
  loadGuard,
  type GuardDecision,
  type GuardEngine,
  type GuardRunContext,
} from '../../guard/index.js';
import { EXIT, type CommandRunner } from '../context.js';

/**
 * `gatehouse guard check [--policy FILE] [--context C] [--json] -- COMMAND`
 * `gatehouse guard check --jsonl [--policy FILE] [--context C]`  (stdin: one JSON string per line)
 *
 * `--context ssh|session|sandbox|cli` answers as the guard would where the command runs (the
 * policy's unknown_command differs per context); the default `cli` previews ssh_exec's answer.
 *
 * Exit codes: 0 allow, 10 approve, 20 deny, 30 redirect, 2 usage error (also for input over the
 * 64 KiB limit: `input_too_large`), 1 other failures (e.g. an invalid policy file). In --jsonl mode
 * the exit code is 0 unless the run itself fails; each line carries its own decision or error.
 */
export const GUARD_EXIT = { allow: 0, approve: 10, deny: 20, redirect: 30 } as const;

const USAGE = `usage: gatehouse guard check [--policy FILE] [--context ssh|session|sandbox|cli] [--json] -- COMMAND
       gatehouse guard check --jsonl [--policy FILE] [--context C] < commands.jsonl
exit: 0 allow, 10 approve, 20 deny, 30 redirect, 2 usage error`;

interface Parsed {
  policy?: string;
  context: GuardRunContext;
  json: boolean;
  jsonl: boolean;
  command?: string;
}

function parseArgs(args: string[]): Parsed | string {
  if (args[0] !== 'check') return args.length ? `unknown guard subcommand "${args[0]}"` : 'missing subcommand';
  const p: Parsed = { json: false, jsonl: false, context: 'cli' };
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      p.command = args.slice(i + 1).join(' ');
      break;
    }
    if (a === '--json') p.json = true;
    else if (a === '--jsonl') p.jsonl = true;
    else if (a === '--policy') {
      const f = args[++i];
      if (!f) return '--policy needs a file';
      p.policy = f;
    } else if (a.startsWith('--policy=')) p.policy = a.slice(9);
    else if (a === '--context' || a.startsWith('--context=')) {
      const c = a === '--context' ? args[++i] : a.slice(10);
      if (!GUARD_RUN_CONTEXTS.includes(c as GuardRunContext))
        return `--context must be one of ${GUARD_RUN_CONTEXTS.join(', ')}`;
      p.context = c as GuardRunContext;
    } else return `unknown option "${a}" (put the command after --)`;
  }
  if (p.jsonl && p.command !== undefined) return '--jsonl reads commands from stdin; do not pass a command';
  if (!p.jsonl && (p.command === undefined || p.command.trim() === '')) return 'missing command after --';
  return p;
}

function line(d: GuardDecision): string {
  const out: Record<string, string> = { decision: d.decision, rule: d.rule, reason: d.reason, matched: d.matched };
  if (d.redirect !== undefined) out.redirect = d.redirect;
  return JSON.stringify(out);
}

export const run: CommandRunner = async (args, ctx) => {
  const p = parseArgs(args);
  if (typeof p === 'string') {
    ctx.stderr.write(`error: ${p}\n${USAGE}\n`);
    return EXIT.usage;
  }
  let engine: GuardEngine;
  let policyName: string | undefined;
  try {
    engine = await loadGuard(p.policy ? { policyFiles: [p.policy] } : {});
    if (p.policy) {
      // The named file's policy is the one applied.
      const { loadPolicyFile } = await import('../../guard/index.js');
      policyName = loadPolicyFile(p.policy).name;
    }
  } catch (e) {
    const err = toGatehouseError(e);
    ctx.stderr.write(`error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}\n`);
    return EXIT.failure;
  }
  const gctx = { context: p.context, ...(policyName ? { policy: policyName } : {}) };

  if (p.jsonl) {
    const rl = createInterface({ input: ctx.stdin, crlfDelay: Infinity });
    for await (const raw of rl) {
      if (raw.trim() === '') {
        ctx.stdout.write(JSON.stringify({ error: { code: 'invalid_input', message: 'empty line' } }) + '\n');
        continue;
      }
      let cmd: unknown;
      try {
        cmd = JSON.parse(raw);
      } catch {
        cmd = undefined;
      }
      if (typeof cmd !== 'string') {
        ctx.stdout.write(
          JSON.stringify({ error: { code: 'invalid_input', message: 'each line must be a JSON-encoded string' } }) +
            '\n',
        );
        continue;
      }
      try {
        assertCommandSize(cmd);
        ctx.stdout.write(line(engine.checkCommand(cmd, gctx)) + '\n');
      } catch (e) {
        const err = toGatehouseError(e);
        ctx.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n');
      }
    }
    return EXIT.ok;
  }

  const command = p.command ?? '';
  try {
    assertCommandSize(command);
  } catch (e) {
    if (isGatehouseError(e)) {
      ctx.stderr.write(`error: ${e.code}: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const d = engine.checkCommand(command, gctx);
  if (p.json) ctx.stdout.write(line(d) + '\n');
  else {
    ctx.stdout.write(
      `${d.decision}: ${d.reason}\n  rule: ${d.rule}\n  matched: ${d.matched}\n${d.redirect ? `  run instead: ${d.redirect}\n` : ''}`,
    );
  }
  return GUARD_EXIT[d.decision];
};
