/**
 * Issue 21 items 1–2, the session side: the shell is set up at open, before the agent's first
 * send, so state that changes how later lines are read or run (history expansion, readline
 * bindings, aliases, prompt hooks, whatever the account's rc files set) cannot turn an allowed
 * send into a denied command. Every input here is sent raw through the manager (no guard): these
 * tests show the shell itself no longer does it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshSessionManager, type SessionTranscript, type SshTargetSpec } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh session setup'));

/** A .bash_profile that sets everything the setup must undo (a benign rc does some of it). */
const HOSTILE_PROFILE = `
echo PROFILE-RAN
alias ls='echo ALIAS-HIJACK'
alias unalias=true
function set { echo SET-HIJACK; }
function unset { echo UNSET-HIJACK; }
function builtin { echo BUILTIN-HIJACK; }
function cat { echo FUNCTION-HIJACK; }
command_not_found_handle() { echo CNF-HOOK; return 127; }
trap 'echo DEBUG-TRAP' DEBUG
trap 'echo EXIT-TRAP' EXIT
PROMPT_COMMAND='echo PROMPT-HOOK'
PS0='$(echo PS0-HOOK)'
PS1='$(echo PS1-HOOK)> '
hash -p /bin/echo head
CDPATH=/tmp
shopt -s extglob nullglob
bind '"zz": "echo BOUND-MACRO\\n"' 2>/dev/null
`;

