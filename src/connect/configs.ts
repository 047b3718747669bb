import { GatehouseError } from '../core/index.js';

/** The agent clients Gatehouse writes setup for. */
export const CLIENTS = ['claude-code', 'cursor', 'vscode', 'codex'] as const;
export type ClientKind = (typeof CLIENTS)[number];

export function isClientKind(s: string): s is ClientKind {
  return (CLIENTS as readonly string[]).includes(s);
}

/** How the client reaches Gatehouse and where its token comes from. Never the token itself. */
export type ConnectTarget =
  | {
      transport: 'stdio';
      /** The command that runs `gatehouse` (e.g. `gatehouse`, or `node /path/dist/src/bundle/main.js`). */
      command: readonly string[];
      /** A file holding the token (mode 0600): the config names the file, never the secret. */
      tokenFile?: string;
      /** The Gatehouse home the stdio server uses (when it is not the default). */
      home?: string;
    }
  | {
      transport: 'http';
      /** The MCP endpoint, `http://HOST:PORT/mcp`. */
      url: string;
    };

/** One client's setup: the file it reads, what goes in it, and a command that does the same. */
export interface ClientSetup {
  client: ClientKind;
  /** The project-level file the client reads (relative to the project folder). */
  file: string;
  /** `json` files are merged by key; `toml` gets a table appended. */
  format: 'json' | 'toml';
  /** The file's content for Gatehouse alone. */
  text: string;
  /** The client's own command that adds the server, when it has one. */
  command?: string;
  /** What the person still has to do (set an environment variable, restart the client). */
  notes: string[];
}

/** The environment variable HTTP setups read the token from (clients expand it at start). */
export const TOKEN_ENV = 'GATEHOUSE_TOKEN';

const SERVER_NAME = 'gatehouse';

/** A shell word, quoted only when it needs to be (for the printed commands). */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

function stdioArgs(t: Extract<ConnectTarget, { transport: 'stdio' }>): { command: string; args: string[] } {
  const [command, ...rest] = t.command;
  if (!command) throw new GatehouseError('invalid_input', 'no command to run gatehouse');
  return { command, args: [...rest, 'mcp', ...(t.tokenFile ? ['--token-file', t.tokenFile] : [])] };
}

function stdioEnv(t: Extract<ConnectTarget, { transport: 'stdio' }>, tokenRef: string): Record<string, string> {
  return { ...(t.home ? { GATEHOUSE_HOME: t.home } : {}), ...(t.tokenFile ? {} : { [TOKEN_ENV]: tokenRef }) };
}

/**
 * The setup for one client. INVARIANT: no setup ever holds a token: stdio setups name a token
 * file (mode 0600, written by `gatehouse connect`) or an environment variable, HTTP setups an
 * environment variable the client expands when it starts. A config file is shared, committed and
 * pasted; a token in it would be a credential in all of those places.
 */
export function clientSetup(client: ClientKind, t: ConnectTarget): ClientSetup {
  const envNote =
    t.transport === 'http' || !t.tokenFile
      ? [
          `Set ${TOKEN_ENV} in the environment the client starts from (for example: export ${TOKEN_ENV}="$(cat TOKEN_FILE)").`,
        ]
      : [];
  switch (client) {
    case 'claude-code': {
      if (t.transport === 'stdio') {
        const { command, args } = stdioArgs(t);
        const env = stdioEnv(t, `\${${TOKEN_ENV}}`);
        const entry = { command, args, ...(Object.keys(env).length > 0 ? { env } : {}) };
        return {
          client,
          file: '.mcp.json',
          format: 'json',
          text: JSON.stringify({ mcpServers: { [SERVER_NAME]: entry } }, null, 2),
          command: `claude mcp add --scope project ${SERVER_NAME}${Object.entries(env)
            .map(([k, v]) => ` --env ${k}=${shellWord(v)}`)
            .join('')} -- ${[command, ...args].map(shellWord).join(' ')}`,
          notes: envNote,
        };
      }
      const entry = { type: 'http', url: t.url, headers: { Authorization: `Bearer \${${TOKEN_ENV}}` } };
      return {
        client,
        file: '.mcp.json',
        format: 'json',
        text: JSON.stringify({ mcpServers: { [SERVER_NAME]: entry } }, null, 2),
        command: `claude mcp add-json --scope project ${SERVER_NAME} ${shellWord(JSON.stringify(entry))}`,
        notes: envNote,
      };
    }
    case 'cursor': {
      const entry =
        t.transport === 'stdio'
          ? (() => {
              const { command, args } = stdioArgs(t);
              const env = stdioEnv(t, `\${env:${TOKEN_ENV}}`);
              return { command, args, ...(Object.keys(env).length > 0 ? { env } : {}) };
            })()
          : { url: t.url, headers: { Authorization: `Bearer \${env:${TOKEN_ENV}}` } };
      return {
        client,
        file: '.cursor/mcp.json',
        format: 'json',
        text: JSON.stringify({ mcpServers: { [SERVER_NAME]: entry } }, null, 2),
        notes: envNote,
      };
    }
    case 'vscode': {
      // VS Code asks for the token once and keeps it in its secret storage (`inputs`).
      const input = { type: 'promptString', id: 'gatehouse-token', description: 'Gatehouse token', password: true };
      const tokenRef = '${input:gatehouse-token}';
      const needsInput = t.transport === 'http' || !t.tokenFile;
      const server =
        t.transport === 'stdio'
          ? (() => {
              const { command, args } = stdioArgs(t);
              const env = stdioEnv(t, tokenRef);
              return { type: 'stdio', command, args, ...(Object.keys(env).length > 0 ? { env } : {}) };
            })()
          : { type: 'http', url: t.url, headers: { Authorization: `Bearer ${tokenRef}` } };
      return {
        client,
        file: '.vscode/mcp.json',
        format: 'json',
        text: JSON.stringify(
          { ...(needsInput ? { inputs: [input] } : {}), servers: { [SERVER_NAME]: server } },
          null,
          2,
        ),
        notes: needsInput
          ? ['VS Code asks for the token the first time it starts the server and keeps it in its secret storage.']
          : [],
      };
    }
    case 'codex': {
      const lines = [`[mcp_servers.${SERVER_NAME}]`];
      if (t.transport === 'stdio') {
        // Codex starts a stdio server with a reduced environment, so its token comes from a file.
        if (!t.tokenFile)
          throw new GatehouseError('invalid_input', 'Codex over stdio needs a token file', {
            hint: 'gatehouse connect codex --new NAME writes one, or pass --token-file FILE',
          });
        const { command, args } = stdioArgs(t);
        lines.push(`command = ${tomlString(command)}`, `args = [${args.map(tomlString).join(', ')}]`);
        if (t.home) lines.push(`env = { GATEHOUSE_HOME = ${tomlString(t.home)} }`);
      } else {
        // Codex refuses an inline bearer token; it reads one from a named environment variable.
        lines.push(`url = ${tomlString(t.url)}`, `bearer_token_env_var = ${tomlString(TOKEN_ENV)}`);
      }
      return {
        client,
        file: '.codex/config.toml',
        format: 'toml',
        text: `${lines.join('\n')}\n`,
        notes: [
          ...envNote,
          'Codex reads a project .codex/config.toml only in a trusted project; ~/.codex/config.toml works everywhere.',
        ],
      };
    }
  }
}
