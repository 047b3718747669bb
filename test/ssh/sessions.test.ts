import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshSessionManager, type SessionTranscript, type SshTargetSpec } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh sessions'));

describe.skipIf(skip)('interactive PTY sessions against a real sshd', () => {
  let sshd: SshdHandle;
  let spec: SshTargetSpec;
  const transcripts: SessionTranscript[] = [];
  let sm: SshSessionManager;
  // A session's transcript is delivered when it closes: the event the tests wait on (bounded by
  // the test's timeout), instead of polling for a guessed number of rounds.
  const closeWaiters = new Map<string, () => void>();
  const closedEvent = (id: string): Promise<void> =>
    transcripts.some((t) => t.id === id) ? Promise.resolve() : new Promise<void>((r) => closeWaiters.set(id, r));

  beforeAll(async () => {
    sshd = await startSshd({ loginShell: 'bash' });
    spec = sshd.spec('box');
    sm = new SshSessionManager({
      onTranscript: (t) => {
        transcripts.push(t);
        closeWaiters.get(t.id)?.();
      },
    });
  });
  afterAll(async () => {
    sm?.closeAll();
    await sshd?.dispose();
  });

  it('opens a PTY shell; send with waitFor returns the output since the send, ANSI stripped', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    expect(id).toMatch(/^sess_[A-Za-z0-9_-]{24}$/);
    const r = await sm.send(id, 'tok1', `tty; printf '\\033[31mred\\033[0m\\n'; echo MARK-$((40+2))`, {
      waitFor: 'MARK-42',
      timeoutS: 10,
    });
    expect(r.matched).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.output).toMatch(/\/dev\/pts\/\d+/);
    expect(r.output).toContain('red');
    expect(r.output).not.toContain('\x1b');
    expect(r.output).not.toContain('\r');
    // A RegExp works too, and the output starts after this send.
    const r2 = await sm.send(id, 'tok1', 'echo second-$((1+1))', { waitFor: /second-2\n/ });
    expect(r2.matched).toBe(true);
    expect(r2.output).not.toContain('MARK-42');
    sm.close(id, 'tok1');
  });

  it('waitFor that never appears times out with matched=false', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    const r = await sm.send(id, 'tok1', 'echo nothing-here', { waitFor: 'NEVER-PRINTED', timeoutS: 0.5 });
    expect(r).toMatchObject({ matched: false, timedOut: true, closed: false });
    expect(r.output).toContain('nothing-here');
    sm.close(id, 'tok1');
  });

  it('read returns buffered output by cursor', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    await sm.send(id, 'tok1', 'echo one', { waitFor: 'one\n' });
    const all = sm.read(id, 'tok1', { since: 0 });
    expect(all.output).toContain('one');
    expect(all.closed).toBe(false);
    // Output produced in the background becomes readable without a send.
    await sm.send(id, 'tok1', '(sleep 0.3; echo later-output) &', { timeoutS: 0.2 });
    // Read until it shows up (the test's timeout bounds the wait; no guessed number of rounds).
    let got = '';
    while (!got.includes('later-output')) {
      await new Promise((r) => setTimeout(r, 50));
      got += sm.read(id, 'tok1').output;
    }
    const page = sm.read(id, 'tok1', { since: 0, limit: 3 });
    expect(page.output.length).toBe(3);
    expect(page.next).toBe(3);
    sm.close(id, 'tok1');
  });

  it('signal INT interrupts the foreground command; KILL ends the shell', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    const p = sm.send(id, 'tok1', 'sleep 100; echo after-sleep', { waitFor: 'after-sleep', timeoutS: 2 });
    // INT goes out once `sleep` holds the terminal (asked of the kernel), not after a guessed delay.
    // Polled, not a busy loop of probes (each probe is a round trip on the watch channel).
    for (
      let fg = await sm.foreground(id, 'tok1');
      fg.atShell || fg.program !== 'sleep';
      fg = await sm.foreground(id, 'tok1')
    )
      await new Promise((r) => setTimeout(r, 25));
    sm.signal(id, 'tok1', 'INT');
    const r = await sm.send(id, 'tok1', 'echo alive-$((2+3))', { waitFor: 'alive-5' });
    expect(r.matched).toBe(true);
    const first = await p;
    // Echo is off, so 'after-sleep' could only come from the echo command, which INT prevented.
    expect(first.matched).toBe(false);
    expect(first.output).not.toContain('after-sleep');
    const closed = closedEvent(id);
    sm.signal(id, 'tok1', 'KILL');
    await closed;
    expect(sm.list('tok1').find((s) => s.id === id)?.closed).toBe(true);
    expect(sm.read(id, 'tok1').closed).toBe(true);
    await expect(sm.send(id, 'tok1', 'echo x')).rejects.toMatchObject({ code: 'session_not_found' });
    sm.close(id, 'tok1');
  });

  it('sshd restarted under an open session: the session ends with a clear state, and a new one works after', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    expect((await sm.send(id, 'tok1', 'echo UP-$((1+1))', { waitFor: 'UP-2', timeoutS: 10 })).matched).toBe(true);
    const closed = closedEvent(id);
    await sshd.stop();
    try {
      await closed; // its transcript is delivered, with why it ended
      const t = transcripts.find((x) => x.id === id)!;
      expect(t.closedAt).toBeDefined();
      expect(t.closeReason).toBeTruthy();
      // The agent is told the session is over, not left waiting.
      const after = await sm.send(id, 'tok1', 'echo still', { timeoutS: 2 }).catch((e: unknown) => e);
      expect(after).toMatchObject({ code: 'session_not_found' });
    } finally {
      await sshd.start();
    }
    const again = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    expect((await sm.send(again.id, 'tok1', 'echo BACK-$((1+1))', { waitFor: 'BACK-2', timeoutS: 10 })).matched).toBe(
      true,
    );
    sm.close(again.id, 'tok1');
  });

  it('exit in the shell closes the session and reports closed', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    const r = await sm.send(id, 'tok1', 'exit', { waitFor: 'NEVER', timeoutS: 10 });
    expect(r.closed).toBe(true);
    expect(r.timedOut).toBe(false);
    sm.close(id, 'tok1');
  });

  it('owner checks: another token gets session_not_found for every call, same as an unknown id', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'tok1' });
    const unknown = await Promise.resolve()
      .then(() => sm.read('sess_doesnotexist', 'tok1'))
      .catch((e: unknown) => e);
    for (const call of [
      () => sm.send(id, 'tok2', 'echo hi'),
      async () => sm.read(id, 'tok2'),
      async () => sm.signal(id, 'tok2', 'INT'),
      async () => sm.close(id, 'tok2'),
    ]) {
      const e = await call().catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'session_not_found' });
      expect((e as Error).message).toBe((unknown as Error).message);
    }
    expect(sm.list('tok2')).toEqual([]);
    expect(sm.list('tok1').map((s) => s.id)).toContain(id);
    // Still usable by its owner.
    expect((await sm.send(id, 'tok1', 'echo mine', { waitFor: 'mine\n' })).matched).toBe(true);
    sm.close(id, 'tok1');
  });

  it('closeAllFor closes every session of a token (revocation) and delivers transcripts', async () => {
    const a = await sm.open(spec, sshd.credentials, { owner: 'revoked' });
    const b = await sm.open(spec, sshd.credentials, { owner: 'revoked' });
    const keep = await sm.open(spec, sshd.credentials, { owner: 'other' });
    await sm.send(a.id, 'revoked', 'echo transcript-line', { waitFor: 'transcript-line\n' });
    expect(sm.closeAllFor('revoked')).toBe(2);
    expect(sm.list('revoked')).toEqual([]);
    expect(sm.list('other').map((s) => s.id)).toEqual([keep.id]);
    await expect(sm.send(b.id, 'revoked', 'echo x')).rejects.toMatchObject({ code: 'session_not_found' });
    const t = transcripts.find((x) => x.id === a.id)!;
    expect(t.closeReason).toBe('token revoked');
    expect(t.entries.some((e) => e.dir === 'in' && e.data === 'echo transcript-line\n')).toBe(true);
    expect(t.entries.some((e) => e.dir === 'out' && e.data.includes('transcript-line'))).toBe(true);
    expect(sm.transcript(a.id)?.id).toBe(a.id);
    sm.close(keep.id, 'other');
  });

  it('idle sessions close on their own', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'idle', idleTimeoutS: 0.3 });
    await closedEvent(id);
    expect(sm.list('idle').find((s) => s.id === id)?.closed).toBe(true);
    expect(transcripts.find((x) => x.id === id)?.closeReason).toBe('idle timeout');
  });

  it('refuses input ending in an open line continuation; scrub applies to output and transcript', async () => {
    const { id } = await sm.open(spec, sshd.credentials, {
      owner: 'tok3',
      scrub: (s) => s.replaceAll('hunter2', '[REDACTED]'),
    });
    await expect(sm.send(id, 'tok3', 'rm -rf \\')).rejects.toMatchObject({ code: 'invalid_input' });
    const r = await sm.send(id, 'tok3', 'echo pw=hunter2', { waitFor: 'pw=' });
    expect(r.output).not.toContain('hunter2');
    expect(r.output).toContain('[REDACTED]');
    expect(JSON.stringify(sm.transcript(id))).not.toContain('hunter2');
    sm.close(id, 'tok3');
  });

  it('enforces the per-owner session limit', async () => {
    const small = new SshSessionManager({ maxSessionsPerOwner: 1 });
    try {
      await small.open(spec, sshd.credentials, { owner: 'x' });
      await expect(small.open(spec, sshd.credentials, { owner: 'x' })).rejects.toMatchObject({
        code: 'limit_exceeded',
      });
    } finally {
      small.closeAll();
    }
  });
});
