import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import { historyExpansion } from '../../src/guard/session.js';

/**
 * Issue 21.1-2: a line typed into an interactive session (`ssh_session_send`, input.session) may
 * not change how LATER lines are read or run. Each construct of the issue is a named test; every
 * one of them was `allow` before the session rules (src/guard/session.ts).
 */
let g: GuardEngine;
let open: GuardEngine;
let dir = '';
beforeAll(async () => {
  g = await loadGuard();
  // The session rules alone: a policy that lets through what no rule has an opinion on, so a
  // benign line that comes back approve here was flagged by a session rule, not by the default.
  dir = mkdtempSync(join(tmpdir(), 'guard-session-'));
  writeFileSync(join(dir, 'open.yaml'), 'version: 1\nname: session-open\ndefaults:\n  unknown_command: allow\n');
  open = await loadGuard({ policyFiles: [join(dir, 'open.yaml')] });
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const send = (line: string) => g.checkCommand(line, undefined, { session: true });
const sendOpen = (line: string) =>
  open.checkCommand(line, { policy: 'session-open', context: 'session' }, { session: true });

describe('issue 21.1: shell state set in one send', () => {
  it.each([
    ["alias ls='rm -rf ~'", 'deny'],
    ["alias ll='ls -la'", 'approve'],
    ['alias g=git k=kubectl', 'approve'],
    ["PS1='$(rm -rf ~)'", 'deny'],
    ["PS1='$ '", 'deny'],
    ['PS0=x', 'deny'],
    ['PS2=x', 'deny'],
    ['PS4=x', 'deny'],
    ["PROMPT_COMMAND='touch /tmp/x'", 'deny'],
    ['PROMPT_COMMAND+=(x)', 'deny'],
    ['export PS1=x', 'deny'],
    ['declare PROMPT_COMMAND=x', 'deny'],
    ['readonly PS1', 'deny'],
    ['local PS1=x', 'deny'],
    ['typeset PS1=x', 'deny'],
    ['printf -v PS1 %s x', 'deny'],
    ['read PS1 <<< x', 'deny'],
    ['declare -n r=PROMPT_COMMAND; r=x', 'deny'],
    [': ${PS1:=x}', 'deny'],
    ['(( PS1 = 1 ))', 'deny'],
    ['eval "PS1=x"', 'deny'],
    [`bind '"zz": "rm -rf ~"'`, 'deny'],
    [`bind '"zz": "ls\\n"'`, 'approve'],
    [`bind -x '"\\C-x": rm -rf ~'`, 'deny'],
    [`bind -x '"\\C-x": ls'`, 'approve'],
    ['bind -f ./inputrc', 'approve'],
    ["complete -C 'rm -rf ~' ls", 'deny'],
    ['complete -C ./helper ls', 'approve'],
    ['complete -F _f ls', 'approve'],
    ['compopt -o nospace ls', 'approve'],
    ['ls() { rm -rf ~; }', 'deny'],
    ['cd() { builtin cd "$@" && ls; }', 'approve'],
    ['function git { echo; }', 'approve'],
  ])('%j is %s', (line, want) => {
    expect(send(line).decision, line).toBe(want);
  });
});

describe('issue 21.2: history re-runs what the guard judged in another send, or never saw', () => {
  it.each([
    "history -s 'rm -rf ~'",
    'history -r ./h',
    'history -c',
    '!!',
    '!-2',
    '!rm',
    '!?rm?',
    'echo !$',
    '^echo ^',
    '  ^a^b',
    'fc -s',
    "fc -s 'echo '=",
    'fc -e vi',
    'fc',
    'echo "!!"',
  ])('%j is approve', (line) => {
    expect(send(line).decision, line).toBe('approve');
  });

  it('history expansion is read as bash reads it: quotes, blanks and $! are not expansions', () => {
    for (const l of [
      "echo '!!'",
      'echo \\!\\!',
      'if ! true; then :; fi',
      'echo $!',
      'echo ${!x}',
      'git commit -m "fix!"',
      'echo hi!',
      'a != b',
    ])
      expect(historyExpansion(l), l).toBeUndefined();
    for (const l of ['!!', 'echo "!!"', 'x\n^a^b', 'echo !$']) expect(historyExpansion(l), l).toBeDefined();
  });
});

describe('issue 21: every other construct that changes how later input is read or run', () => {
  it.each([
    'set -o histexpand',
    'set -H',
    'set -k',
    'set +m',
    'set -o vi',
    'set -o emacs',
    'set -o posix',
    'set -euo histexpand',
    'set +o interactive-comments',
    'shopt -s expand_aliases',
    'shopt -u interactive_comments',
    'shopt -s extglob',
    'shopt -s histverify',
    'enable -n echo',
    'enable -f ./x.so x',
    'hash -p /tmp/x ls',
    "trap 'ls' DEBUG",
    'trap - EXIT',
    "trap '' INT",
    'exec 0</tmp/cmds',
    'exec 3<>/dev/tcp/x/1',
    'exec bash',
    'exec python3',
    'source ~/.bashrc',
    '. ./venv/bin/activate',
    'PATH=/tmp/bin:$PATH',
    'HOME=/tmp',
    'IFS=,',
    'CDPATH=/etc',
    'EDITOR=./x',
    'export GIT_PAGER=./x',
    'HISTFILE=~/.bashrc',
    'bash',
    'sh',
    'bash --norc',
    'zsh',
    'exec zsh',
    'setsid bash &',
    'script',
    'tmux',
    'screen -S x',
    'python3 &',
    'setsid python3 &',
    'nohup sh &',
    'stty -echo',
    'stty intr ^x',
    'read -r "$N" <<< x',
    'declare "$N=x"',
  ])('%j is at least approve', (line) => {
    expect(send(line).decision, line).not.toBe('allow');
  });

  it('the same lines outside a session keep their usual verdict (no session rule fires)', () => {
    for (const line of [
      'set -o vi',
      'shopt -s extglob',
      'f() { ls; }',
      'bash',
      "alias ll='ls -la'",
      'history',
      'trap "echo bye" EXIT',
    ]) {
      const d = g.checkCommand(line);
      expect(d.rule.startsWith('session.'), line).toBe(false);
    }
  });

  it("a child shell's state ends with it: no session rule for `bash -c`, `( … )` still checked", () => {
    // The default policy approves `x` (a program it does not know); no session rule fires.
    for (const line of ["bash -c 'alias x=y; x'", "sh -c 'set -o vi'"]) {
      expect(sendOpen(line).decision, line).toBe('allow');
      expect(send(line).rule ?? '', line).not.toMatch(/^session\./);
    }
  });
});

describe('benign session lines stay allowed', () => {
  it.each([
    'cd /srv',
    'cd /srv && ls -la',
    'ls -la',
    'git status',
    'git log --oneline -5',
    'export FOO=bar',
    'FOO=bar',
    'echo $PATH',
    'pwd',
    'set -e',
    'set -euo pipefail',
    'set -x',
    'set +e',
    'set -- a b',
    'ulimit -n',
    'umask 022',
    'history',
    'history 20',
    'alias',
    'trap -p',
    'complete -p',
    'shopt',
    'shopt -p',
    'bind -p',
    'fc -l',
    'fc -l -10',
    'python3',
    'psql',
    'cat README.md | grep x',
    'make test',
    'npm run build',
    'unalias ll',
    'stty size',
    'git commit -m "fix!"',
  ])('%j is allow under the session rules, and never a session finding', (line) => {
    expect(sendOpen(line).decision, line).toBe('allow');
    // Under the default policy a program the guard does not vouch for (make, npm, python3 …) is
    // approve in a session (unknown_command.session), but never because of a session rule.
    expect(send(line).rule ?? '', line).not.toMatch(/^session\./);
  });

  it('read-only lines stay allow under the default policy too', () => {
    for (const line of [
      'cd /srv',
      'cd /srv && ls -la',
      'ls -la',
      'git status',
      'git log --oneline -5',
      'pwd',
      'cat README.md | grep x',
      'history 20',
      'shopt -p',
    ]) {
      expect(send(line).decision, line).toBe('allow');
    }
  });
});
