import { ConsoleSessions, LOGIN_CODE_TTL_MS, PASSKEY_SETUP_TTL_MS } from '../../console/index.js';
import { GatehouseError, truncateText } from '../../core/index.js';
import { bootRuntime } from '../../server/index.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';
import { parseListen } from './serve.js';

const USAGE = `usage: gatehouse console [--port N] [--host NAME] [--passkey-setup]
  Prints a one-time login link for the console of the local \`gatehouse serve\`
  (http://localhost:PORT/console/login#code=…): good once, for ${LOGIN_CODE_TTL_MS / 1000} s.
  --passkey-setup  prints a one-time code for registering the console's first passkey instead
                   (good once, for ${PASSKEY_SETUP_TTL_MS / 60000} minutes; paste it on the Passkeys page)
  --port N      the port serve listens on (default: from GATEHOUSE_LISTEN or server.listen, else 3000)
  --host NAME   localhost (default) or a NAME.localhost name`;

/** A *.localhost name (RFC 6761: always loopback), or localhost itself. */
const LOCAL_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*localhost$/;

/**
 * `gatehouse console`: a one-time login link for the console. The code travels in the URL's
 * fragment, which the browser never sends to the server (so it is in no server or proxy log); it is
 * stored only as its hash, good for 60 s and once. Audited as `console` / `login_code`.
 */
export const run: CommandRunner = async (args, ctx) => {
  if (args[0] === 'help' || args[0] === '--help' || args[0] === '-h') {
    write(ctx.stdout, USAGE);
    return EXIT.ok;
  }
  const { values } = parse(
    args,
    { port: { type: 'string' }, host: { type: 'string' }, 'passkey-setup': { type: 'boolean' } },
    { positionals: false },
  );
  let port: number | undefined;
  if (values.port !== undefined) {
    port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : NaN;
    if (!(port >= 1 && port <= 65535))
      throw new GatehouseError('usage', `invalid --port ${JSON.stringify(truncateText(values.port, 20))}`, {
        hint: 'a port number from 1 to 65535',
      });
  }
  const host = (values.host ?? 'localhost').toLowerCase();
  if (!LOCAL_NAME.test(host))
    throw new GatehouseError('usage', `invalid --host ${JSON.stringify(truncateText(host, 80))}`, {
      hint: 'use localhost or a NAME.localhost name: the console answers only on loopback names for now, and passkeys need a name, not an IP address',
    });
  const rt = await bootRuntime({ env: ctx.env });
  try {
    port ??= parseListen(ctx.env.GATEHOUSE_LISTEN ?? rt.config.server.listen ?? '127.0.0.1:3000').port;
    const by = operator(ctx.env);
    const sessions = await ConsoleSessions.open(rt);
    if (values['passkey-setup']) {
      const { code } = await sessions.createPasskeySetupCode(by);
      await rt.audit.append({
        phase: 'event',
        tool: 'console',
        outcome: 'passkey_setup_code',
        approver: `operator:${by}`,
        detail: { by: `operator:${by}`, validS: PASSKEY_SETUP_TTL_MS / 1000 },
      });
      write(
        ctx.stdout,
        `Passkey setup code (good once, for ${PASSKEY_SETUP_TTL_MS / 60000} minutes):\n\n  ${code}\n\nPaste it on the console's Passkeys page (http://${host}:${port}/console/passkeys) with the first passkey.`,
      );
      return EXIT.ok;
    }
    const { code } = await sessions.createLoginCode(by);
    await rt.audit.append({
      phase: 'event',
      tool: 'console',
      outcome: 'login_code',
      approver: `operator:${by}`,
      detail: { by: `operator:${by}`, validS: LOGIN_CODE_TTL_MS / 1000 },
    });
    // Behind a proxy that terminates TLS, the link uses the console's public origin.
    const origin =
      values.host === undefined && rt.config.console.public_origin
        ? new URL(rt.config.console.public_origin).origin
        : `http://${host}:${port}`;
    write(ctx.stdout, `Open this link to log in to the Gatehouse console:\n\n  ${origin}/console/login#code=${code}\n`);
    write(
      ctx.stdout,
      `It works once, for ${LOGIN_CODE_TTL_MS / 1000} seconds. Use the name localhost (not 127.0.0.1): passkeys need a host name.`,
    );
    return EXIT.ok;
  } finally {
    await rt.close();
  }
};
