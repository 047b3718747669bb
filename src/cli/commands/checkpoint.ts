/**
 * `gatehouse checkpoint create|list|show|rollback|purge` (issue 20 item 4): snapshots of a sandbox
 * workspace, what changed since one, and putting it back byte for byte. The workspace is the
 * sandbox profile's (the one `exec` and `gatehouse run` use) unless `--workspace` names another.
 * Create, rollback and purge are audited.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  openCheckpoints,
  type CheckpointStore,
  describeChange,
  renderDiff,
  type Change,
  type CheckpointSummary,
} from '../../checkpoints/index.js';
import { cutText, gatehouseHome, GatehouseError, parseDuration, truncateText } from '../../core/index.js';
import { resolveProfile } from '../../sandbox/index.js';
import { bootRuntime } from '../../server/index.js';
import { loadConfig } from '../../server/light.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse checkpoint create [--reason TEXT]            snapshot the workspace now
  gatehouse checkpoint list                              the workspace's checkpoints, oldest first
  gatehouse checkpoint show ID [--diff] [--path P]...    what changed since ID (--diff: text diffs)
  gatehouse checkpoint rollback ID [--dry-run] [--path P]...
                                                         put the workspace (or P) back as ID has it;
                                                         the current state is checkpointed first
  gatehouse checkpoint purge [ID...] [--older-than 7d] [--keep N] [--all]
  every command takes --workspace DIR (default: the sandbox profile's workspace), --profile NAME
  and --json`;

const OPTIONS = {
  workspace: { type: 'string' },
  profile: { type: 'string' },
  reason: { type: 'string' },
  diff: { type: 'boolean' },
  path: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  'older-than': { type: 'string' },
  keep: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const SUBCOMMANDS = new Set(['create', 'list', 'show', 'rollback', 'purge']);

function usage(message: string): GatehouseError {
  return new GatehouseError('usage', message, { hint: USAGE });
}

/** The store for the workspace named, or the sandbox profile's, with the profile's limits. */
function openStore(ctx: CliContext, v: { workspace?: string; profile?: string }): CheckpointStore {
  const home = gatehouseHome(ctx.env);
  const config = loadConfig(ctx.env.GATEHOUSE_CONFIG ?? home.configFile, ctx.env.GATEHOUSE_CONFIG !== undefined);
  const profile = resolveProfile(
    v.profile ?? config.sandbox.profile,
    { profiles: config.sandbox.profiles },
    { home: home.home },
  );
  const workspace =
    v.workspace === undefined ? profile.workspace : isAbsolute(v.workspace) ? v.workspace : resolve(v.workspace);
  return openCheckpoints(home.home, workspace, profile.checkpoints);
}

