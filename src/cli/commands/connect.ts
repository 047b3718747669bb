import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ApprovalMode } from '../../approvals/index.js';
import {
  clientSetup,
  CLIENTS,
  isClientKind,
  TOKEN_ENV,
  type ClientSetup,
  type ConnectTarget,
} from '../../connect/index.js';
import { GatehouseError, parseDuration, truncateText } from '../../core/index.js';
import { EnrollmentCodes } from '../../gate/index.js';
import { bootRuntime } from '../../server/index.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';
import { gatehouseArgv } from './serve.js';

const USAGE = `usage: gatehouse connect ${CLIENTS.join('|')} [how the token comes] [--http URL] [--write]
  Prints (or writes) the setup that connects an agent client to Gatehouse. The setup names a
  token file or the ${TOKEN_ENV} environment variable, never the token itself.
  How the token comes (one of):
    --new NAME [--grant KIND:NAME ...] [--approval elicitation|out-of-band|totp] [--expires 30d]
                      create a token for this client; it goes straight into a token file
                      (mode 0600), never to the terminal
    --enroll CODE     redeem a one-time code from the console's Connect page (the scope was chosen there)
    --token-file FILE a token you already hold, in FILE
    (none)            the client reads ${TOKEN_ENV} from its environment
  --http URL      connect over Streamable HTTP to URL (e.g. http://localhost:3000/mcp); default: stdio
  --token-dir DIR where --new and --enroll write token files (default: GATEHOUSE_HOME/agent-tokens)
  --write         merge the setup into the client's project file in the current folder
                  (.mcp.json, .cursor/mcp.json, .vscode/mcp.json, .codex/config.toml)`;

const MODES: readonly ApprovalMode[] = ['elicitation', 'out-of-band', 'totp'];

/** Writes a token into its own file: directory 0700, file 0600, never overwriting one. */
function writeTokenFile(dir: string, name: string, token: string): string {
  if (existsSync(dir) && lstatSync(dir).isSymbolicLink())
    throw new GatehouseError('conflict', `${dir} is a symbolic link: not writing a token through it`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, `${name}.token`);
  if (existsSync(file))
    throw new GatehouseError('conflict', `a token file already exists at ${file}`, {
      hint: 'pick another token name, or remove the old file after revoking its token',
    });
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

/**
 * Merges Gatehouse's entry into a client's project file. JSON files keep every other server and
 * key; a TOML file gets the table appended, and one that already has it is left alone (refused).
 */
function writeSetup(cwd: string, setup: ClientSetup): string {
  const file = resolve(cwd, setup.file);
  // INVARIANT: never written through a link: a project folder may come from anyone, and a linked
  // `.codex` or `.mcp.json` would send the setup (and the token file's path) somewhere else.
  for (let p = file; p !== cwd && p.startsWith(`${cwd}/`); p = dirname(p))
    if (existsSync(p) && lstatSync(p).isSymbolicLink())
      throw new GatehouseError('conflict', `${p} is a symbolic link: not writing through it`, {
        hint: 'remove the link, or print the setup (without --write) and place it yourself',
      });
  mkdirSync(dirname(file), { recursive: true });
  if (setup.format === 'toml') {
    const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
    // Any mention of gatehouse in the file (a sub-table such as [mcp_servers.gatehouse.env], a
    // quoted or dotted key) would be merged into our server by Codex: refuse rather than parse.
    if (/gatehouse/i.test(before))
      throw new GatehouseError('conflict', `${setup.file} already mentions gatehouse`, {
        hint: 'edit it by hand (check every mcp_servers.gatehouse key), or remove those lines and run this again',
      });
    writeFileSync(file, `${before}${before && !before.endsWith('\n') ? '\n' : ''}${before ? '\n' : ''}${setup.text}`);
    return file;
  }
  let before: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      before = parsed as Record<string, unknown>;
    } catch (e) {
      throw new GatehouseError('invalid_input', `${setup.file} is not a JSON object: ${(e as Error).message}`, {
        hint: 'fix or move the file, then run this again',
      });
    }
  }
  const mine = JSON.parse(setup.text) as Record<string, Record<string, unknown> | unknown[]>;
  const out: Record<string, unknown> = { ...before };
  for (const [key, value] of Object.entries(mine)) {
    if (Array.isArray(value)) {
      const have = Array.isArray(before[key]) ? (before[key] as { id?: unknown }[]) : [];
      const ids = new Set(value.map((v) => (v as { id?: unknown }).id));
      out[key] = [...have.filter((v) => !ids.has(v.id)), ...value];
    } else {
      const have =
        typeof before[key] === 'object' && before[key] !== null ? (before[key] as Record<string, unknown>) : {};
      out[key] = { ...have, ...value };
    }
  }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return file;
}

/**
 * `gatehouse connect CLIENT`: the setup that connects Claude Code, Cursor, VS Code or Codex. With
 * `--new` or `--enroll` the token is made here and written straight into a file the setup names,
 * so it is never printed, pasted or kept in a shell history. Token creation is audited as usual
 * (`token` / created) and an enrollment as `connect` / `enrolled`.
 */
