import { describe, expect, it } from 'vitest';
import { CLIENTS, clientSetup, TOKEN_ENV, type ConnectTarget } from '../../src/connect/index.js';

/** Every client's setup, over stdio and HTTP: the shape each client reads, and never a token. */
describe('client setups', () => {
  const stdio: ConnectTarget = {
    transport: 'stdio',
    command: ['/usr/bin/node', '/opt/gatehouse/main.js'],
    tokenFile: '/home/me/.gh/agent-tokens/a.token',
  };
  const http: ConnectTarget = { transport: 'http', url: 'http://localhost:3000/mcp' };

  it.each(CLIENTS)('%s: stdio names the token file, HTTP the environment variable; no token anywhere', (client) => {
    const s = clientSetup(client, stdio);
    expect(s.text).toContain('/home/me/.gh/agent-tokens/a.token');
    expect(s.text).toContain('--token-file');
    const h = clientSetup(client, http);
    expect(h.text).toContain('http://localhost:3000/mcp');
    expect(h.text).toMatch(new RegExp(`${TOKEN_ENV}|gatehouse-token`));
    for (const x of [s, h]) {
      expect(x.text).not.toMatch(/gh_[A-Za-z0-9_-]{20,}/);
      if (x.format === 'json') expect(() => JSON.parse(x.text)).not.toThrow();
    }
  });

  it('each client gets the file and keys it reads', () => {
    const cc = JSON.parse(clientSetup('claude-code', http).text);
    expect(cc.mcpServers.gatehouse).toEqual({
      type: 'http',
      url: 'http://localhost:3000/mcp',
      headers: { Authorization: `Bearer \${${TOKEN_ENV}}` },
    });
    expect(clientSetup('claude-code', stdio).command).toBe(
      'claude mcp add --scope project gatehouse -- /usr/bin/node /opt/gatehouse/main.js mcp --token-file /home/me/.gh/agent-tokens/a.token',
    );
    const cursor = JSON.parse(clientSetup('cursor', http).text);
    expect(cursor.mcpServers.gatehouse.headers.Authorization).toBe(`Bearer \${env:${TOKEN_ENV}}`);
    const vs = JSON.parse(clientSetup('vscode', http).text);
    expect(vs.servers.gatehouse).toMatchObject({ type: 'http' });
    expect(vs.inputs[0]).toMatchObject({ id: 'gatehouse-token', password: true });
    expect(JSON.parse(clientSetup('vscode', stdio).text).inputs).toBeUndefined();
    expect(clientSetup('codex', http).text).toBe(
      `[mcp_servers.gatehouse]\nurl = "http://localhost:3000/mcp"\nbearer_token_env_var = "${TOKEN_ENV}"\n`,
    );
    expect(clientSetup('codex', stdio).text).toContain('args = ["/opt/gatehouse/main.js", "mcp", "--token-file"');
  });

  it('stdio without a token file reads the environment; Codex refuses (it starts servers with a reduced environment)', () => {
    const bare: ConnectTarget = { transport: 'stdio', command: ['gatehouse'] };
    expect(JSON.parse(clientSetup('claude-code', bare).text).mcpServers.gatehouse.env).toEqual({
      [TOKEN_ENV]: `\${${TOKEN_ENV}}`,
    });
    expect(() => clientSetup('codex', bare)).toThrow(/token file/);
  });

  it('a path with spaces or quotes stays one word in the printed command and one string in the files', () => {
    const odd: ConnectTarget = { transport: 'stdio', command: ["/opt/my gate'house/main"], tokenFile: '/t/a b.token' };
    expect(clientSetup('claude-code', odd).command).toContain(
      `'/opt/my gate'\\''house/main' mcp --token-file '/t/a b.token'`,
    );
    expect(clientSetup('codex', odd).text).toContain(`command = "/opt/my gate'house/main"`);
  });
});
