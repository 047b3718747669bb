import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildSandboxEnv,
  DEFAULT_LIMITS,
  isSecretLookingName,
  iptablesRules,
  planBwrap,
  resolveDenyExec,
  resolveProfile,
  validateProfile,
} from '../../src/sandbox/index.js';

const base = mkdtempSync(join(tmpdir(), 'gh-sbx-unit-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('sandbox profile', () => {
  it('fills defaults: no network, no unsandboxed mode, default limits', () => {
    const p = validateProfile({ workspace: base });
    expect(p.network).toBe('none');
    expect(p.allowUnsandboxed).toBe(false);
    expect(p.limits).toEqual(DEFAULT_LIMITS);
    expect(p.readOnlyPaths).toContain('/usr');
  });

  it('rejects bad input with config_invalid naming the field', () => {
    expect(() => validateProfile({ workspace: 'relative' })).toThrow(/workspace/);
    expect(() => validateProfile({ workspace: base, network: { allow: [{ host: 'a b', port: 1 }] } })).toThrow(
      /network/,
    );
    expect(() => validateProfile({ workspace: base, limits: { processes: 0 } })).toThrow(/processes/);
    expect(() => validateProfile({ workspace: base, bogus: 1 })).toThrow();
    expect(() => validateProfile({ workspace: '/' })).toThrow(/cannot be \//);
  });

  it('resolves built-in and configured profiles, and refuses unknown names', () => {
    expect(resolveProfile('default', undefined, { workspace: base }).name).toBe('default');
    const p = resolveProfile(
      'ci',
      { profiles: { ci: { denyExec: ['curl'], limits: { wallSeconds: 5 } } } },
      { workspace: base },
    );
    expect(p.denyExec).toEqual(['curl']);
    expect(p.limits.wallSeconds).toBe(5);
    expect(() => resolveProfile('nope')).toThrow(/no sandbox profile named/);
  });
});

describe('sandbox env', () => {
  it('flags secret-looking names', () => {
    for (const n of [
      'GITHUB_TOKEN',
      'MY_SECRET',
      'API_KEY',
      'DB_PASSWORD',
      'AWS_REGION',
      'GATEHOUSE_HOME',
      'SSH_AUTH_SOCK',
    ])
      expect(isSecretLookingName(n)).toBe(true);
    for (const n of ['PATH', 'LANG', 'TERM', 'CI', 'NODE_ENV']) expect(isSecretLookingName(n)).toBe(false);
  });

  it('builds from the allowlist only; trusted secretEnv passes, agent env is filtered', () => {
    const { env, stripped } = buildSandboxEnv({
      hostEnv: {
        PATH: '/root/.pyenv/shims:/usr/bin',
        TERM: 'xterm',
        OPENAI_API_KEY: 'sk-x',
        NOT_LISTED: '1',
        NODE_ENV: 'test',
      },
      envAllow: ['OPENAI_API_KEY', 'NODE_ENV'],
      profileEnv: { CI: 'true' },
      callEnv: { LD_PRELOAD: 'x', GH_TOKEN: 'y', OK: '1', BASH_ENV: '/x' },
      secretEnv: { API_TOKEN: 'filled' },
      home: '/tmp/home',
    });
    expect(env).toEqual({
      PATH: expect.stringContaining('/usr/bin'),
      TERM: 'xterm',
      NODE_ENV: 'test',
      CI: 'true',
      OK: '1',
      API_TOKEN: 'filled',
      HOME: '/tmp/home',
      LANG: 'C.UTF-8',
    });
    expect(env.PATH).not.toContain('pyenv');
    expect(stripped.sort()).toEqual(['BASH_ENV', 'GH_TOKEN', 'LD_PRELOAD', 'OPENAI_API_KEY']);
  });
});

describe('planBwrap', () => {
  const ws = join(base, 'ws');
  mkdirSync(join(ws, '.gh'), { recursive: true });
  writeFileSync(join(ws, '.env'), 'X=1');
  const stub = join(base, 'stub');
  const plan = () =>
    planBwrap(validateProfile({ workspace: ws, denyRead: ['.env'], denyExec: ['sh'] }), {
      hiddenPaths: [join(ws, '.gh')],
      stubDir: stub,
      argv: ['/bin/true'],
      env: { PATH: '/usr/bin' },
    });

  it('mounts a read-only path under /tmp after the sandbox’s own /tmp, so it is not hidden', () => {
    const ro = join(tmpdir(), `gh-ro-${process.pid}`);
    mkdirSync(ro, { recursive: true });
    try {
      const a = planBwrap(validateProfile({ workspace: ws, readOnlyPaths: ['/usr', ro] }), {
        hiddenPaths: [],
        stubDir: stub,
        argv: ['/bin/true'],
        env: { PATH: '/usr/bin' },
      });
      const tmpfs = a.findIndex((x, i) => x === '--tmpfs' && a[i + 1] === '/tmp');
      const bind = a.findIndex((x, i) => x === '--ro-bind' && a[i + 1] === ro);
      expect(tmpfs).toBeGreaterThan(-1);
      expect(bind).toBeGreaterThan(tmpfs);
      expect(a.findIndex((x, i) => x === '--ro-bind' && a[i + 1] === '/usr')).toBeLessThan(tmpfs);
    } finally {
      rmSync(ro, { recursive: true, force: true });
    }
  });

  it('drops caps, maps an unprivileged uid, unshares every namespace, dies with its parent', () => {
    const a = plan().join(' ');
    for (const f of [
      '--cap-drop ALL',
      '--unshare-user --uid 65534 --gid 65534',
      '--disable-userns',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
      '--remount-ro /',
    ]) {
      expect(a).toContain(f);
    }
  });

  it('hides Gatehouse paths as tmpfs, deny_read files as an empty file, masks denied programs, after the workspace bind', () => {
    const a = plan();
    const wsBind = a.indexOf('--bind');
    const ghHide = a.indexOf(join(ws, '.gh'));
    expect(a[ghHide - 1]).toBe('--tmpfs');
    expect(ghHide).toBeGreaterThan(wsBind);
    const envHide = a.lastIndexOf(join(ws, '.env'));
    expect(a[envHide - 1]).toBe(join(stub, 'empty'));
    expect(a).toContain(join(stub, 'deny-0'));
    expect(a.indexOf('/bin')).toBeGreaterThan(-1);
  });

  it('refuses a workspace inside a hidden Gatehouse path', () => {
    expect(() =>
      planBwrap(validateProfile({ workspace: join(ws, '.gh') }), {
        hiddenPaths: [ws],
        stubDir: stub,
        argv: ['true'],
        env: {},
      }),
    ).toThrow(/inside a path Gatehouse must hide/);
  });

  it('resolves a denied program to its real file (merged /usr aliases included)', () => {
    const [t] = resolveDenyExec(['sh']);
    expect(t?.paths.length).toBeGreaterThan(0);
    expect(t?.paths.every((p) => p.startsWith('/usr/'))).toBe(true);
  });

  it('egress rules default to drop and allow only listed tcp ip:port', () => {
    const r = iptablesRules([{ host: 'h', ip: '10.0.2.2', port: 8080 }]);
    expect(r).toContain(':OUTPUT DROP');
    expect(r).toContain('-A OUTPUT -p tcp -d 10.0.2.2/32 --dport 8080 -j ACCEPT');
    expect(r.trim().endsWith('COMMIT')).toBe(true);
  });
});
