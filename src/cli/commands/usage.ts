/**
 * `gatehouse usage [--token NAME] [--since 7d|DATE] [--json]`: tokens counted from model APIs'
 * answers through `/gateway` (issue 20 item 3), per Gatehouse token, target and UTC day, with
 * each token's daily budget. `gatehouse usage budget NAME --max-tokens-per-day N|none` sets one.
 */
import { GatehouseError, pointInTime } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { dayOf } from '../../usage/index.js';
import { parse, table, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse usage [--token NAME] [--since 7d|2026-12-01] [--json]
                        model tokens per token, target and UTC day (input, output, cache), with budgets
  gatehouse usage budget NAME --max-tokens-per-day N|none
                        a daily budget for a token's model calls (refused with limit_exceeded once spent)`;

const OPTIONS = {
  token: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  'max-tokens-per-day': { type: 'string' },
} as const;

export const run: CommandRunner = async (args, ctx) => {
  if (args[0] === 'help' || args[0] === '--help') {
    write(ctx.stdout, USAGE);
    return EXIT.ok;
  }
  const budget = args[0] === 'budget';
  const { values: v, positionals } = parse(budget ? args.slice(1) : args, OPTIONS);
  if (budget ? positionals.length !== 1 || v['max-tokens-per-day'] === undefined : positionals.length > 0)
    throw new GatehouseError(
      'usage',
      budget ? 'usage budget needs NAME and --max-tokens-per-day' : 'usage takes no arguments',
      {
        hint: USAGE,
      },
    );
  let max: number | null = null;
  if (budget && v['max-tokens-per-day'] !== 'none') {
    max = /^\d{1,15}$/.test(v['max-tokens-per-day']!) ? Number(v['max-tokens-per-day']) : NaN;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new GatehouseError('usage', '--max-tokens-per-day is a whole number from 1, or none', { hint: USAGE });
  }
  const since = v.since === undefined ? undefined : dayOf(Date.parse(pointInTime(v.since, Date.now())));
  const rt = await bootRuntime({ env: ctx.env });
  try {
    const ledger = await rt.usage();
    if (budget) {
      const t = await rt.tokens.get(positionals[0]!);
      await ledger.setBudget(t.id, max);
      await rt.gate.event(null, 'cli:usage.budget', 'ok', { tokenId: t.id, token: t.name, maxTokensPerDay: max });
      write(
        ctx.stdout,
        max === null ? `removed the daily budget of ${t.name}` : `${t.name}: at most ${max} model tokens a day (UTC)`,
      );
      return EXIT.ok;
    }
    const tokens = await rt.tokens.list();
    const only = v.token !== undefined ? await rt.tokens.get(v.token) : undefined;
    const names = new Map(tokens.map((t) => [t.id, t.name]));
    const rows = await ledger.rows({ ...(only ? { tokenId: only.id } : {}), ...(since ? { since } : {}) });
    const budgets = new Map<string, number | undefined>();
    for (const r of rows) if (!budgets.has(r.tokenId)) budgets.set(r.tokenId, await ledger.budget(r.tokenId));
    if (v.json) {
      write(
        ctx.stdout,
        JSON.stringify(
          rows.map((r) => ({
            ...r,
            token: names.get(r.tokenId) ?? null,
            budgetPerDay: budgets.get(r.tokenId) ?? null,
          })),
          null,
          2,
        ),
      );
      return EXIT.ok;
    }
    if (rows.length === 0) {
      write(ctx.stdout, '(no model usage recorded)');
      return EXIT.ok;
    }
    write(
      ctx.stdout,
      table(
        rows.map((r) => ({
          day: r.day,
          token: names.get(r.tokenId) ?? r.tokenId,
          target: r.target,
          calls: String(r.calls),
          input: String(r.input),
          output: String(r.output),
          'cache read': String(r.cacheRead),
          'cache write': String(r.cacheWrite),
          budget: budgets.get(r.tokenId) === undefined ? '-' : `${budgets.get(r.tokenId)}/day`,
        })),
        ['day', 'token', 'target', 'calls', 'input', 'output', 'cache read', 'cache write', 'budget'],
      ),
    );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
