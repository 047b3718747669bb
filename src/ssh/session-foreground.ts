/**
 * Which program holds an interactive session's terminal: the shell Gatehouse set up at open, or
 * something else (python3, vim, less, a nested shell, a program that replaced the shell with
 * `exec`). Input written while something else holds the terminal is input to THAT program, and
 * must not be judged as a bash line.
 *
 * How: never from the session's own output (a program can print anything, including a fake
 * prompt). A second channel on the session's own SSH connection runs a small probe loop that
 * reads the kernel's view on request: `/proc/PID/stat` of the shell (its comm, process group, the
 * terminal's foreground process group `tpgid`, and the code/stack start addresses that change on
 * every exec), the stat of the foreground group's leader (its name for the person who approves),
 * the shell's children (`/proc/PID/task/PID/children`) and the terminal's settings (`stty -g`).
 * Without /proc it falls back to `ps`. One probe is one round trip on a channel opened once per
 * session (about 5 ms on a loaded loopback test machine: shell builtins and one `stty`), not a
 * new exec (which costs 50+ ms: sshd forks, the login shell starts and reads its rc files).
 *
 * The shell is "at its prompt" only when ALL of these hold (anything else, and anything that
 * cannot be read or parsed, is "not at the shell": fail closed):
 * - the shell process still exists, is not stopped, and still has the comm, process group and
 *   session it had right after setup;
 * - its code and stack start addresses are unchanged (with ASLR, any exec, even `exec bash`,
 *   moves them; a shell replaced by a fresh one would have aliases, history and readline back);
 * - the terminal's foreground process group is the shell's own group;
 * - no child of the shell is in the shell's group (with job control on, every job gets its own
 *   group; a child in the shell's group means job control was turned off and that child may be
 *   reading the terminal);
 * - the terminal does not rewrite typed text before the shell reads it (`stty -g` on the shell's
 *   own terminal, read-only): no line-editing or signal character is a printable character, a
 *   tab, a newline or a byte >= 0x80 (`stty kill '#'` would make `ls #rm -rf ~` reach the shell as
 *   `rm -rf ~`; the guard already sends every other control character to a person), and no input
 *   mapping that changes characters is on (IUCLC/XCASE upper-to-lower, ISTRIP, INLCR, IGNCR).
 *
 * Forgery: the probe is a process of the same account, so an agent could try to write fake
 * answers into its output pipe (`/proc/PID/fd/1`) or steal its requests from `/proc/PID/fd/0`.
 * Every request carries a fresh random nonce, and every answer must start and end with a
 * per-session key that was handed to the probe over its stdin at start (before the agent's first
 * send) and never appears in its arguments, environment or the agent's output. Answers must come
 * in order, one per request, in time. An answer without the key, any stray line, or an answer that
 * does not come (stolen from the pipe: reading a pipe consumes what it reads, so learning the key
 * that way makes an answer go missing) marks the probe as failed: from then on every probe answers
 * "not at the shell". Not covered: reading the key out of the probe's memory (/proc/PID/mem; same
 * account, blocked by Yama ptrace_scope >= 1, Ubuntu's default), and rc files the agent rewrote
 * (the probe runs through the login shell, which may source ~/.bashrc, like every ssh_exec):
 * an agent that can do either already runs code of its own unguarded.
 *
 * Remaining race (documented, bounded): between a probe that says "at the shell" and the write, a
 * background job could take the terminal (tcsetpgrp with SIGTTOU ignored). The window is one
 * probe round trip, because SshSessionManager.send re-probes inside the session's send queue
 * immediately before writing (not when the gate judged the input, which may be minutes earlier
 * while a person approves); and such a job had to be started by an earlier send that the guard
 * judged. Not detected: a process that is not a child of the shell but joined the shell's process
 * group with setpgid (it needs its own code running in the session), and, on hosts without ASLR
 * or in the `ps` fallback (no /proc), a shell replaced by `exec bash` (comm unchanged); the `ps`
 * fallback also cannot read the terminal settings.
 */
import { randomBytes } from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import { cutText } from '../core/index.js';

