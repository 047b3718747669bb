import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, parsePolicy, type GuardEngine } from '../../src/guard/index.js';

let g: GuardEngine;
let custom: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
  const dir = mkdtempSync(join(tmpdir(), 'gh-pol-'));
  const f = join(dir, 'team.yaml');
  writeFileSync(
    f,
    `version: 1
name: team
applies_to: { tokens: ['team-*'], targets: ['staging'] }
commands:
  rules:
    - id: allow-rm-root
      commands: [rm]
      decision: allow
      message: trying to lower a catastrophe
    - id: allow-force-push
      commands: [git]
      args: ['^push .*--force']
      decision: allow
      message: our CI pushes rebased branches
    - id: no-make-deploy
      commands: [make]
      args: ['^deploy']
      decision: deny
      message: deploys go through CI
paths:
  write_allowed: ['./**']
  rules:
    - { id: docs-ro, op: write, paths: ['./docs/**'], decision: approve, message: docs are reviewed }
    - { id: ssh-ok, op: read, paths: ['~/.ssh/**'], decision: allow, message: trying to allow keys }
http:
  rules:
    - { id: no-billing, methods: [POST], paths: ['/v1/billing/**'], decision: deny, message: billing is off limits }
    - { id: gql-ok, paths: ['/graphql'], graphql: mutation, decision: allow, message: mutations ok here }
`,
  );
  custom = await loadGuard({ policyFiles: [f] });
});

