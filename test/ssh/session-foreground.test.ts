/**
 * Issue 21 item 3, the session side: knowing which program holds the terminal, from the kernel's
 * view on a second channel (never from the output), and never writing input that was judged as
 * a bash line to any other program.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshSessionManager, type Foreground, type SshTargetSpec } from '../../src/ssh/index.js';
import {
  judgeForeground,
  parseSample,
  parseStat,
  parseSttyG,
  termiosProblem,
  type ShellBaseline,
} from '../../src/ssh/session-foreground.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh session foreground'));

/** Polls foreground() until it satisfies `ok` (bounded): waits on the remote state, asserts nothing about time. */
async function until(
  sm: SshSessionManager,
  id: string,
  owner: string,
  ok: (f: Foreground) => boolean,
): Promise<Foreground> {
  let f = await sm.foreground(id, owner);
  for (let i = 0; i < 200 && !ok(f); i++) {
    await new Promise((r) => setTimeout(r, 25));
    f = await sm.foreground(id, owner);
  }
  return f;
}

const notShell = (program: string) => (f: Foreground) => !f.atShell && f.program === program;

describe.skipIf(skip)('which program holds the session terminal (real sshd, bash login shell)', () => {
  let sshd: SshdHandle;
  let spec: SshTargetSpec;
  let sm: SshSessionManager;

  beforeAll(async () => {
    sshd = await startSshd({ loginShell: 'bash' });
    spec = sshd.spec('box');
    sm = new SshSessionManager({});
  });
  afterAll(async () => {
    sm?.closeAll();
    await sshd?.dispose();
  });

  it('foreground() says atShell at the prompt, and python3 / cat / sleep (with pid) while one runs', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg1' });
    expect(await sm.foreground(id, 'fg1')).toEqual({ atShell: true });

    await sm.send(id, 'fg1', 'sleep 60', { timeoutS: 0.2 });
    const sleep = await until(sm, id, 'fg1', notShell('sleep'));
    expect(sleep).toMatchObject({ atShell: false, program: 'sleep' });
    expect((sleep as { pid: number }).pid).toBeGreaterThan(1);
    sm.signal(id, 'fg1', 'INT');
    expect(await until(sm, id, 'fg1', (f) => f.atShell)).toEqual({ atShell: true });

    const py = await sm.send(id, 'fg1', 'python3 -q', { waitFor: '>>> ', timeoutS: 10 });
    expect(py.matched).toBe(true);
    const f = await sm.foreground(id, 'fg1');
    expect(f).toMatchObject({ atShell: false, program: 'python3' });
    // The pid is python's: input sent for it goes to exactly that process.
    const pid = (f as { pid: number }).pid;
    const who = await sm.send(id, 'fg1', 'import os; print("PID", os.getpid())', {
      expect: f,
      waitFor: /PID \d+/,
      timeoutS: 10,
    });
    expect(who.output).toContain(`PID ${pid}`);
    await sm.send(id, 'fg1', 'exit()', { expect: f, timeoutS: 0.3 });
    expect(await until(sm, id, 'fg1', (x) => x.atShell)).toEqual({ atShell: true });

    await sm.send(id, 'fg1', 'cat', { timeoutS: 0.2 });
    expect(await until(sm, id, 'fg1', notShell('cat'))).toMatchObject({ atShell: false, program: 'cat' });
    sm.close(id, 'fg1');
  });

  it('input judged as a bash line is refused while python3 holds the terminal; sent once judged as input to python3', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg2' });
    expect((await sm.send(id, 'fg2', 'python3 -q', { waitFor: '>>> ', timeoutS: 10 })).matched).toBe(true);
    const line = 'import os; os.system("echo PWNED-$((6*7))")';
    // Without `expect` the input counts as judged for the shell (how the gate judges it today).
    await expect(sm.send(id, 'fg2', line, { waitFor: 'PWNED-42', timeoutS: 2 })).rejects.toMatchObject({
      code: 'denied',
    });
    const later = await sm.send(id, 'fg2', line, { expect: { atShell: true }, timeoutS: 0.5 }).catch((e: unknown) => e);
    expect(later).toMatchObject({ code: 'denied' });
    expect((later as Error).message).toMatch(/python3 \(pid \d+\) holds the session's terminal/);
    expect(sm.read(id, 'fg2', { since: 0 }).output).not.toContain('PWNED-42');
    const t = sm.transcript(id)!;
    expect(t.entries.filter((e) => e.dir === 'in').map((e) => e.data)).toEqual(['python3 -q\n']);
    expect(t.entries.some((e) => e.dir === 'event' && e.data.startsWith('input refused'))).toBe(true);
    // After a person approved it as input to python3, it goes to python3.
    const fg = await sm.foreground(id, 'fg2');
    const ok = await sm.send(id, 'fg2', line, { expect: fg, waitFor: 'PWNED-42', timeoutS: 10 });
    expect(ok.matched).toBe(true);
    expect(
      sm.transcript(id)!.entries.find((e) => e.dir === 'in' && e.data.startsWith('import os'))?.foreground,
    ).toMatchObject({ atShell: false, program: 'python3' });
    sm.close(id, 'fg2');
  });

  it('a send queued behind one that starts a program is checked when it is written, not when it was judged', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg3' });
    // Both judged while the shell is at its prompt; the second reaches the terminal after python3 took it.
    const first = sm.send(id, 'fg3', 'python3 -q', { waitFor: '>>> ', timeoutS: 10 });
    const second = sm.send(id, 'fg3', 'import os; os.system("echo QUEUED-$((7*6))")', {
      expect: { atShell: true },
      timeoutS: 2,
    });
    expect((await first).matched).toBe(true);
    await expect(second).rejects.toMatchObject({ code: 'denied' });
    expect(sm.read(id, 'fg3', { since: 0 }).output).not.toContain('QUEUED-42');
    sm.close(id, 'fg3');
  });

  it('a fake prompt printed by a program does not fool it', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg4' });
    const r = await sm.send(id, 'fg4', `printf 'ready\\n$ '; cat`, { waitFor: /ready\n\$ $/, timeoutS: 10 });
    expect(r.matched).toBe(true); // the output looks exactly like the shell's prompt…
    expect(await until(sm, id, 'fg4', notShell('cat'))).toMatchObject({ atShell: false, program: 'cat' }); // …but cat holds the terminal
    await expect(sm.send(id, 'fg4', 'echo through-cat', { timeoutS: 0.5 })).rejects.toMatchObject({ code: 'denied' });
    sm.close(id, 'fg4');
  });

  it('after `exec sh` the shell is gone: not at the shell; `exec bash` (a fresh, unset-up bash) is caught too', async () => {
    const a = await sm.open(spec, sshd.credentials, { owner: 'fg5' });
    await sm.send(a.id, 'fg5', 'exec sh', { timeoutS: 0.3 });
    const f = await until(sm, a.id, 'fg5', (x) => !x.atShell);
    expect(f).toMatchObject({ atShell: false, program: 'sh' });
    expect((f as { reason: string }).reason).toMatch(/replaced/);
    await expect(sm.send(a.id, 'fg5', 'echo hi', { timeoutS: 0.5 })).rejects.toMatchObject({ code: 'denied' });
    sm.close(a.id, 'fg5');

    const b = await sm.open(spec, sshd.credentials, { owner: 'fg5' });
    await sm.send(b.id, 'fg5', 'exec bash', { timeoutS: 0.3 });
    const g = await until(sm, b.id, 'fg5', (x) => !x.atShell);
    expect(g).toMatchObject({ atShell: false, program: 'bash' });
    expect((g as { reason: string }).reason).toMatch(/new program image/);
    sm.close(b.id, 'fg5');
  });

  it("with job control turned off, a program running in the shell's own process group is not the shell", async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg6' });
    await sm.send(id, 'fg6', 'set +m; sleep 60', { timeoutS: 0.2 });
    // tpgid is the shell's own group now; the child in that group gives it away.
    const f = await until(sm, id, 'fg6', notShell('sleep'));
    expect(f).toMatchObject({ atShell: false, program: 'sleep' });
    expect((f as { reason: string }).reason).toMatch(/job control is off/);
    sm.close(id, 'fg6');
  });

  it('several lines judged as bash are read by bash whole: line 2 never reaches the program line 1 starts', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg7' });
    // Without grouping, cat would start and read line 2 from the terminal, echoing it back.
    await sm.send(id, 'fg7', 'cat\necho LINE2-$((40+2))', { timeoutS: 0.3 });
    expect(await until(sm, id, 'fg7', notShell('cat'))).toMatchObject({ program: 'cat' });
    sm.signal(id, 'fg7', 'INT');
    expect(await until(sm, id, 'fg7', (f) => f.atShell)).toEqual({ atShell: true });
    const r = await sm.send(id, 'fg7', 'echo DONE-$((1+1))', { waitFor: 'DONE-2', timeoutS: 10 });
    expect(r.matched).toBe(true);
    const all = sm.read(id, 'fg7', { since: 0 }).output;
    expect(all).not.toContain('echo LINE2');
    // A whole group runs normally.
    const g = await sm.send(id, 'fg7', 'x=$((20+1))\necho GROUP-$((x*2))', { waitFor: 'GROUP-42', timeoutS: 10 });
    expect(g.matched).toBe(true);
    sm.close(id, 'fg7');
  });

  it('a line longer than the terminal passes whole is refused; one of exactly 4095 bytes arrives whole', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg8' });
    // The kernel would drop the rest of the line and run `echo xxx…` without ` END`.
    const e = await sm
      .send(id, 'fg8', `echo ${'x'.repeat(5000)} END-$((1+1))`, { waitFor: 'END-2', timeoutS: 2 })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'invalid_input' });
    expect(sm.transcript(id)!.entries.filter((x) => x.dir === 'in')).toEqual([]);
    const line = `echo ${'y'.repeat(4095 - 'echo '.length - ' Z-$((1+1))'.length)} Z-$((1+1))`;
    expect(Buffer.byteLength(line)).toBe(4095);
    const ok = await sm.send(id, 'fg8', line, { waitFor: 'Z-2', timeoutS: 10 });
    expect(ok.matched).toBe(true);
    // Multi-byte characters count as bytes, as the terminal counts them.
    await expect(sm.send(id, 'fg8', `echo ${'é'.repeat(2100)}`)).rejects.toMatchObject({ code: 'invalid_input' });
    sm.close(id, 'fg8');
  });

  it('the ps fallback (no /proc) tells the shell from a running program too', async () => {
    const ps = new SshSessionManager({ foregroundProbe: 'ps' });
    try {
      const { id } = await ps.open(spec, sshd.credentials, { owner: 'fg9' });
      expect(
        ps
          .transcript(id)!
          .entries.some((e) => e.data === 'terminal watch: ps (unavailable: exec detection, terminal settings)'),
      ).toBe(true);
      expect(await ps.foreground(id, 'fg9')).toEqual({ atShell: true });
      await ps.send(id, 'fg9', 'sleep 60', { timeoutS: 0.2 });
      expect(await until(ps, id, 'fg9', notShell('sleep'))).toMatchObject({ atShell: false, program: 'sleep' });
    } finally {
      ps.closeAll();
    }
  });

  it("a forged answer written into the watcher's output marks it tampered: from then on never at the shell", async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg10' });
    // The agent finds the watcher (same account) and writes a fake "at the shell" answer into its stdout.
    const forge =
      "for p in $(pgrep -u \"$(id -u)\" -f 'IFS= read -r k'); do printf 'H fakekey 0123456789abcdef0123456789abcdef\\nE fakekey 0123456789abcdef0123456789abcdef\\n' > /proc/$p/fd/1 && echo FORGED-$p; done";
    const r = await sm.send(id, 'fg10', forge, { waitFor: 'FORGED-', timeoutS: 10 });
    expect(r.matched).toBe(true);
    const f = await until(sm, id, 'fg10', (x) => !x.atShell);
    expect(f).toMatchObject({ atShell: false, program: 'unknown' });
    expect((f as { reason: string }).reason).toMatch(/tampered/);
    await expect(sm.send(id, 'fg10', 'echo hi', { timeoutS: 0.5 })).rejects.toMatchObject({ code: 'denied' });
    sm.close(id, 'fg10');
  });

  it('a watcher that stops answering (stopped, or its answer taken from the pipe) fails closed for good', async () => {
    const quick = new SshSessionManager({ foregroundTimeoutMs: 500 });
    try {
      const { id } = await quick.open(spec, sshd.credentials, { owner: 'fg13' });
      const stop = await quick.send(
        id,
        'fg13',
        'kill -STOP $(pgrep -u "$(id -u)" -f \'IFS= read -r k\') && echo STOPPED-$((1+1))',
        { waitFor: 'STOPPED-2', timeoutS: 10 },
      );
      expect(stop.matched).toBe(true);
      const f = await quick.foreground(id, 'fg13');
      expect(f).toMatchObject({
        atShell: false,
        program: 'unknown',
        reason: expect.stringMatching(/did not answer in time/),
      });
      // Resuming it does not bring trust back: an answer went missing once.
      await quick.send(id, 'fg13', 'kill -CONT $(pgrep -u "$(id -u)" -f \'IFS= read -r k\') && echo RESUMED-$((1+1))', {
        expect: f,
        waitFor: 'RESUMED-2',
        timeoutS: 10,
      });
      expect(await quick.foreground(id, 'fg13')).toMatchObject({
        atShell: false,
        reason: expect.stringMatching(/did not answer in time/),
      });
    } finally {
      quick.closeAll();
    }
  });

  it('a terminal that rewrites typed text (stty kill/erase to printable characters, iuclc) is not the shell', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg12' });
    // With `kill` set to '#', the terminal would turn `ls #rm -rf ~` into `rm -rf ~` before bash reads it.
    await sm.send(id, 'fg12', "stty kill '#'; echo DONE-$((1+1))", { waitFor: 'DONE-2', timeoutS: 10 });
    const f = await sm.foreground(id, 'fg12');
    expect(f).toMatchObject({ atShell: false, program: 'bash' });
    expect((f as { reason: string }).reason).toMatch(/kill character was changed to "#"/);
    await expect(sm.send(id, 'fg12', 'echo hi #x', { timeoutS: 0.5 })).rejects.toMatchObject({ code: 'denied' });
    // A person approved `stty sane` as input to bash (pid …): the shell is the shell again.
    await sm.send(id, 'fg12', 'stty sane -echo; echo DONE-$((1+2))', { expect: f, waitFor: 'DONE-3', timeoutS: 10 });
    expect(await sm.foreground(id, 'fg12')).toEqual({ atShell: true });
    await sm.send(id, 'fg12', 'stty iuclc; echo DONE-$((1+3))', { waitFor: 'DONE-4', timeoutS: 10 });
    expect(await sm.foreground(id, 'fg12')).toMatchObject({ atShell: false, reason: expect.stringMatching(/iuclc/) });
    sm.close(id, 'fg12');
  });

  it('foreground() is owner-checked like every other call', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'fg11' });
    await expect(sm.foreground(id, 'someone-else')).rejects.toMatchObject({ code: 'session_not_found' });
    sm.close(id, 'fg11');
    await expect(sm.foreground(id, 'fg11')).rejects.toMatchObject({ code: 'session_not_found' });
  });
});