/** What holds the session's terminal. */
export type Foreground =
  | { atShell: true }
  | {
      atShell: false;
      /** Name of the program (its comm), or 'unknown'. */
      program: string;
      /** Its pid (the foreground process group id), or 0 when unknown. */
      pid: number;
      /** Why it is not the shell, for the person who approves. */
      reason: string;
    };

/** The fields of /proc/PID/stat the decision uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  pgrp: number;
  session: number;
  tpgid: number;
  /** 0 when the kernel hides it (no permission) or in the ps fallback. */
  startcode: number;
  startstack: number;
}

export interface ProbeSample {
  mode: 'proc' | 'ps';
  shell?: ProcStat;
  /** The foreground group's leader, when it is not the shell's group and still exists. */
  fg?: { pid: number; comm: string };
  /** The shell's children, when the kernel offers /proc/PID/task/PID/children. */
  children?: ProcStat[];
  /** The terminal's settings (`stty -g` of the shell's terminal), when readable. */
  termios?: Termios;
}

export interface Termios {
  iflag: number;
  lflag: number;
  /** c_cc, indexed as in Linux termios.h. */
  cc: number[];
}

/** The shell as it was right after setup: later samples must match it. */
export interface ShellBaseline {
  pid: number;
  comm: string;
  pgrp: number;
  session: number;
  startcode: number;
  startstack: number;
  /** Whether the terminal's settings could be read at open (then they must stay readable). */
  termios: boolean;
}

/** Parses one /proc/PID/stat line. The comm may contain spaces and ')': it ends at the LAST ') '. */
export function parseStat(line: string): ProcStat | undefined {
  const open = line.indexOf(' (');
  const close = line.lastIndexOf(') ');
  if (open <= 0 || close < open) return undefined;
  const pid = Number(line.slice(0, open));
  const comm = line.slice(open + 2, close);
  const f = line.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field k is f[k - 3].
  if (f.length < 26 || !Number.isSafeInteger(pid)) return undefined;
  const num = (k: number) => {
    const v = Number(f[k - 3]);
    return Number.isFinite(v) ? v : NaN;
  };
  const st: ProcStat = {
    pid,
    comm,
    state: f[0] ?? '',
    pgrp: num(5),
    session: num(6),
    tpgid: num(8),
    startcode: num(26),
    startstack: num(28),
  };
  if ([st.pgrp, st.session, st.tpgid, st.startcode, st.startstack].some((v) => Number.isNaN(v))) return undefined;
  return st;
}

/** Parses GNU/busybox `stty -g`: iflag:oflag:cflag:lflag:cc0:cc1:… in hex. */
export function parseSttyG(text: string): Termios | undefined {
  const f = text.trim().split(':');
  if (f.length < 4 + 17 || f.some((x) => !/^[0-9a-fA-F]{1,8}$/.test(x))) return undefined;
  const [iflag, , , lflag, ...cc] = f.map((x) => parseInt(x, 16));
  if (iflag === undefined || lflag === undefined) return undefined;
  return { iflag, lflag, cc };
}

// Linux termios.h (octal there): input mappings that change the characters the shell reads.
const ISTRIP = 0o40;
const INLCR = 0o100;
const IGNCR = 0o200;
const IUCLC = 0o1000;
const XCASE = 0o4;
/** c_cc slots holding characters (VTIME=5 and VMIN=6 hold numbers). */
const CC_NAMES: Record<number, string> = {
  0: 'intr',
  1: 'quit',
  2: 'erase',
  3: 'kill',
  4: 'eof',
  7: 'swtc',
  8: 'start',
  9: 'stop',
  10: 'susp',
  11: 'eol',
  12: 'rprnt',
  13: 'discard',
  14: 'werase',
  15: 'lnext',
  16: 'eol2',
};

/**
 * Why typed text would not reach the shell as written, or undefined when it would. A special
 * character is safe when disabled (0) or a control character other than tab and newline: every
 * such character in an input already sends it to a person (guard rule parse.control-chars).
 */