describe('policies', () => {
  it('ships default and strict', () => {
    expect(g.policyNames()).toEqual(['default', 'strict']);
  });

  it('validation errors name file, line and field', () => {
    expect(() => parsePolicy('version: 1\nname: x\ndefaults:\n  unknown_command: sometimes\n', 'a.yaml')).toThrow(
      /a\.yaml:4: defaults\.unknown_command: must be one of allow, approve, deny/,
    );
    expect(() =>
      parsePolicy(
        'version: 1\nname: x\ncommands:\n  rules:\n    - commands: [ls]\n      decision: allow\n      args: ["("]\n',
        'b.yaml',
      ),
    ).toThrow(/b\.yaml:7: commands\.rules\[0\]\.args\[0\]: invalid regular expression/);
    expect(() => parsePolicy('version: 1\nname: x\nbogus: 1\n', 'c.yaml')).toThrow(/c\.yaml:3: bogus: unknown field/);
    expect(() => parsePolicy('name: [\n', 'd.yaml')).toThrow(/d\.yaml:\d+: YAML syntax error/);
    expect(() =>
      parsePolicy(
        'version: 1\nname: x\ncommands:\n  rules:\n    - commands: [ls]\n      decision: redirect\n',
        'e.yaml',
      ),
    ).toThrow(/e\.yaml:5: commands\.rules\[0\]\.redirect: is required/);
    try {
      parsePolicy('version: 1\nname: x\ndefaults: 3\n', 'f.yaml');
    } catch (e) {
      expect((e as { code: string }).code).toBe('policy_invalid');
    }
  });

  it('user rules lower built-in approvals but never a built-in deny', () => {
    const ctx = { policy: 'team' };
    expect(custom.checkCommand('git push --force origin main', ctx).decision).toBe('allow');
    expect(custom.checkCommand('rm -rf /', ctx)).toMatchObject({ decision: 'deny', rule: 'fs.rm-root' });
    expect(custom.checkCommand('rm build.log', ctx)).toMatchObject({
      decision: 'allow',
      rule: 'user:team:allow-rm-root',
    });
    expect(custom.checkCommand('make deploy', ctx)).toMatchObject({
      decision: 'deny',
      rule: 'user:team:no-make-deploy',
    });
    expect(custom.checkCommand('ls && make deploy-prod', ctx).decision).toBe('deny');
    // A user allow does not lower fail-closed findings.
    expect(custom.checkCommand('$X push --force', ctx).decision).toBe('approve');
  });

  it('picks policies by token and target; an unknown policy name is denied', () => {
    expect(custom.checkCommand('make deploy', { token: 'team-ci' }).decision).toBe('deny');
    expect(custom.checkCommand('make deploy', { target: 'staging' }).decision).toBe('deny');
    // Unbound tokens get `default`, where a program the guard does not know is not vouched for:
    // approve where no context is named (issue 14: allow is a judgment; it was allow before).
    expect(custom.checkCommand('frobnicate --deploy', { token: 'other' })).toMatchObject({
      decision: 'approve',
      rule: 'policy:default:unknown',
    });
    expect(g.checkCommand('ls', { policy: 'nope' })).toMatchObject({ decision: 'deny', rule: 'policy.unknown' });
    // strict binds ci-* tokens and prod-* targets
    expect(g.checkCommand('npm test', { token: 'ci-runner' }).decision).toBe('approve');
    expect(g.checkCommand('npm test', { target: 'prod-db' }).decision).toBe('approve');
  });

  it('strict is allowlist-first', () => {
    const s = { policy: 'strict' };
    expect(g.checkCommand('ls -la && git status && grep -r x src | head', s).decision).toBe('allow');
    expect(g.checkCommand('frobnicate --test', s)).toMatchObject({
      decision: 'approve',
      rule: 'policy:strict:unknown',
    });
    expect(g.checkCommand('npm test', { ...s, context: 'sandbox' })).toMatchObject({
      decision: 'approve',
      rule: 'exec.script-file',
    });
    expect(g.checkCommand('git commit -m x', s).decision).toBe('approve');
    expect(g.checkCommand('sed -i s/a/b/ f', s).decision).toBe('approve');
    expect(g.checkCommand('find . -delete', s).decision).toBe('approve');
    expect(g.checkCommand('./cat x', s).decision).toBe('approve');
    expect(g.checkCommand('/tmp/evil/ls', s).decision).toBe('approve');
    expect(g.checkCommand('/bin/ls', s).decision).toBe('allow');
    expect(g.checkCommand('ls > out.txt', s).decision).toBe('approve');
    expect(g.checkCommand('echo "unterminated', s).decision).toBe('deny');
  });

  it('path rules: secrets, system files, writes outside allowed paths', () => {
    expect(g.checkPath('read', '/etc/shadow')).toMatchObject({ decision: 'deny', rule: 'secrets.read' });
    expect(g.checkPath('read', '/home/bob/.ssh/id_ed25519').decision).toBe('deny');
    expect(g.checkPath('read', '~/.ssh/id_ed25519.pub').decision).toBe('allow');
    expect(g.checkPath('read', 'src/index.ts').decision).toBe('allow');
    expect(g.checkPath('read', 'app/.env').decision).toBe('approve');
    expect(g.checkPath('write', '/etc/passwd').decision).toBe('deny');
    expect(g.checkPath('write', '~/.bashrc').decision).toBe('deny');
    expect(g.checkPath('write', '/opt/app/x').decision).toBe('approve');
    expect(g.checkPath('write', '../../etc/x').decision).toBe('approve');
    expect(g.checkPath('write', '/tmp/../etc/passwd').decision).toBe('deny');
    expect(g.checkPath('write', 'build/out.js').decision).toBe('allow');
    expect(g.checkPath('write', '/tmp/x', { policy: 'strict' }).decision).toBe('allow');
    expect(g.checkPath('write', 'build/out.js', { policy: 'strict' }).decision).toBe('approve');
    expect(g.checkPath('read', 'a\0b').decision).toBe('deny');
    const t = { policy: 'team' };
    expect(custom.checkPath('write', './docs/a.md', t)).toMatchObject({
      decision: 'approve',
      rule: 'user:team:docs-ro',
    });
    expect(custom.checkPath('read', '~/.ssh/id_rsa', t).decision).toBe('deny');
    expect(custom.checkPath('write', '/srv/x', t).decision).toBe('approve');
  });

  it('HTTP rules: DELETE, destructive paths, admin writes, GraphQL mutations, method override', () => {
    expect(g.checkHttp({ method: 'GET', path: '/v1/users' }).decision).toBe('allow');
    expect(g.checkHttp({ method: 'DELETE', path: '/v1/users/1' })).toMatchObject({
      decision: 'approve',
      rule: 'http.delete',
    });
    expect(
      g.checkHttp({ method: 'POST', path: '/v1/users/1', headers: { 'X-HTTP-Method-Override': 'DELETE' } }).decision,
    ).toBe('approve');
    expect(g.checkHttp({ method: 'POST', path: '/v1/users/1?_method=DELETE' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'POST', path: '/v1/users/1/deactivate' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'GET', path: '/x?op=/delete' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'POST', path: '/v1/%64elete/1' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'POST', path: '/v1/%2564elete/1' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'PUT', path: '/api/admin/settings' })).toMatchObject({
      decision: 'approve',
      rule: 'http.admin-write',
    });
    expect(g.checkHttp({ method: 'GET', path: '/api/admin/settings' }).decision).toBe('allow');
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/graphql',
        body: JSON.stringify({ query: 'mutation { deleteUser(id: 1) { id } }' }),
      }),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
    expect(
      g.checkHttp({ method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ users { id name } }' }) })
        .decision,
    ).toBe('allow');
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/graphql',
        body: JSON.stringify([{ query: 'query A { a }' }, { query: 'mutation B { b }' }]),
      }).decision,
    ).toBe('approve');
    expect(
      g.checkHttp({ method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ a(where: "mutation") }' }) })
        .decision,
    ).toBe('allow');
    // A body the guard is not shown (a binary stream on /gateway) cannot prove a GraphQL write harmless.
    expect(g.checkHttp({ method: 'POST', path: '/graphql', bodyUnread: true })).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-unreadable',
    });
    expect(g.checkHttp({ method: 'POST', path: '/v1/upload', bodyUnread: true }).decision).toBe('allow');
    expect(g.checkHttp({ method: 'POST', path: '/v1/items' }, { policy: 'strict' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'POST', path: '/v1/%E0%A4%A' }).decision).toBe('approve');
    const t = { policy: 'team' };
    expect(custom.checkHttp({ method: 'POST', path: '/v1/billing/charge' }, t)).toMatchObject({
      decision: 'deny',
      rule: 'user:team:no-billing',
    });
    expect(custom.checkHttp({ method: 'POST', path: '/graphql', body: '{"query":"mutation { a }"}' }, t).decision).toBe(
      'allow',
    );
  });
});