describe.skipIf(skip)('session setup at open (real sshd, bash login shell)', () => {
  let sshd: SshdHandle;
  let hostile: SshdHandle;
  let plainSh: SshdHandle;
  let spec: SshTargetSpec;
  const transcripts: SessionTranscript[] = [];
  let sm: SshSessionManager;

  beforeAll(async () => {
    [sshd, hostile, plainSh] = await Promise.all([
      startSshd({ loginShell: 'bash' }),
      // .bashrc is sourced for every ssh command too (Debian's bash), so it also runs before the
      // terminal watch: its noise must not break it.
      startSshd({
        loginShell: 'bash',
        homeFiles: { '.bash_profile': HOSTILE_PROFILE, '.bashrc': 'echo BASHRC-NOISE\nalias cat=false\n' },
      }),
      startSshd(),
    ]);
    spec = sshd.spec('box');
    sm = new SshSessionManager({ onTranscript: (t) => transcripts.push(t) });
  });
  afterAll(async () => {
    sm?.closeAll();
    await Promise.all([sshd?.dispose(), hostile?.dispose(), plainSh?.dispose()]);
  });

  const run = async (id: string, input: string, waitFor: string) => {
    const r = await sm.send(id, 'o', input, { waitFor, timeoutS: 10 });
    expect(r.matched).toBe(true);
    return r.output;
  };

  it('after open, history expansion is off: `!!`, `^old^new` and `fc -s` re-run nothing', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o' });
    expect(await run(id, 'echo RAN-$((1+1))', 'RAN-2')).toContain('RAN-2');
    // Each would re-run `echo RAN-…` with history expansion or history on.
    const bang = await run(id, '!!; echo DONE-$((1+2))', 'DONE-3');
    expect(bang).toContain('!!: command not found');
    expect(bang).not.toContain('RAN-2');
    const caret = await run(id, '^RAN^AGAIN^; echo DONE-$((1+3))', 'DONE-4');
    expect(caret).not.toMatch(/RAN-2|AGAIN-2/);
    // `history -s` cannot plant a command for fc: the history list holds nothing (HISTSIZE=0, readonly).
    const fc = await run(id, "history -s 'echo HIST-$((2+2))'; fc -s; echo DONE-$((1+4))", 'DONE-5');
    expect(fc).not.toContain('HIST-4');
    expect(await run(id, 'HISTSIZE=500', 'readonly variable')).toContain('HISTSIZE: readonly variable');
    sm.close(id, 'o');
  });

  it('after open, readline is off: `bind` macros and `bind -x` commands do nothing', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o' });
    await run(
      id,
      `bind '"zz": "echo BOUND-$((3+3))\\n"' 2>&1; bind -x '"\\C-t": echo BINDX-$((4+4))' 2>&1; echo DONE-$((1+1))`,
      'DONE-2',
    );
    // With readline, typing zz would type the macro and Ctrl-T would run the bind -x command.
    const out = await run(id, 'zz\n\x14\necho DONE-$((1+2))', 'DONE-3');
    expect(out).not.toContain('BOUND-6');
    expect(out).not.toContain('BINDX-8');
    expect(out).toContain('zz: command not found');
    sm.close(id, 'o');
  });

  it('after open, aliases do not expand, even ones defined later in the session', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o' });
    await run(id, "alias ls='echo ALIAS-HIJACK'; echo DONE-$((1+1))", 'DONE-2');
    const out = await run(id, 'ls -d /; echo DONE-$((1+2))', 'DONE-3');
    expect(out).not.toContain('ALIAS-HIJACK');
    expect(out).toMatch(/^\/$/m);
    sm.close(id, 'o');
  });

  it('the prompt hooks are locked: PROMPT_COMMAND, PS0 and PS1 cannot be set to run commands', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o' });
    // (bash abandons the rest of the input after an assignment to a readonly variable: one per send)
    expect(await run(id, "PROMPT_COMMAND='echo HOOK-$((3+4))'", 'readonly variable')).toContain(
      'PROMPT_COMMAND: readonly variable',
    );
    expect(await run(id, "PS0='$(echo PS0-$((4+5)))'", 'readonly variable')).toContain('PS0: readonly variable');
    expect(await run(id, "PS1='$(echo PS1-$((5+6)))'", 'readonly variable')).toContain('PS1: readonly variable');
    expect(await run(id, 'unset PROMPT_COMMAND', 'readonly variable')).toContain(
      'PROMPT_COMMAND: cannot unset: readonly variable',
    );
    const next = await run(id, 'echo DONE-$((1+2))', 'DONE-3');
    expect(next).not.toMatch(/HOOK-7|PS0-9|PS1-11/);
    sm.close(id, 'o');
  });

  it('rc-file state is reset at open: aliases, functions over builtins, traps, prompt hooks, hashed paths, bindings', async () => {
    const h = new SshSessionManager({});
    try {
      const { id } = await h.open(hostile.spec('hostile'), hostile.credentials, { owner: 'o' });
      const out = (
        await h.send(
          id,
          'o',
          'ls -d /; cat /etc/hostname >/dev/null && echo CAT-OK; head -c 3 /etc/hostname >/dev/null && echo HEAD-OK; nosuchcmd-x; type -t set unset builtin; echo DONE-$((1+1))',
          { waitFor: 'DONE-2', timeoutS: 10 },
        )
      ).output;
      expect(out).toMatch(/^\/$/m);
      expect(out).toContain('CAT-OK');
      expect(out).toContain('HEAD-OK');
      expect(out).toContain('nosuchcmd-x: command not found');
      expect(out).toMatch(/^builtin\nbuiltin\nbuiltin$/m);
      expect(out).not.toMatch(/HIJACK|DEBUG-TRAP|PROMPT-HOOK|PS0-HOOK|PS1-HOOK|CNF-HOOK/);
      expect(await h.foreground(id, 'o')).toEqual({ atShell: true });
      const zz = (await h.send(id, 'o', 'zz\necho DONE-$((1+2))', { waitFor: 'DONE-3', timeoutS: 10 })).output;
      expect(zz).not.toContain('BOUND-MACRO');
      // The rc file's own output was part of setup: in the transcript, not in the agent's output.
      expect(h.read(id, 'o', { since: 0 }).output).not.toContain('PROFILE-RAN');
      const t = h.transcript(id)!;
      expect(
        t.entries.some((e) => e.dir === 'event' && e.data.startsWith('init output:') && e.data.includes('PROFILE-RAN')),
      ).toBe(true);
      h.close(id, 'o');
    } finally {
      h.closeAll();
    }
  });

  it('the setup and its output are transcript events, never output to the agent', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o' });
    const all = sm.read(id, 'o', { since: 0 }).output;
    expect(all).toBe('$ ');
    const t = sm.transcript(id)!;
    expect(t.entries.filter((e) => e.dir === 'in')).toEqual([]);
    expect(
      t.entries.some(
        (e) => e.dir === 'event' && e.data.startsWith('init: ') && e.data.includes('set +o emacs +o vi +o history +H'),
      ),
    ).toBe(true);
    expect(t.entries.some((e) => e.dir === 'event' && /^shell: bash \d/.test(e.data))).toBe(true);
    sm.close(id, 'o');
  });

  it('a login shell that is not bash is refused with ssh_error and a hint', async () => {
    const e = await sm.open(plainSh.spec('dash'), plainSh.credentials, { owner: 'not-bash' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ssh_error' });
    expect((e as Error).message).toMatch(/is not bash/);
    expect((e as { hint?: string }).hint).toMatch(/bash as the login shell/);
    expect(sm.list('not-bash')).toEqual([]);
    // The failed setup is still audited.
    expect(transcripts.some((t) => t.target === 'dash' && t.closeReason === 'setup failed')).toBe(true);
  });

  it('a setup that does not stick (a readonly PROMPT_COMMAND from an rc file) refuses the session', async () => {
    const locked = await startSshd({
      loginShell: 'bash',
      homeFiles: { '.bash_profile': "readonly PROMPT_COMMAND='echo LOCKED'\n" },
    });
    try {
      const e = await sm.open(locked.spec('locked'), locked.credentials, { owner: 'locked' }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'ssh_error' });
      expect((e as Error).message).toContain('PROMPT_COMMAND or PS0 is set');
      expect(sm.list('locked')).toEqual([]);
    } finally {
      await locked.dispose();
    }
  });
});