export function termiosProblem(t: Termios): string | undefined {
  const maps = [
    [IUCLC, 'iuclc'],
    [ISTRIP, 'istrip'],
    [INLCR, 'inlcr'],
    [IGNCR, 'igncr'],
  ] as const;
  for (const [bit, name] of maps) if (t.iflag & bit) return `the terminal rewrites typed characters (stty ${name})`;
  if (t.lflag & XCASE) return 'the terminal rewrites typed characters (stty xcase)';
  for (const [i, name] of Object.entries(CC_NAMES)) {
    const v = t.cc[Number(i)];
    if (v === undefined) return 'the terminal settings could not be read';
    const safe = v === 0 || v === 0x7f || (v < 0x20 && v !== 0x09 && v !== 0x0a);
    if (!safe)
      return `the terminal's ${name} character was changed to ${JSON.stringify(String.fromCharCode(v))} (stty): typed text would be edited before the shell reads it`;
  }
  return undefined;
}

/** `ps -o pid= -o pgid= -o tpgid= -o comm=` line (the fallback without /proc). */
function parsePsShell(line: string): ProcStat | undefined {
  const [, pid, pgrp, tpgid, comm] = /^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(.+)$/.exec(line) ?? [];
  if (comm === undefined) return undefined;
  return {
    pid: Number(pid),
    comm: comm.trim(),
    state: 'S',
    pgrp: Number(pgrp),
    session: 0,
    tpgid: Number(tpgid),
    startcode: 0,
    startstack: 0,
  };
}

/**
 * The probe loop, run by the login shell on the session's connection. It reads the key first,
 * then one nonce per request. POSIX sh; builtins only on the /proc path (no fork per request).
 */
export function probeScript(shellPid: number, mode: 'auto' | 'ps'): string {
  if (!Number.isSafeInteger(shellPid) || shellPid <= 1) throw new Error('bad shell pid');
  const useProc = mode === 'auto' ? '[ -r /proc/self/stat ]' : 'false';
  return [
    'IFS= read -r k || exit 0',
    // Everything before this line (an rc file that prints for every shell) is ignored.
    'printf \'R %s\\n\' "$k"',
    `p=${shellPid}`,
    'while IFS= read -r n; do',
    "  case $n in ''|*[!0-9a-f]*) exit 1;; esac",
    '  printf \'H %s %s\\n\' "$k" "$n"',
    `  if ${useProc}; then`,
    '    if IFS= read -r s < /proc/$p/stat; then',
    '      printf \'S %s\\n\' "$s"',
    // Read-only: tcgetattr on the shell's own terminal, reopened through its fd 0.
    '      if g=$(stty -g < /proc/$p/fd/0); then printf \'Q %s\\n\' "$g"; fi',
    '      r=${s##*) }; set -f; set -- $r; set +f',
    '      t=$6',
    '      if [ "$t" != "$3" ]; then',
    "        case $t in ''|*[!0-9]*) ;; *) if IFS= read -r f < /proc/$t/stat; then printf 'F %s\\n' \"$f\"; fi;; esac",
    '      fi',
    '      c=/proc/$p/task/$p/children',
    '      if [ -r $c ]; then',
    '        l=; IFS= read -r l < $c',
    "        printf 'C\\n'",
    '        for i in $l; do if IFS= read -r x < /proc/$i/stat; then printf \'K %s\\n\' "$x"; fi; done',
    '      fi',
    '    fi',
    '  else',
    '    ps -o pid= -o pgid= -o tpgid= -o comm= -p $p | while IFS= read -r x; do printf \'P %s\\n\' "$x"; done',
    '    t=$(ps -o tpgid= -p $p); t=${t##* }',
    "    case $t in ''|*[!0-9]*) ;; *) ps -o pid= -o comm= -p $t | while IFS= read -r x; do printf 'G %s\\n' \"$x\"; done;; esac",
    '  fi',
    '  printf \'E %s %s\\n\' "$k" "$n"',
    'done 2>/dev/null',
  ].join('\n');
}