describe('parser', () => {
  it('loads the WASM grammar from node_modules and reuses it', async () => {
    const a = await loadGuard();
    expect(a.checkCommand('echo $((1+2)) | cat').decision).toBe('allow');
  });
});

/**
 * Issue 21.9: `guard.policy_files` with a relative path resolved against the server's working
 * directory, and a file there could take the name `default` and replace the built-in default
 * policy (turning `rm -rf build` from approve into allow).
 */
describe('policy files: where relative paths resolve, and built-in names', () => {
  const lowerRm = (name: string) =>
    `version: 1\nname: ${name}\ncommands:\n  rules:\n    - { id: rm-ok, commands: [rm], decision: allow, message: anything goes }\n`;

  it("a relative policy path resolves against baseDir (the configuration file's directory), not the working directory", async () => {
    const conf = mkdtempSync(join(tmpdir(), 'gh-conf-'));
    const cwd = mkdtempSync(join(tmpdir(), 'gh-cwd-'));
    writeFileSync(join(conf, 'team.yaml'), lowerRm('team'));
    writeFileSync(join(cwd, 'team.yaml'), lowerRm('agent'));
    const before = process.cwd();
    process.chdir(cwd);
    try {
      const e = await loadGuard({ policyFiles: ['team.yaml'], baseDir: conf });
      expect(e.policyNames()).toContain('team');
      expect(e.policyNames()).not.toContain('agent');
    } finally {
      process.chdir(before);
    }
  });

  it.each(['default', 'strict'])(
    'a user policy file named like the built-in %j is refused with policy_invalid naming both files',
    async (name) => {
      const dir = mkdtempSync(join(tmpdir(), 'gh-shadow-'));
      const f = join(dir, 'mine.yaml');
      writeFileSync(f, lowerRm(name));
      const err = await loadGuard({ policyFiles: ['mine.yaml'], baseDir: dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'policy_invalid' });
      const msg = (err as Error).message;
      expect(msg).toContain(f);
      expect(msg).toMatch(new RegExp(`policies[/\\\\]${name}\\.yaml`));
    },
  );

  it('two user files with the same policy name are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-dup-'));
    writeFileSync(join(dir, 'a.yaml'), lowerRm('team'));
    writeFileSync(join(dir, 'b.yaml'), lowerRm('team'));
    await expect(loadGuard({ policyFiles: ['a.yaml', 'b.yaml'], baseDir: dir })).rejects.toMatchObject({
      code: 'policy_invalid',
    });
  });

  it('the default policy stays the built-in one: rm -rf of a build directory still needs approval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-keep-'));
    writeFileSync(join(dir, 'team.yaml'), lowerRm('team'));
    const e = await loadGuard({ policyFiles: ['team.yaml'], baseDir: dir });
    expect(e.checkCommand('rm -rf build').decision).toBe('approve');
    expect(e.checkCommand('rm -rf build', { policy: 'team' }).decision).toBe('allow');
  });
});

