import { readFileSync } from 'node:fs';
import { GatehouseError } from '../../core/index.js';
import { bootRuntime, serveMcpStdio } from '../../server/index.js';
import { parse } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

/**
 * `gatehouse mcp`: MCP over stdio for local clients (Claude Code launches it). The token comes
 * from GATEHOUSE_TOKEN or --token-file; nothing but protocol is written to stdout.
 */
export const run: CommandRunner = async (args, ctx) => {
  const { values } = parse(args, { 'token-file': { type: 'string' } }, { positionals: false });
  let token = ctx.env.GATEHOUSE_TOKEN;
  if (values['token-file']) {
    try {
      token = readFileSync(values['token-file'], 'utf8').trim();
    } catch (e) {
      throw new GatehouseError(
        'usage',
        `cannot read --token-file ${values['token-file']}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  if (!token)
    throw new GatehouseError('unauthenticated', 'no token given', {
      hint: 'set GATEHOUSE_TOKEN or pass --token-file FILE',
    });
  const rt = await bootRuntime({ env: ctx.env, auditWriterThread: true });
  try {
    const { closed } = await serveMcpStdio(rt, token);
    await closed;
  } finally {
    await rt.close();
  }
  return EXIT.ok;
};
