/**
 * `gatehouse requests` with the built CLI: list, approve (the credential on stdin, never on the
 * command line), deny; an SSH request is never approved without a host key to pin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessRequests } from '../../src/access/index.js';
import { bootRuntime } from '../../src/server/index.js';
import { assertBuilt, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';

describe('gatehouse requests', () => {
  const home = tempHome();
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    assertBuilt();
    const rt = await bootRuntime({ env: home.env });
    try {
      const t = (await rt.tokens.create({ name: 'asker', grants: ['tool:discover'] })).info;
      const requests = new AccessRequests(rt.store, await rt.keyring.internalKey('store-integrity'));
      const who = { tokenId: t.id, tokenName: t.name };
      ids.http = (
        await requests.file(who, {
          kind: 'http',
          host: '127.0.0.1',
          baseUrl: 'http://127.0.0.1:9/',
          reason: 'read metrics',
        })
      ).request.id;
      ids.ssh = (
        await requests.file(who, { kind: 'ssh', host: 'db1.example', port: 22, user: 'deploy', reason: 'restart' })
      ).request.id;
      ids.other = (
        await requests.file(who, { kind: 'ssh', host: 'db2.example', port: 22, user: 'deploy', reason: 'logs' })
      ).request.id;
    } finally {
      await rt.close();
    }
  });
  afterAll(() => home.cleanup());

  it('lists what waits, approves an HTTP request with the credential from stdin, for a time', () => {
    const list = cli(['requests', 'list'], home.env);
    expect(list.code, list.stderr).toBe(0);
    for (const id of Object.values(ids)) expect(list.stdout).toContain(id);
    const secret = 'cli-metrics-token-51aa0e';
    const ok = cli(
      ['requests', 'approve', ids.http!, '--target', 'metrics', '--for', '1h', '--allow-private'],
      home.env,
      secret,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/approved .* target metrics created, granted to asker until /);
    expect(ok.stdout + ok.stderr).not.toContain(secret);
    expect(cli(['token', 'list'], home.env).stdout).toMatch(/target:metrics\(until /);
    expect(cli(['target', 'list'], home.env).stdout).toContain('metrics');
    expect(cli(['audit', 'search', '--tool', 'requests', '--json'], home.env).stdout).not.toContain(secret);
  });

  it('an SSH request needs a host key to pin; deny records the note', () => {
    const noKey = cli(['requests', 'approve', ids.ssh!, '--target', 'db1'], home.env, 'not-a-real-key');
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain('host key');
    expect(cli(['target', 'list'], home.env).stdout).not.toMatch(/^db1\s/m); // no target named db1 (a random id may hold those letters)
    const denied = cli(['requests', 'deny', ids.other!, '--note', 'use the bastion'], home.env);
    expect(denied.code, denied.stderr).toBe(0);
    const all = cli(['requests', 'list', '--all', '--json'], home.env)
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; status: string; note: string | null });
    expect(all.find((r) => r.id === ids.other)).toMatchObject({ status: 'denied', note: 'use the bastion' });
    expect(cli(['requests', 'deny', ids.other!], home.env).code).not.toBe(0);
  });
});