describe('the foreground decision fails closed', () => {
  const base: ShellBaseline = {
    pid: 100,
    comm: 'bash',
    pgrp: 100,
    session: 100,
    startcode: 5000,
    startstack: 9000,
    termios: false,
  };
  // 52 fields, as the kernel prints them; fields 26 and 28 are startcode and startstack.
  const stat = (
    pid: number,
    comm: string,
    o: {
      state?: string;
      pgrp?: number;
      session?: number;
      tpgid?: number;
      startcode?: number;
      startstack?: number;
    } = {},
  ) => {
    const f = Array.from({ length: 50 }, () => '0');
    f[0] = o.state ?? 'S';
    f[2] = String(o.pgrp ?? 100);
    f[3] = String(o.session ?? 100);
    f[5] = String(o.tpgid ?? 100);
    f[23] = String(o.startcode ?? 5000);
    f[25] = String(o.startstack ?? 9000);
    return `${pid} (${comm}) ${f.join(' ')}`;
  };

  it('termios: default settings are fine; printable, tab, newline or high special characters and rewriting input maps are not', () => {
    const sane = parseSttyG('500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0')!;
    expect(termiosProblem(sane)).toBeUndefined();
    expect(termiosProblem({ ...sane, cc: sane.cc.map((v, i) => (i === 3 ? 0x23 : v)) })).toMatch(/kill/);
    expect(termiosProblem({ ...sane, cc: sane.cc.map((v, i) => (i === 14 ? 0x09 : v)) })).toMatch(/werase/);
    expect(termiosProblem({ ...sane, cc: sane.cc.map((v, i) => (i === 2 ? 0xa0 : v)) })).toMatch(/erase/);
    expect(termiosProblem({ ...sane, iflag: 0x700 })).toMatch(/iuclc/);
    expect(termiosProblem({ ...sane, iflag: 0x520 })).toMatch(/istrip/);
    expect(parseSttyG('gfmt1:cflag=4b00:iflag=2b02')).toBeUndefined();
    const withTermios = { ...base, termios: true };
    expect(judgeForeground(withTermios, parseSample([`S ${stat(100, 'bash')}`]))).toMatchObject({
      atShell: false,
      reason: expect.stringMatching(/could not be read/),
    });
  });

  it('parses a comm with spaces and ") " in it', () => {
    expect(parseStat(stat(7, 'a) b (c', { tpgid: 7 }))).toMatchObject({
      pid: 7,
      comm: 'a) b (c',
      tpgid: 7,
      startcode: 5000,
    });
    expect(parseStat('7 (x) S 1 2')).toBeUndefined();
  });

  it('at the shell only when every condition holds', () => {
    expect(judgeForeground(base, parseSample([`S ${stat(100, 'bash')}`, 'C']))).toEqual({ atShell: true });
    expect(judgeForeground(base, undefined)).toMatchObject({ atShell: false, program: 'unknown' });
    expect(judgeForeground(base, parseSample([]))).toMatchObject({ atShell: false });
    expect(
      judgeForeground(
        base,
        parseSample([`S ${stat(100, 'bash', { tpgid: 222 })}`, `F ${stat(222, 'vim', { pgrp: 222 })}`]),
      ),
    ).toMatchObject({ atShell: false, program: 'vim', pid: 222 });
    expect(judgeForeground(base, parseSample([`S ${stat(100, 'bash', { startcode: 7000 })}`]))).toMatchObject({
      atShell: false,
    });
    expect(judgeForeground(base, parseSample([`S ${stat(100, 'bash', { state: 'T' })}`]))).toMatchObject({
      atShell: false,
    });
    expect(
      judgeForeground(base, parseSample([`S ${stat(100, 'bash')}`, 'C', `K ${stat(300, 'python3')}`])),
    ).toMatchObject({ atShell: false, program: 'python3' });
    expect(judgeForeground(base, parseSample([`S ${stat(100, 'bash')}`, 'garbage']))).toMatchObject({ atShell: false });
  });

  it('property: whatever lines the probe returns, atShell means the shell matched the baseline and held the terminal', () => {
    const line = fc.oneof(
      fc.constant(`S ${stat(100, 'bash')}`),
      fc
        .record({
          pid: fc.constantFrom(100, 101),
          comm: fc.constantFrom('bash', 'sh', 'python3'),
          tpgid: fc.constantFrom(100, 200, -1),
          pgrp: fc.constantFrom(100, 200),
          startcode: fc.constantFrom(5000, 6000),
        })
        .map((r) => `S ${stat(r.pid, r.comm, r)}`),
      fc.constant('C'),
      fc
        .record({ pid: fc.integer({ min: 2, max: 999 }), pgrp: fc.constantFrom(100, 300) })
        .map((r) => `K ${stat(r.pid, 'child', { pgrp: r.pgrp })}`),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
        const sample = parseSample(lines);
        const f = judgeForeground(base, sample);
        if (!f.atShell) return true;
        const sh = sample!.shell!;
        return (
          sh.pid === 100 &&
          sh.comm === 'bash' &&
          sh.tpgid === 100 &&
          sh.pgrp === 100 &&
          sh.startcode === 5000 &&
          !(sample!.children ?? []).some((c) => c.pgrp === 100)
        );
      }),
      { seed: 2121, numRuns: 2000 },
    );
  });
});
