import { cutText, GatehouseError } from '../../core/index.js';
import {
  describeClient,
  formatGrant,
  parseDuration,
  type ClientRegistry,
  type SeenClient,
  type TokenInfo,
  type TokenService,
} from '../../gate/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { EXIT, type CliContext, type CommandRunner } from '../context.js';

const USAGE = `usage:
  gatehouse token create --name NAME [--grant KIND:NAME ...] [--expires 30d] [--policy NAME] [--approval elicitation|out-of-band|totp] [--user NAME]
  gatehouse token list [--json]
  gatehouse token revoke ID|NAME
  gatehouse token rotate ID|NAME`;

function infoJson(t: TokenInfo, client: SeenClient | undefined) {
  return { ...t, grants: t.grants.map(formatGrant), lastClient: client ?? null };
}

export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['create', 'list', 'revoke', 'rotate'].includes(sub))
    throw new GatehouseError('usage', `unknown token command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, {
    name: { type: 'string' },
    grant: { type: 'string', multiple: true },
    expires: { type: 'string' },
    policy: { type: 'string' },
    approval: { type: 'string' },
    user: { type: 'string' },
    json: { type: 'boolean' },
  });
  // Validate everything before touching the store, so bad input changes nothing.
  let expiresInMs: number | undefined;
  try {
    expiresInMs = values.expires ? parseDuration(values.expires) : undefined;
  } catch (e) {
    throw new GatehouseError('usage', (e as Error).message, {
      hint: 'use --expires with a number and a unit: 45s, 90m, 12h, 30d, 2w',
    });
  }
  if (values.approval && !['elicitation', 'out-of-band', 'totp'].includes(values.approval)) {
    throw new GatehouseError('usage', `invalid --approval ${JSON.stringify(values.approval)}`, {
      hint: 'use elicitation, out-of-band or totp',
    });
  }
  if (sub === 'create' && !values.name)
    throw new GatehouseError('usage', 'token create needs --name NAME', { hint: USAGE });
  if ((sub === 'revoke' || sub === 'rotate') && positionals.length !== 1)
    throw new GatehouseError('usage', `token ${sub} needs one ID or NAME`, { hint: USAGE });

  const rt = await bootRuntime({ env: ctx.env });
  try {
    if (sub === 'create') {
      const { token, info } = await rt.tokens.create({
        name: values.name!,
        grants: values.grant ?? [],
        expiresInMs,
        policy: values.policy,
        approvalMode: values.approval as 'elicitation' | 'out-of-band' | 'totp' | undefined,
        ...(values.user !== undefined ? { user: values.user } : {}),
      });
      await rt.gate.event(null, 'cli:token.create', 'ok', {
        token: info.name,
        grants: info.grants.map(formatGrant),
        ...(info.user ? { user: info.user } : {}),
      });
      if (values.json) write(ctx.stdout, JSON.stringify({ token, ...infoJson(info, undefined) }));
      else {
        write(ctx.stdout, token);
        write(
          ctx.stderr,
          `created token ${info.name} (${info.id}) with grants: ${info.grants.map(formatGrant).join(' ') || '(none)'}${info.user ? `, for user ${info.user}` : ''}${info.expiresAt ? `, expires ${info.expiresAt}` : ''}`,
        );
        write(ctx.stderr, 'This is the only time the token is shown. Store it now.');
      }
    } else if (sub === 'list') {
      await listTokens(rt.tokens, rt.clients, !!values.json, ctx);
    } else if (sub === 'revoke') {
      const info = await rt.tokens.revoke(onlyPositional(positionals));
      await rt.gate.event(null, 'cli:token.revoke', 'ok', { token: info.name });
      write(ctx.stdout, `revoked ${info.name} (${info.id})`);
    } else {
      const { token, info } = await rt.tokens.rotate(onlyPositional(positionals));
      await rt.gate.event(null, 'cli:token.rotate', 'ok', { token: info.name });
      write(ctx.stdout, token);
      write(
        ctx.stderr,
        `rotated ${info.name} (${info.id}); the old token is refused from now on. This is the only time the new token is shown.`,
      );
    }
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};

/**
 * `token list`: every token's name, grants, dates and the last MCP client it was used from (never
 * its text), and a warning per record that fails its check.
 */
async function listTokens(
  tokens: TokenService,
  clients: ClientRegistry,
  json: boolean,
  ctx: CliContext,
): Promise<void> {
  const list = await tokens.list();
  const seen = await clients.lastSeen();
  if (json)
    write(
      ctx.stdout,
      JSON.stringify(
        list.map((t) => infoJson(t, seen.get(t.id))),
        null,
        2,
      ),
    );
  else
    write(
      ctx.stdout,
      table(
        list.map((t) => ({
          id: t.id,
          name: t.name,
          user: t.user ?? '-',
          prefix: t.prefix + '…',
          grants:
            [
              ...t.grants.map(formatGrant),
              ...t.addedGrants.map((g) => `${g.grant}${g.until ? `(until ${cutText(g.until, 19)})` : ''}`),
            ].join(',') || '-',
          created: cutText(t.createdAt, 19),
          last_used: t.lastUsedAt ? cutText(t.lastUsedAt, 19) : '-',
          expires: t.expiresAt ? cutText(t.expiresAt, 19) : 'never',
          revoked: t.revokedAt ? cutText(t.revokedAt, 19) : '-',
          integrity: t.verified ? 'ok' : 'FAILED',
          last_client: ((c) => (c ? describeClient(c) : '-'))(seen.get(t.id)),
        })),
        [
          'id',
          'name',
          'user',
          'prefix',
          'grants',
          'created',
          'last_used',
          'expires',
          'revoked',
          'integrity',
          'last_client',
        ],
      ),
    );
  const failed = list.filter((t) => !t.verified);
  // Loud: a token record nobody legitimate wrote means someone can write to the store.
  if (failed.length > 0) {
    write(
      ctx.stderr,
      `WARNING: ${failed.length} token record(s) failed the integrity check (${failed.map((t) => t.name).join(', ')}): they were written or changed outside Gatehouse and are refused. Revoke them and find out who can write to the database.`,
    );
  }
}