function row(c: CheckpointSummary): Record<string, string> {
  return {
    ID: c.id,
    CREATED: cutText(c.createdAt.replace('T', ' '), 19),
    TRIGGER: c.trigger,
    FILES: String(c.files),
    SIZE: bytes(c.bytes),
    NEW: bytes(c.newBytes),
    REASON: truncateText(c.reason, 60, '…'),
  };
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function changeJson(c: Change) {
  return {
    path: c.path,
    kind: c.kind,
    ...(c.then ? { then: { type: c.then.type, size: c.then.size, mode: c.then.mode } } : {}),
    ...(c.now ? { now: { type: c.now.type, size: c.now.size, mode: c.now.mode } } : {}),
  };
}

export const run: CommandRunner = async (args, ctx) => {
  const sub = args[0];
  if (sub === undefined || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!SUBCOMMANDS.has(sub)) throw usage(`unknown checkpoint command ${JSON.stringify(sub)}`);
  const { values: v, positionals } = parse(args.slice(1), OPTIONS);
  const needsId = sub === 'show' || sub === 'rollback';
  if (needsId ? positionals.length !== 1 : sub !== 'purge' && positionals.length > 0) {
    throw usage(needsId ? `checkpoint ${sub} takes one checkpoint ID` : `checkpoint ${sub} takes no arguments`);
  }
  if (sub === 'purge' && !v.all && positionals.length === 0 && v['older-than'] === undefined && v.keep === undefined) {
    throw usage('checkpoint purge needs IDs, --older-than, --keep or --all');
  }
  const keep = v.keep === undefined ? undefined : /^\d{1,6}$/.test(v.keep) ? Number(v.keep) : NaN;
  if (Number.isNaN(keep)) throw usage('--keep is a whole number');
  const olderThanMs = v['older-than'] === undefined ? undefined : parseDuration(v['older-than']);
  const store = openStore(ctx, v);
  const out = (human: string, json: unknown) => write(ctx.stdout, v.json ? JSON.stringify(json, null, 2) : human);

  if (sub === 'list') {
    const all = store.list();
    out(
      `workspace ${store.workspace}\n${table(all.map(row), ['ID', 'CREATED', 'TRIGGER', 'FILES', 'SIZE', 'NEW', 'REASON'])}`,
      {
        workspace: store.workspace,
        checkpoints: all,
      },
    );
    return EXIT.ok;
  }
  if (sub === 'show') {
    const id = positionals[0]!;
    const cp = store.get(id);
    const changes = store.diff(id, v.path ?? []);
    const { entries: _entries, ...meta } = cp;
    if (v.json) {
      out('', { checkpoint: meta, changes: changes.map(changeJson) });
      return EXIT.ok;
    }
    const lines = [
      `${cp.id}  ${cp.createdAt}  ${cp.trigger}: ${cp.reason}`,
      ...(cp.command !== undefined ? [`command: ${cp.command}`] : []),
      `workspace ${cp.workspace}: ${cp.files} files, ${bytes(cp.bytes)}`,
      changes.length === 0
        ? 'no changes since'
        : `${changes.length} change(s) since (A added, D deleted, M modified, T type, m mode):`,
      ...changes.map(describeChange),
    ];
    if (v.diff)
      for (const c of changes)
        if (c.kind === 'modified' || c.kind === 'added' || c.kind === 'removed') {
          const d = renderDiff(store, c);
          if (d !== '') lines.push('', d);
        }
    out(lines.join('\n'), undefined);
    return EXIT.ok;
  }
  // The rest changes state: audited through the runtime, like every operator action.
  const rt = await bootRuntime({ env: ctx.env });
  try {
    if (sub === 'create') {
      const cp = store.create({ trigger: 'manual', reason: v.reason ?? 'created by an operator' });
      await rt.gate.event(null, 'cli:checkpoint.create', 'ok', {
        checkpoint: cp.id,
        workspace: cp.workspace,
        files: cp.files,
      });
      out(`created ${cp.id}: ${cp.files} files, ${bytes(cp.bytes)} (${bytes(cp.newBytes)} new in the store)`, cp);
      return EXIT.ok;
    }
    if (sub === 'rollback') {
      const id = positionals[0]!;
      const r = store.rollback(id, { dryRun: v['dry-run'] === true, paths: v.path ?? [] });
      if (v['dry-run']) {
        out(
          r.changes.length === 0
            ? `nothing to roll back: the workspace matches ${id}`
            : `rollback to ${id} would undo ${r.changes.length} change(s):\n${r.changes.map(describeChange).join('\n')}`,
          { dryRun: true, changes: r.changes.map(changeJson) },
        );
        return EXIT.ok;
      }
      await rt.gate.event(null, 'cli:checkpoint.rollback', 'ok', {
        checkpoint: id,
        workspace: store.workspace,
        changes: r.changes.length,
        ...(r.safety ? { safety: r.safety.id } : {}),
        ...(v.path ? { paths: v.path } : {}),
      });
      out(
        r.changes.length === 0
          ? `nothing to roll back: the workspace matches ${id}`
          : `rolled back ${r.changes.length} change(s) to ${id}; the state before is ${r.safety?.id ?? '?'} (roll back to it to undo)`,
        { changes: r.changes.map(changeJson), safety: r.safety },
      );
      return EXIT.ok;
    }
    const dropped = store.purge({
      ...(positionals.length > 0 ? { ids: positionals } : {}),
      ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      ...(keep !== undefined ? { keep } : {}),
      ...(v.all ? { all: true } : {}),
    });
    await rt.gate.event(null, 'cli:checkpoint.purge', 'ok', {
      workspace: store.workspace,
      purged: dropped.map((c) => c.id),
    });
    out(`purged ${dropped.length} checkpoint(s)`, { purged: dropped.map((c) => c.id) });
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