describe('policy settings the built-in rules read (issue 14 items 1 and 3)', () => {
  let tuned: GuardEngine;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guard-tuned-'));
    const file = join(dir, 'tuned.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'name: tuned',
        'commands:',
        '  script_paths_allowed: ["scripts/**", "Makefile"]',
        'secrets:',
        '  credential_names:',
        '    secret: ["^ACME_SIGNING_SEED$"]',
        '    ignore: ["^GITHUB_TOKEN_SCOPES$"]',
        'http:',
        '  rules:',
        '    - { id: no-deploys, methods: [POST], paths: ["/deploy/**"], decision: deny, message: deploys go through CI }',
        '',
      ].join('\n'),
    );
    tuned = await loadGuard({ policyFiles: [file] });
  });
  const t = (cmd: string) => tuned.checkCommand(cmd, { policy: 'tuned', context: 'ssh' });

  it('script_paths_allowed lets listed scripts and project files run unread; others stay approve', () => {
    expect(t('bash scripts/build.sh').decision).toBe('allow');
    expect(t('make').decision).toBe('allow');
    expect(t('bash ./deploy.sh')).toMatchObject({ decision: 'approve', rule: 'exec.script-file' });
    expect(g.checkCommand('bash scripts/build.sh', { context: 'ssh' }).decision).toBe('approve');
  });

  it('secrets.credential_names adds and exempts names', () => {
    expect(t('echo $ACME_SIGNING_SEED').decision).toBe('deny');
    expect(g.checkCommand('echo $ACME_SIGNING_SEED', { context: 'ssh' }).decision).not.toBe('deny');
    expect(t('echo $GITHUB_TOKEN_SCOPES').decision).toBe('allow');
    expect(g.checkCommand('echo $GITHUB_TOKEN_SCOPES', { context: 'ssh' }).decision).toBe('deny');
  });

  it("curl meets the policy's HTTP rules as api_request does", () => {
    expect(t('curl -X POST https://ci.example.net/deploy/web')).toMatchObject({ decision: 'deny' });
    expect(g.checkCommand('curl -X POST https://ci.example.net/deploy/web', { context: 'ssh' }).decision).not.toBe(
      'deny',
    );
  });

  it('rejects an invalid credential-name expression with file and field', () => {
    expect(() =>
      parsePolicy('version: 1\nname: x\nsecrets:\n  credential_names:\n    secret: ["("]\n', 'x.yaml'),
    ).toThrow(/secrets\.credential_names\.secret\[0\]/);
  });
});
