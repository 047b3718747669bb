/**
 * `gatehouse sandbox init|deny|allow|status`: a profile edited one word at a time in the
 * configuration file (its comments and other settings kept), checked before anything is written,
 * and honoured by `gatehouse run`.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run as runCmd } from '../../src/cli/commands/run.js';
import { run as sandboxCmd } from '../../src/cli/commands/sandbox.js';
import { requires } from '../helpers/requires.js';
import { runCommand } from '../helpers/in-process.js';

const hasBwrap = await requires('bwrap', 'sandbox policy run');
const dir = mkdtempSync(join(tmpdir(), 'gh-sbx-policy-'));
chmodSync(dir, 0o755);
const ws = join(dir, 'ws');
const config = join(dir, 'config.yaml');
const env = { ...process.env, GATEHOUSE_CONFIG: config, GATEHOUSE_HOME: join(dir, 'home') };

const call = (cmd: typeof sandboxCmd, args: string[]) => runCommand(cmd, args, env);
const profile = () =>
  (
    parse(readFileSync(config, 'utf8')) as {
      sandbox: { profile: string; profiles: Record<string, Record<string, unknown>> };
    }
  ).sandbox;

describe('gatehouse sandbox init / deny / allow / status', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('init writes a profile with safe defaults and keeps the rest of the file', async () => {
    mkdirSync(ws);
    writeFileSync(config, '# our settings\nssh:\n  session_open: approve # a person opens sessions\n');
    const r = await call(sandboxCmd, ['init', '--workspace', ws]);
    expect(r.code, r.err).toBe(0);
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('# our settings');
    expect(text).toContain('# a person opens sessions');
    const s = profile();
    expect(s.profile).toBe('agent');
    expect(s.profiles.agent).toMatchObject({ workspace: ws, network: 'none' });
    expect(s.profiles.agent!.denyExec).toEqual(expect.arrayContaining(['curl', 'wget', 'nc', 'ssh', 'scp']));
    expect(s.profiles.agent!.denyRead).toEqual(expect.arrayContaining(['~/.ssh', '~/.aws', '~/.netrc']));
    await expect(call(sandboxCmd, ['init', '--workspace', ws])).rejects.toMatchObject({ code: 'conflict' });
  });

  it('deny and allow change one list each; bad input changes nothing', async () => {
    expect((await call(sandboxCmd, ['deny', 'read', '/srv/secrets', '~/.config/stripe'])).code).toBe(0);
    expect((await call(sandboxCmd, ['deny', 'exec', 'python3'])).code).toBe(0);
    expect((await call(sandboxCmd, ['deny', 'net', '--except', 'api.example.com', 'host-loopback:3000'])).code).toBe(0);
    let p = profile().profiles.agent!;
    expect(p.denyRead).toEqual(expect.arrayContaining(['/srv/secrets', '~/.config/stripe']));
    expect(p.denyExec).toContain('python3');
    expect(p.network).toEqual({
      allow: [
        { host: 'api.example.com', port: 443 },
        { host: 'host-loopback', port: 3000 },
      ],
    });
    expect((await call(sandboxCmd, ['allow', 'exec', 'python3'])).code).toBe(0);
    expect((await call(sandboxCmd, ['allow', 'read', '/srv/secrets'])).code).toBe(0);
    expect((await call(sandboxCmd, ['allow', 'net', 'pypi.org'])).code).toBe(0);
    p = profile().profiles.agent!;
    expect(p.denyExec).not.toContain('python3');
    expect(p.denyRead).not.toContain('/srv/secrets');
    expect((p.network as { allow: unknown[] }).allow).toHaveLength(3);
    expect((await call(sandboxCmd, ['deny', 'net'])).code).toBe(0);
    expect(profile().profiles.agent!.network).toBe('none');
    const before = readFileSync(config, 'utf8');
    await expect(call(sandboxCmd, ['deny', 'exec', 'git push'])).rejects.toMatchObject({ code: 'usage' });
    await expect(call(sandboxCmd, ['deny', 'net', 'example.com'])).rejects.toMatchObject({ code: 'usage' });
    await expect(call(sandboxCmd, ['deny', 'read', '../outside'])).rejects.toMatchObject({ code: 'usage' });
    await expect(call(sandboxCmd, ['deny', 'read', 'x', '--profile', 'nope'])).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(readFileSync(config, 'utf8')).toBe(before);
    const st = await call(sandboxCmd, ['status']);
    expect(st.out).toMatch(/isolation: /);
    expect(st.out).toContain('not executable: curl');
  });

  it.skipIf(!hasBwrap)('gatehouse run honours the profile', async () => {
    if (process.getuid?.() === 0) chownSync(ws, 65534, 65534);
    const cwd = process.cwd();
    process.chdir(ws);
    try {
      const r = await call(runCmd, ['--', '/bin/sh', '-c', 'curl --version >/dev/null 2>&1; echo "curl=$?" > out.txt']);
      expect(r.code, r.err).toBe(0);
      expect(readFileSync(join(ws, 'out.txt'), 'utf8').trim()).toBe('curl=126');
    } finally {
      process.chdir(cwd);
    }
  });
});
