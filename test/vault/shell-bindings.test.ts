import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  bindingMatches,
  commandBinding,
  openKeyring,
  openVault,
  parseBinding,
  type ShellFillOptions,
  type Vault,
} from '../../src/vault/index.js';
import { DIALECTS, makeEnv, type TestEnv } from './helpers.js';

/*
 * Issue 13.8: a handle filled into the env of ssh_exec/exec can be read back through any
 * transform (`rev`, `tr`, `od`): where the agent controls the code that reads a value, no
 * scrubber can protect it. A handle fills a shell context only for an item bound to that exact
 * command (and env name, on that target), with no stdin, no cwd, and nothing else in the env.
 */
const PW = 'CANARY-shell-4f0e9a1b77c2';
const TOKEN = 'CANARY-token-91aa03de5c6b';
const DUMP = 'pg_dump -Fc app';
const SEED = Number(process.env.GUARD_PROP_SEED ?? 1337);

describe('command binding grammar', () => {
  it('parses command:TARGET:ENV=COMMAND exactly, command line byte for byte', () => {
    expect(parseBinding(`command:prod:PGPASSWORD=${DUMP}`)).toEqual({
      kind: 'command',
      pattern: `prod:PGPASSWORD=${DUMP}`,
    });
    expect(parseBinding('command:local:X=a=b  c')).toEqual({ kind: 'command', pattern: 'local:X=a=b  c' });
    expect(commandBinding('prod', 'PGPASSWORD', DUMP)).toEqual({ kind: 'command', pattern: `prod:PGPASSWORD=${DUMP}` });
  });

  it('refuses command bindings that could not be compared exactly or shown faithfully', () => {
    for (const bad of [
      'command:prod:PGPASSWORD=',
      'command:prod:=pg_dump',
      'command::PGPASSWORD=pg_dump',
      'command:prod:1BAD=pg_dump',
      'command:prod:PG PASS=pg_dump',
      'command:prod:PGPASSWORD= pg_dump',
      'command:prod:PGPASSWORD=pg_dump ',
      'command:prod:PGPASSWORD=pg_dump\napp',
      'command:prod:PGPASSWORD=pg_dump\u202eppa',
      'command:prod:PGPASSWORD=pg_dump \ud800',
      `command:prod:PGPASSWORD=${'x'.repeat(1025)}`,
      'command:pro/d:PGPASSWORD=pg_dump',
    ]) {
      expect(() => parseBinding(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });

  it('INVARIANT: target/host bindings never match a shell context; command bindings match nothing else', () => {
    const shell = { command: DUMP, envName: 'PGPASSWORD', hasStdin: false, otherEnv: {} };
    expect(bindingMatches(parseBinding('target:prod'), { target: 'prod', host: 'db1', shell })).toBe(false);
    expect(bindingMatches(parseBinding('host:db1'), { target: 'prod', host: 'db1', shell })).toBe(false);
    const cmd = parseBinding(`command:prod:PGPASSWORD=${DUMP}`);
    expect(bindingMatches(cmd, { target: 'prod', host: 'db1', shell })).toBe(true);
    expect(bindingMatches(cmd, { target: 'prod', host: 'db1' })).toBe(false);
    expect(bindingMatches(cmd, { target: 'prod' })).toBe(false);
  });
});

describe.each(DIALECTS)('shell fills (%s)', (dialect) => {
  let t: TestEnv;
  let vault: Vault;
  beforeEach(async () => {
    t = await makeEnv(dialect);
    const keyring = await openKeyring({
      home: t.home,
      masterKeyFile: t.keyFile,
      env: { GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') },
      store: t.store,
    });
    vault = openVault({ store: t.store, keyring });
    await vault.createVault('ops');
    await vault.setField('ops/api.token', TOKEN, { bind: ['target:prod', 'host:db1.example.com'] });
    await vault.setField('ops/db.password', PW, { bind: [`command:prod:PGPASSWORD=${DUMP}`] });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const opts = (
    command: string,
    extra: Partial<ShellFillOptions['shell']> = {},
    target = 'prod',
  ): ShellFillOptions => ({
    destination: { target, host: 'db1.example.com' },
    shell: { command, hasStdin: false, ...extra },
    grantedVaults: ['*'],
  });
  const refusedClean = async (p: Promise<unknown>, why: RegExp) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'vault_handle_refused' });
    const text = JSON.stringify({ m: (err as Error).message, h: (err as { hint?: string }).hint });
    expect(text).toMatch(why);
    expect(text).not.toContain(PW);
    expect(text).not.toContain(TOKEN);
    return err as Error & { hint?: string };
  };

  it('a handle bound target:prod is refused in an ssh_exec env (and says how an operator binds it)', async () => {
    const err = await refusedClean(
      vault.fillShellEnv({ TOKEN: '{{vault:ops/api.token}}' }, opts('deploy.sh')),
      /not bound for use in a command's environment/,
    );
    expect(err.hint).toContain("gatehouse vault bind ops/api --command prod --env TOKEN -- 'EXACT COMMAND LINE'");
    // ...and through fillHandles with a shell destination, the brief's API
    await refusedClean(
      vault.fillHandles('{{vault:ops/api.token}}', {
        destination: {
          target: 'prod',
          host: 'db1.example.com',
          shell: { command: 'x', envName: 'TOKEN', hasStdin: false, otherEnv: {} },
        },
        grantedVaults: ['*'],
      }),
      /only a command:TARGET:ENV=COMMAND binding fills a shell context/,
    );
    // The same item still fills its HTTP destination.
    expect(
      (await vault.fillHandles('{{vault:ops/api.token}}', { destination: { target: 'prod' }, grantedVaults: ['*'] }))
        .text,
    ).toBe(TOKEN);
  });

  it('a command-bound handle fills only for the exact command line and env name', async () => {
    const ok = await vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(DUMP));
    expect(ok).toEqual({ values: {}, secrets: { PGPASSWORD: PW }, filled: [PW] });
    for (const cmd of [
      DUMP + ' ',
      DUMP + 'x',
      DUMP + '; cat /proc/self/environ',
      'x' + DUMP,
      DUMP.replace('app', 'App'),
      DUMP.replace(' ', '  '),
    ]) {
      await refusedClean(
        vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(cmd)),
        /not one it is bound to/,
      );
    }
    await refusedClean(
      vault.fillShellEnv({ PGPASS: '{{vault:ops/db.password}}' }, opts(DUMP)),
      /fills only PGPASSWORD, not PGPASS/,
    );
    await refusedClean(
      vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(DUMP, {}, 'staging')),
      /not on target staging/,
    );
  });

  it('a command-bound handle never fills with stdin or a cwd', async () => {
    await refusedClean(
      vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(DUMP, { hasStdin: true })),
      /sends stdin/,
    );
    await refusedClean(
      vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(DUMP, { cwd: '/tmp/agent' })),
      /sets cwd/,
    );
  });

  it('nothing else in the env may redirect it: plain variables, text around the handle, companions bound elsewhere', async () => {
    await refusedClean(
      vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}', PGHOST: 'attacker.example' }, opts(DUMP)),
      /env PGHOST of this action is not exactly one vault handle/,
    );
    await refusedClean(
      vault.fillShellEnv({ PGHOST: 'attacker.example', PGPASSWORD: '{{vault:ops/db.password}}' }, opts(DUMP)),
      /env PGHOST of this action is not exactly one vault handle/,
    );
    await refusedClean(
      vault.fillShellEnv({ DATABASE_URL: 'postgres://u:{{vault:ops/db.password}}@attacker.example/app' }, opts(DUMP)),
      /must be the whole value/,
    );
    await refusedClean(
      vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}', T: '{{vault:ops/api.token}}' }, opts(DUMP)),
      /ops\/api cannot fill env T/,
    );
    // Two items each bound to this command fill together.
    await vault.setField('ops/db.user', 'app-user-x1', { bind: [`command:prod:PGUSER=${DUMP}`] });
    const both = await vault.fillShellEnv(
      { PGPASSWORD: '{{vault:ops/db.password}}', PGUSER: '{{vault:ops/db.user}}' },
      opts(DUMP),
    );
    expect(both.secrets).toEqual({ PGPASSWORD: PW, PGUSER: 'app-user-x1' });
    // An env without handles passes through unchanged.
    expect(await vault.fillShellEnv({ A: '1' }, opts('anything'))).toEqual({
      values: { A: '1' },
      secrets: {},
      filled: [],
    });
  });

  it("a command binding fills nothing outside a shell context (HTTP, the target's own credential)", async () => {
    await refusedClean(
      vault.fillHandles('{{vault:ops/db.password}}', {
        destination: { target: 'prod', host: 'db1.example.com' },
        grantedVaults: ['*'],
      }),
      /not bound to this destination/,
    );
  });

  it('property: any one-character change to the bound command line is refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(DUMP.length),
        fc.constantFrom('insert', 'delete', 'replace'),
        fc.string({ minLength: 1, maxLength: 1 }),
        async (at, op, ch) => {
          const cmd =
            op === 'insert'
              ? DUMP.slice(0, at) + ch + DUMP.slice(at)
              : op === 'delete'
                ? DUMP.slice(0, at) + DUMP.slice(at + 1)
                : DUMP.slice(0, at) + ch + DUMP.slice(at + 1);
          fc.pre(cmd !== DUMP);
          await expect(
            vault.fillShellEnv({ PGPASSWORD: '{{vault:ops/db.password}}' }, opts(cmd)),
          ).rejects.toMatchObject({ code: 'vault_handle_refused' });
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('search lists a command-bound item for its target, with the command it is pinned to (names only)', async () => {
    const hits = await vault.search({ target: 'prod' }, ['*']);
    expect(hits.map((h) => h.handle).sort()).toEqual(['{{vault:ops/api.token}}', '{{vault:ops/db.password}}']);
    expect(hits.find((h) => h.item === 'db')?.bindings).toEqual([`command:prod:PGPASSWORD=${DUMP}`]);
    expect(JSON.stringify(hits)).not.toContain(PW);
  });
});