export const run: CommandRunner = async (args, ctx) => {
  if (args.length === 0 || args[0] === 'help' || args[0] === '--help' || args[0] === '-h') {
    write(ctx.stdout, USAGE);
    return args.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const { values, positionals } = parse(args, {
    new: { type: 'string' },
    grant: { type: 'string', multiple: true },
    approval: { type: 'string' },
    expires: { type: 'string' },
    enroll: { type: 'string' },
    'token-file': { type: 'string' },
    'token-dir': { type: 'string' },
    http: { type: 'string' },
    write: { type: 'boolean' },
  });
  const client = positionals[0] ?? '';
  if (positionals.length !== 1 || !isClientKind(client))
    throw new GatehouseError('usage', `name one client: ${CLIENTS.join(', ')}`, { hint: USAGE });
  const ways = [values.new, values.enroll, values['token-file']].filter((v) => v !== undefined).length;
  if (ways > 1) throw new GatehouseError('usage', 'use one of --new, --enroll and --token-file', { hint: USAGE });
  if (values.new === undefined && (values.grant || values.approval || values.expires))
    throw new GatehouseError('usage', '--grant, --approval and --expires go with --new', { hint: USAGE });
  if (values.approval !== undefined && !MODES.includes(values.approval as ApprovalMode))
    throw new GatehouseError('usage', `invalid --approval ${JSON.stringify(truncateText(values.approval, 40))}`, {
      hint: 'elicitation, out-of-band or totp',
    });
  let url: string | undefined;
  if (values.http !== undefined) {
    let u: URL;
    try {
      u = new URL(values.http);
    } catch {
      throw new GatehouseError('usage', `invalid --http ${JSON.stringify(truncateText(values.http, 200))}`, {
        hint: 'the MCP endpoint, e.g. http://localhost:3000/mcp',
      });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new GatehouseError('usage', '--http takes an http:// or https:// URL');
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/mcp';
    url = u.toString();
  }
  const expiresInMs = values.expires !== undefined ? parseDuration(values.expires) : undefined;

  let tokenFile = values['token-file'] !== undefined ? resolve(values['token-file']) : undefined;
  let made: { name: string; id: string } | undefined;
  if (values.new !== undefined || values.enroll !== undefined) {
    const rt = await bootRuntime({ env: ctx.env });
    try {
      const dir =
        values['token-dir'] !== undefined ? resolve(values['token-dir']) : join(rt.paths.home, 'agent-tokens');
      const result =
        values.new !== undefined
          ? await rt.tokens.create({
              name: values.new,
              grants: values.grant ?? [],
              ...(values.approval ? { approvalMode: values.approval as ApprovalMode } : {}),
              ...(expiresInMs ? { expiresInMs } : {}),
            })
          : await new EnrollmentCodes(rt.store, await rt.keyring.internalKey('store-integrity'), rt.tokens).redeem(
              values.enroll!.trim(),
            );
      tokenFile = writeTokenFile(dir, result.info.name, result.token);
      made = { name: result.info.name, id: result.info.id };
      await rt.audit.append({
        phase: 'event',
        tool: 'connect',
        tokenId: result.info.id,
        tokenName: result.info.name,
        outcome: values.new !== undefined ? 'token_created' : 'enrolled',
        approver: `operator:${operator(ctx.env)}`,
        detail: { client, grants: result.info.grants.length, tokenFile },
      });
    } finally {
      await rt.close();
    }
  }

  const argv = gatehouseArgv() ?? ['gatehouse'];
  const target: ConnectTarget = url
    ? { transport: 'http', url }
    : {
        transport: 'stdio',
        command: argv,
        ...(tokenFile ? { tokenFile } : {}),
        ...(ctx.env.GATEHOUSE_HOME ? { home: resolve(ctx.env.GATEHOUSE_HOME) } : {}),
      };
  const setup = clientSetup(client, target);
  if (made)
    write(ctx.stdout, `Created token ${made.name} (${made.id}); it is in ${tokenFile} (mode 0600), not shown here.`);
  if (values.write) {
    const file = writeSetup(process.cwd(), setup);
    write(ctx.stdout, `Wrote the ${client} setup to ${file}.`);
  } else {
    write(ctx.stdout, `Put this in ${setup.file} (in your project folder):\n\n${setup.text}`);
    if (setup.command) write(ctx.stdout, `\nOr run:\n\n  ${setup.command}\n`);
  }
  const notes = setup.notes.map((n) => (tokenFile ? n.replace('TOKEN_FILE', tokenFile) : n));
  for (const n of notes) write(ctx.stdout, n);
  write(
    ctx.stdout,
    `Then restart ${client}. Its first call shows on the console's Connect page and in \`gatehouse token list\`.`,
  );
  return EXIT.ok;
};
