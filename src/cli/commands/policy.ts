/**
 * `gatehouse policy generate --from-audit …` and `gatehouse policy test FILE --from-audit …`:
 * profile, then lock (issue 20 item 5). The work is in src/guard/lock-policy.ts (generation and
 * replay) and src/audit/guarded-actions.ts (what the audit log says was judged); this file reads
 * options, opens the store and prints.
 *
 * `policy test` exit codes: 0 every recorded action gets the decision it got; 3 at least one would
 * be treated more strictly (refused, or held for a person, where it was not); 4 none stricter but
 * at least one more loosely (something refused or held would now run). 2 usage, 1 other failures.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { readGuardedActions } from '../../audit/index.js';
import { GatehouseError, pointInTime } from '../../core/index.js';
import { generateLockPolicy, loadGuard, loadPolicyFile, replayObserved } from '../../guard/index.js';
import { bootRuntime, type Runtime } from '../../server/index.js';
import { onlyPositional, parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';
import { visible } from '../terminal.js';

export const POLICY_TEST_EXIT = { same: 0, stricter: 3, looser: 4 } as const;

const USAGE = `usage:
  gatehouse policy generate --from-audit [--token NAME] [--session ID] [--since 1d|ISO]
        [--name NAME] [--unknown deny|approve] [--out FILE [--force]]
        a guard policy that allows what the audit log shows was done (commands, HTTP requests, file
        paths, as rules no wider than what was seen) and refuses the rest; risky items are marked
        REVIEW and kept at approve, refused ones listed as commented-out rules. YAML on stdout, or
        FILE (mode 0600); a summary on stderr.
  gatehouse policy test FILE --from-audit [--token NAME] [--session ID] [--since 1d|ISO] [--json]
        judges every recorded action again with FILE's policy (by name, whatever its applies_to) and
        lists those whose decision would change. exit: 0 none, 3 some would be stricter, 4 only
        looser ones, 2 usage error`;

const OPTIONS = {
  'from-audit': { type: 'boolean' },
  token: { type: 'string' },
  session: { type: 'string' },
  since: { type: 'string' },
  name: { type: 'string' },
  unknown: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const SESSION_ID = /^sess_[A-Za-z0-9_-]{10,40}$/;
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/** The guarded actions recorded since `since` for `--token` / `--session` (the token too, when named). */
async function recorded(rt: Runtime, since: string, v: { token?: string | undefined; session?: string | undefined }) {
  const token = v.token !== undefined ? await rt.tokens.get(v.token) : undefined;
  const got = await readGuardedActions(rt.store, {
    since,
    ...(token ? { tokenId: token.id } : {}),
    ...(v.session ? { session: v.session } : {}),
  });
  return { token, got };
}