/** Parses one answer block (the lines between H and E, both excluded). Undefined = not understood. */
export function parseSample(lines: string[]): ProbeSample | undefined {
  const sample: ProbeSample = { mode: 'proc' };
  for (const line of lines) {
    const tag = cutText(line, 2);
    const rest = line.slice(2);
    if (line === 'C') {
      sample.children ??= [];
      continue;
    }
    switch (tag) {
      case 'S ': {
        if (sample.shell) return undefined;
        const st = parseStat(rest);
        if (!st) return undefined;
        sample.shell = st;
        break;
      }
      case 'F ': {
        const st = parseStat(rest);
        if (!st || sample.fg) return undefined;
        sample.fg = { pid: st.pid, comm: st.comm };
        break;
      }
      case 'K ': {
        const st = parseStat(rest);
        if (!st || !sample.children) return undefined;
        sample.children.push(st);
        break;
      }
      case 'P ': {
        if (sample.shell) return undefined;
        const st = parsePsShell(rest);
        if (!st) return undefined;
        sample.mode = 'ps';
        sample.shell = st;
        break;
      }
      case 'Q ': {
        const t = parseSttyG(rest);
        if (!t || sample.termios) return undefined;
        sample.termios = t;
        break;
      }
      case 'G ': {
        const [, pid, comm] = /^\s*(\d+)\s+(.+)$/.exec(rest) ?? [];
        if (comm === undefined || sample.fg) return undefined;
        sample.fg = { pid: Number(pid), comm: comm.trim() };
        break;
      }
      default:
        return undefined;
    }
  }
  return sample;
}

function notAtShell(program: string, pid: number, reason: string): Foreground {
  return { atShell: false, program, pid, reason };
}

/**
 * The decision. INVARIANT: `atShell: true` only when every condition in the header holds;
 * everything else, including a sample that is missing or incomplete, is not at the shell.
 */
export function judgeForeground(base: ShellBaseline, sample: ProbeSample | undefined): Foreground {
  if (!sample) return notAtShell('unknown', 0, "the terminal's foreground could not be determined");
  const sh = sample.shell;
  if (!sh || sh.pid !== base.pid) return notAtShell('unknown', 0, "the session's shell is gone");
  if (sh.comm !== base.comm)
    return notAtShell(sh.comm || 'unknown', sh.pid, `the shell was replaced by ${sh.comm || 'another program'} (exec)`);
  if (sample.mode === 'proc') {
    if (sh.session !== base.session) return notAtShell(sh.comm, sh.pid, 'the shell left its session');
    if (base.startcode !== 0 && (sh.startcode !== base.startcode || sh.startstack !== base.startstack)) {
      return notAtShell(sh.comm, sh.pid, 'the shell was replaced by a new program image (exec)');
    }
  }
  if (sh.pgrp !== base.pgrp) return notAtShell(sh.comm, sh.pid, 'the shell changed its process group');
  if (sh.state === 'T' || sh.state === 't' || sh.state === 'Z' || sh.state === 'X')
    return notAtShell(sh.comm, sh.pid, `the shell is not running (state ${sh.state})`);
  if (sh.tpgid !== sh.pgrp) {
    if (sh.tpgid <= 0) return notAtShell('unknown', 0, 'the terminal has no foreground process group');
    const name = sample.fg && sample.fg.pid === sh.tpgid ? sample.fg.comm : 'unknown';
    return notAtShell(name || 'unknown', sh.tpgid, `${name || 'another program'} holds the terminal`);
  }
  const inShellGroup = sample.children?.find((c) => c.pgrp === sh.pgrp);
  if (inShellGroup)
    return notAtShell(
      inShellGroup.comm || 'unknown',
      inShellGroup.pid,
      `${inShellGroup.comm} runs in the shell's own process group (job control is off)`,
    );
  if (base.termios) {
    if (!sample.termios) return notAtShell(sh.comm, sh.pid, 'the terminal settings could not be read');
    const problem = termiosProblem(sample.termios);
    if (problem) return notAtShell(sh.comm, sh.pid, problem);
  }
  return { atShell: true };
}

/** Whether two answers describe the same holder of the terminal. */
export function sameForeground(a: Foreground, b: Foreground): boolean {
  if (a.atShell || b.atShell) return a.atShell === b.atShell;
  return a.pid === b.pid && a.program === b.program;
}

export function describeForeground(f: Foreground): string {
  return f.atShell
    ? 'the shell (bash)'
    : f.pid > 0
      ? `${f.program} (pid ${f.pid})`
      : `an unknown program (${f.reason})`;
}

interface Pending {
  nonce: string;
  resolve: (s: ProbeSample | undefined) => void;
  timer: NodeJS.Timeout;
}

