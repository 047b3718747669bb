import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';

describe('gatehouse CLI: bad input gets a clear error and changes nothing', () => {
  const home = tempHome();
  beforeAll(() => {
    assertBuilt();
    createToken(home.env, 'existing', ['tool:discover']);
  });
  afterAll(() => home.cleanup());

  const tokenNames = () =>
    (JSON.parse(cli(['token', 'list', '--json'], home.env).stdout) as { name: string }[]).map((t) => t.name).sort();

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['token', 'create', '--name', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['token', 'create'], /needs --name/],
    [['token', 'create', '--name', 'x', '--expires', 'soon'], /invalid duration/],
    [['token', 'revoke'], /needs one ID or NAME/],
    [['token', 'explode'], /unknown token command/],
    [['audit', 'search', '--decision', 'maybe'], /invalid --decision/],
    [['audit', 'tail', '-n', 'lots'], /-n must be a whole number/],
    [['audit', 'search', '--since', 'yesterday-ish'], /invalid --since/],
    [['audit', 'verify', '--anchor', '12:nothex'], /invalid --anchor/],
    [['audit', 'tail', '--anchor', `1:${'a'.repeat(64)}`], /--anchor goes with audit verify/],
    [['serve', '--listen', 'nonsense'], /invalid --listen/],
    [['mcp', '--token-file'], /argument missing|requires|value/i],
  ])('%j exits 2 with a usage error', (args, pattern) => {
    const before = tokenNames();
    const r = cli(args, home.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stdout).not.toMatch(/gh_[A-Za-z0-9_-]{43}/);
    expect(tokenNames()).toEqual(before);
  });

  it('invalid grants and duplicate names fail with exit 1 and write nothing', () => {
    const before = tokenNames();
    for (const args of [
      ['token', 'create', '--name', 'y', '--grant', 'root:everything'],
      ['token', 'create', '--name', 'existing'],
      ['token', 'create', '--name', 'bad name with spaces'],
    ]) {
      const r = cli(args, home.env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error \[(invalid_input|conflict)\]: .+\nhint: /);
    }
    expect(tokenNames()).toEqual(before);
  });

  it('token list shows name, prefix, grants, created, last used, expiry and revocation, never the token', () => {
    const t = createToken(home.env, 'listed', ['tool:*', 'target:prod-db'], ['--expires', '30d']);
    const r = cli(['token', 'list'], home.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ID\s+NAME\s+USER\s+PREFIX\s+GRANTS\s+CREATED\s+LAST_USED\s+EXPIRES\s+REVOKED/);
    expect(r.stdout).toMatch(/listed\s+-\s+gh_\S{5}…\s+tool:\*,target:prod-db/);
    expect(r.stdout).not.toContain(t);
    const json = JSON.parse(cli(['token', 'list', '--json'], home.env).stdout) as Record<string, unknown>[];
    const listed = json.find((x) => x.name === 'listed')!;
    expect(Object.keys(listed).sort()).toEqual([
      'addedGrants',
      'admin',
      'approvalMode',
      'createdAt',
      'expiresAt',
      'grants',
      'id',
      'lastClient',
      'lastUsedAt',
      'name',
      'policy',
      'prefix',
      'revokedAt',
      'user',
      'verified',
    ]);
    expect(JSON.stringify(json)).not.toContain(t.slice(8));
  });

  it('rotate prints a new token once and revoke marks the token revoked', () => {
    const old = createToken(home.env, 'rot', ['tool:discover']);
    const r = cli(['token', 'rotate', 'rot'], home.env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^gh_[A-Za-z0-9_-]{43}$/);
    expect(r.stdout.trim()).not.toBe(old);
    expect(cli(['token', 'revoke', 'rot'], home.env).stdout).toMatch(/^revoked rot/);
    const json = JSON.parse(cli(['token', 'list', '--json'], home.env).stdout) as {
      name: string;
      revokedAt: string | null;
    }[];
    expect(json.find((x) => x.name === 'rot')!.revokedAt).not.toBeNull();
  });

  it('doctor reports one line per check with ok / warn / fail', () => {
    const r = cli(['doctor', '--json'], home.env);
    const checks = JSON.parse(r.stdout) as { name: string; status: string; detail: string }[];
    const names = checks.map((c) => c.name);
    for (const n of ['node', 'home', 'master key', 'store', 'keyring', 'ssh']) expect(names).toContain(n);
    expect(names.some((n) => n.startsWith('sandbox'))).toBe(true);
    for (const c of checks) expect(['ok', 'warn', 'fail']).toContain(c.status);
    expect(checks.find((c) => c.name === 'store')!.status).toBe('ok');
    expect(checks.find((c) => c.name === 'master key')!.status).toBe('ok');
  });

  it('doctor fails with the fix when the key file is readable by others', async () => {
    const { chmodSync } = await import('node:fs');
    chmodSync(`${home.env.GATEHOUSE_HOME}/master.key`, 0o644);
    try {
      const r = cli(['doctor'], home.env);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/fail\s+master key: .* readable by others\n\s+fix: chmod 600/);
    } finally {
      chmodSync(`${home.env.GATEHOUSE_HOME}/master.key`, 0o600);
    }
  });
});

describe('gatehouse serve logs the audit head for a log shipper to keep', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  it('logs every chain head (CHAIN:N:HASH) when the head moves, and that anchor verifies', async () => {
    assertBuilt();
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const config = join(home.dir, 'config.yaml');
    writeFileSync(config, 'audit:\n  head_log_seconds: 1\n');
    createToken(home.env, 'someone', ['tool:discover']); // an audited event, so the head exists
    const server = await startServe({ ...home.env, GATEHOUSE_CONFIG: config, GATEHOUSE_LOG_LEVEL: 'info' });
    try {
      let anchor: string | undefined;
      for (let i = 0; i < 50 && !anchor; i++) {
        await new Promise((r) => setTimeout(r, 100));
        anchor = /"msg":"audit head".*?"anchor":"(w\d+:\d+:[0-9a-f]{64}(?:,w\d+:\d+:[0-9a-f]{64})*)"/.exec(
          server.output(),
        )?.[1];
      }
      expect(anchor, server.output()).toBeDefined();
      const v = cli(['audit', 'verify', '--anchor', anchor!], { ...home.env, GATEHOUSE_CONFIG: config });
      expect(v.stdout).toMatch(/every chain intact, holds the anchor/);
    } finally {
      await server.stop();
    }
  });
});