export const run: CommandRunner = async (args, ctx) => {
  const sub = args[0];
  if (sub === undefined || sub === 'help' || sub === '--help') {
    write(sub === undefined ? ctx.stderr : ctx.stdout, USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== 'generate' && sub !== 'test')
    throw new GatehouseError('usage', `unknown policy subcommand ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values: v, positionals } = parse(args.slice(1), OPTIONS);
  if (!v['from-audit'])
    throw new GatehouseError('usage', 'say where the actions come from: --from-audit', { hint: USAGE });
  if (v.session !== undefined && !SESSION_ID.test(v.session))
    throw new GatehouseError('usage', '--session takes a session id (sess_…)', { hint: USAGE });
  const since = pointInTime(v.since ?? '1d', Date.now());
  const filters = [
    ...(v.token !== undefined ? ['--token', v.token] : []),
    ...(v.session !== undefined ? ['--session', v.session] : []),
    '--since',
    v.since ?? '1d',
  ];
  const shellWord = (w: string) => (/^[A-Za-z0-9_./:@+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

  if (sub === 'test') {
    if (v.name !== undefined || v.unknown !== undefined || v.out !== undefined || v.force)
      throw new GatehouseError('usage', 'policy test takes FILE, the audit filters and --json', { hint: USAGE });
    const file = onlyPositional(positionals);
    // The file's own policy is the one replayed (by name: its applies_to does not matter here).
    const policy = loadPolicyFile(file);
    const engine = await loadGuard({ policyFiles: [file] });
    const rt = await bootRuntime({ env: ctx.env });
    try {
      const { got } = await recorded(rt, since, v);
      const r = replayObserved(engine, policy.name, got.actions);
      if (v.json)
        write(
          ctx.stdout,
          JSON.stringify({ file, ...r, skipped: got.skipped, truncated: got.truncated, since }, null, 2),
        );
      else {
        const lines = [`policy ${policy.name} (${visible(file)}) replayed on what was recorded since ${since}:`];
        for (const c of r.changes)
          lines.push(
            `  #${c.seq} ${c.ts} ${visible(c.tool)}${c.target ? `@${visible(c.target)}` : ''} ${c.from.decision} -> ${c.to.decision} (${visible(c.to.rule)}${c.direction === 'looser' ? ', LOOSER' : ''}): ${visible(c.summary)}`,
          );
        const skipped = Object.entries(got.skipped).map(([k, n]) => `${n} ${k}`);
        lines.push(
          `${r.replayed} replayed: ${r.unchanged} unchanged, ${r.stricter} stricter, ${r.looser} looser` +
            (skipped.length ? `; not replayed: ${skipped.join(', ')}` : '') +
            (got.truncated ? '; the oldest records were left out (narrow --since)' : ''),
        );
        write(ctx.stdout, lines.join('\n'));
      }
      return r.stricter ? POLICY_TEST_EXIT.stricter : r.looser ? POLICY_TEST_EXIT.looser : POLICY_TEST_EXIT.same;
    } finally {
      await rt.close();
    }
  }

  if (positionals.length || v.json)
    throw new GatehouseError('usage', 'policy generate takes no file argument (use --out FILE) and no --json', {
      hint: USAGE,
    });
  const unknown = v.unknown ?? 'deny';
  if (unknown !== 'deny' && unknown !== 'approve')
    throw new GatehouseError('usage', '--unknown takes deny or approve', { hint: USAGE });
  if (v.force && v.out === undefined)
    throw new GatehouseError('usage', '--force goes with --out FILE', { hint: USAGE });
  if (v.name !== undefined && !NAME.test(v.name))
    throw new GatehouseError('usage', '--name takes letters, digits, - and _ (at most 64)', { hint: USAGE });
  if (v.out !== undefined && existsSync(v.out) && !v.force)
    throw new GatehouseError('conflict', `${v.out} exists`, { hint: 'give another --out, or --force to replace it' });
  const rt = await bootRuntime({ env: ctx.env });
  try {
    const { token, got } = await recorded(rt, since, v);
    const scope = [
      token ? `token ${token.name}` : undefined,
      v.session ? `session ${v.session}` : undefined,
      `since ${v.since ?? '1d'}`,
    ].filter(Boolean);
    if (got.actions.length === 0)
      throw new GatehouseError('not_found', `the audit log holds no guarded actions for ${scope.join(', ')}`, {
        hint: 'widen --since, or check --token and --session (`gatehouse report` shows what the log holds)',
      });
    // Bound to the token profiled, or to the one token the records came from.
    const names = [...new Set(got.actions.map((a) => a.tokenName).filter((n): n is string => n !== null))];
    const tokens = token ? [token.name] : names.length === 1 ? names : [];
    const base = tokens[0] ?? (v.session ? v.session : 'audit');
    const name = v.name ?? `lock-${base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}`.replace(/-+$/, '');
    const builtins = (await loadGuard()).policyNames();
    if (builtins.includes(name))
      throw new GatehouseError('usage', `${name} is a built-in policy's name`, { hint: 'give another --name' });
    const r = await generateLockPolicy(got.actions, {
      name,
      tokens,
      unknown,
      source: scope.join(', '),
      filters: filters.map(shellWord).join(' '),
    });
    if (v.out !== undefined) writeFileSync(v.out, r.text, { mode: 0o600, flag: v.force ? 'w' : 'wx' });
    else ctx.stdout.write(r.text);
    const s = r.stats;
    write(
      ctx.stderr,
      `${v.out !== undefined ? `wrote ${visible(v.out)}: ` : ''}policy ${name} from ${s.actions} actions` +
        `${tokens.length ? ` (applies to token ${tokens.map(visible).join(', ')})` : ' (bound to no token: see applies_to)'}: ` +
        `${s.commandRules} command rules, ${s.httpRules} HTTP rules, ${s.pathRules} path rules; ` +
        `${s.review} to review, ${s.refused} refused listed as comments. ` +
        `Replayed: ${r.replay.unchanged} unchanged, ${r.replay.stricter} stricter, ${r.replay.looser} looser` +
        (got.truncated ? '. The oldest records were left out: narrow --since' : ''),
    );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
