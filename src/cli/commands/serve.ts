import { realpathSync } from 'node:fs';
import { auditHead } from '../../audit/index.js';
import { GatehouseError, log } from '../../core/index.js';
import type { Store } from '../../store/index.js';
import { bootRuntime, GatehouseMetrics, metricsRoute, plainRoutes, startHttpServer } from '../../server/index.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined || port > 65535) {
    throw new GatehouseError('usage', `invalid --listen ${JSON.stringify(text)}`, {
      hint: 'use HOST:PORT, e.g. 127.0.0.1:3000',
    });
  }
  return { host, port };
}

/**
 * `gatehouse serve`: Streamable HTTP MCP plus plain routes. On the very first start it creates
 * GATEHOUSE_HOME, the master key and the store, and prints an admin token once.
 */
export const run: CommandRunner = async (args, ctx) => {
  const { values } = parse(args, { listen: { type: 'string' } }, { positionals: false });
  // Check a given address before anything is created: bad input changes nothing.
  const given = values.listen ?? ctx.env.GATEHOUSE_LISTEN;
  if (given) parseListen(given);
  const rt = await bootRuntime({ env: ctx.env, auditWriterThread: true });
  let listen: { host: string; port: number };
  try {
    listen = parseListen(values.listen ?? ctx.env.GATEHOUSE_LISTEN ?? rt.config.server.listen ?? '127.0.0.1:3000');
  } catch (e) {
    await rt.close();
    throw e;
  }
  let firstToken: string | undefined;
  const tokens = await rt.tokens.list();
  if (!tokens.some((t) => t.admin)) {
    try {
      const { token } = await rt.tokens.create({
        name: 'admin',
        grants: ['tool:*', 'target:*', 'vault:*'],
        admin: true,
      });
      firstToken = token;
    } catch (e) {
      // Several processes started at once on one new store: one of them created the admin token
      // (and printed it); the others carry on without one of their own.
      if (!(e instanceof GatehouseError && e.code === 'conflict')) {
        await rt.close();
        throw e;
      }
    }
  }
  const metrics = new GatehouseMetrics(rt, rt.approvals);
  const http = await startHttpServer(rt, {
    ...listen,
    allowedOrigins: [
      ...rt.config.server.allowed_origins,
      ...(ctx.env.GATEHOUSE_ALLOWED_ORIGINS ?? '').split(',').filter(Boolean),
    ],
    routes: [...(await plainRoutes(rt)), metricsRoute(metrics)],
    ...((ctx.env.GATEHOUSE_ADVERTISE_URL ?? rt.config.server.advertise_url)
      ? { advertiseUrl: ctx.env.GATEHOUSE_ADVERTISE_URL ?? rt.config.server.advertise_url }
      : {}),
    onAnswered: (route, status) => metrics.httpRequest(route, status),
  });
  if (firstToken) {
    write(ctx.stdout, `Gatehouse is set up in ${rt.paths.home} (store: ${rt.store.description}).`);
    write(ctx.stdout, `Admin token (shown once, store it now):\n\n  ${firstToken}\n`);
    write(
      ctx.stdout,
      `Give agents their own narrower tokens: gatehouse token create --name my-agent --grant tool:discover`,
    );
  }
  // The "listening on" line comes last: scripts wait for it, and everything above is then printed.
  write(
    ctx.stdout,
    `Connect Claude Code: claude mcp add --transport http gatehouse ${http.url}/mcp --header "Authorization: Bearer <token>"`,
  );
  const local = stdioCommand();
  if (local)
    write(
      ctx.stdout,
      `Or over stdio, from any folder: claude mcp add gatehouse --env GATEHOUSE_TOKEN=<token> -- ${local}`,
    );
  write(ctx.stdout, `Gatehouse listening on ${http.url}  (MCP: POST ${http.url}/mcp, health: GET ${http.url}/health)`);
  log.info('serving', { url: http.url, store: rt.store.description });
  const stopHeadLog = logAuditHead(rt.store, rt.config.audit.head_log_seconds);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  stopHeadLog();
  await http.close();
  await rt.close();
  return EXIT.ok;
};

/**
 * Logs every audit chain's head (the anchor line) when it has moved, every `seconds`. Records cut from
 * the end of the log leave a chain that still verifies; a head that a log shipper carried off the
 * host is the anchor that shows it (`gatehouse audit verify --anchor LINE`).
 */
function logAuditHead(store: Store, seconds: number): () => void {
  if (seconds <= 0) return () => undefined;
  let last = '';
  const timer = setInterval(() => {
    auditHead(store)
      .then((h) => {
        if (h && h.anchor !== last) {
          last = h.anchor;
          log.info('audit head', { anchor: h.anchor, ts: h.ts });
        }
      })
      .catch((e) => log.warn('audit head not read', { err: e }));
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The absolute command that starts `gatehouse mcp` with this installation, for pasting into a
 * client's configuration: it works from any folder, with no global install and whatever the
 * client's PATH holds (a client may not see the shell's node). Undefined when the entry is unknown.
 */
/** The argv that runs this same `gatehouse` (node and its entry file, resolved), for client setups. */
export function gatehouseArgv(): string[] | undefined {
  try {
    const entry = process.argv[1] && realpathSync(process.argv[1]);
    return entry ? [process.execPath, entry] : undefined;
  } catch {
    return undefined;
  }
}

function stdioCommand(): string | undefined {
  const argv = gatehouseArgv();
  if (!argv) return undefined;
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `${argv.map(quote).join(' ')} mcp`;
}