/**
 * The probe loop on its own channel. Requests are answered in order, one answer per request.
 *
 * INVARIANT: the probe is trusted only while its channel carries exactly the answers to our
 * requests, in order, each framed with the key. Anything else (a line without the key, a line
 * outside an answer, an answer to another nonce, an answer that does not come in time: stolen
 * from the pipe, or the probe stopped) marks it failed for good, and every later probe answers
 * undefined (not at the shell). Reading the pipe is destructive, so an agent that steals an
 * answer to learn the key also makes that answer go missing, which ends the probe's trust.
 */
export class ShellProbe {
  private readonly key = randomBytes(24).toString('hex');
  /** Requests in the order they were written; answers must come back in that order. */
  private readonly queue: Pending[] = [];
  private lines: string[] | undefined;
  private carry = '';
  private ready = false;
  private failure: string | undefined;

  private constructor(private readonly channel: ClientChannel) {
    channel.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    channel.stderr.on('data', () => {});
    channel.on('error', () => {});
    channel.on('close', () => this.fail('the terminal watch stopped'));
  }

  /** Opens the probe channel on `client` for the shell `shellPid`. Throws when the channel cannot open. */
  static async start(client: Client, shellPid: number, mode: 'auto' | 'ps', timeoutMs: number): Promise<ShellProbe> {
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('probe channel open timed out')), timeoutMs);
      client.exec(probeScript(shellPid, mode), (err, ch) => {
        clearTimeout(t);
        if (err) reject(err);
        else resolve(ch);
      });
    });
    const probe = new ShellProbe(channel);
    // INVARIANT: the key goes over stdin only, never in the command line or the environment.
    channel.write(probe.key + '\n');
    return probe;
  }

  /** Why the probe is no longer trusted, or undefined while it is. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** One sample, or undefined when it cannot be had within timeoutMs (fail closed). */
  sample(timeoutMs: number): Promise<ProbeSample | undefined> {
    if (this.failure) return Promise.resolve(undefined);
    const nonce = randomBytes(16).toString('hex');
    return new Promise((resolve) => {
      const p: Pending = {
        nonce,
        resolve,
        timer: setTimeout(
          () => this.fail('the terminal watch did not answer in time (stopped, or its answer was taken)'),
          timeoutMs,
        ),
      };
      this.queue.push(p);
      try {
        this.channel.write(nonce + '\n');
      } catch {
        this.fail('the terminal watch stopped');
      }
    });
  }

  close(): void {
    this.fail('the session closed');
    try {
      this.channel.close();
    } catch {
      /* gone */
    }
  }

  private fail(reason: string): void {
    this.failure ??= reason;
    for (const p of this.queue.splice(0)) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
  }

  private onData(text: string): void {
    if (this.failure) return;
    this.carry += text;
    if (this.carry.length > 256 * 1024) return this.fail('the terminal watch sent too much');
    let nl: number;
    while ((nl = this.carry.indexOf('\n')) >= 0) {
      const line = this.carry.slice(0, nl);
      this.carry = this.carry.slice(nl + 1);
      this.onLine(line);
      if (this.failure) return;
    }
  }

  private onLine(line: string): void {
    if (!this.ready) {
      // Output of the account's rc files (sourced by bash for every ssh command) comes first.
      if (line === `R ${this.key}`) this.ready = true;
      return;
    }
    const tampered = 'the terminal watch was tampered with';
    const head = /^([HE]) (\S+) ([0-9a-f]{32})$/.exec(line);
    const expected = this.queue[0];
    if (!this.lines) {
      // INVARIANT: outside an answer, only the header of the answer we wait for is accepted.
      if (!head || head[1] !== 'H' || head[2] !== this.key || !expected || head[3] !== expected.nonce)
        return this.fail(tampered);
      this.lines = [];
      return;
    }
    if (head) {
      if (head[1] !== 'E' || head[2] !== this.key || !expected || head[3] !== expected.nonce)
        return this.fail(tampered);
      const lines = this.lines;
      this.lines = undefined;
      this.queue.shift();
      clearTimeout(expected.timer);
      expected.resolve(parseSample(lines));
      return;
    }
    if (this.lines.length > 256) return this.fail(tampered);
    this.lines.push(line);
  }
}
