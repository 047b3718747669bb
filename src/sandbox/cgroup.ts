/**
 * Per-run cgroup v1 groups for memory, pids and cpuacct (this machine has no usable cgroup v2).
 * Root only. Each run gets `<controller>/gatehouse/<id>`; the launcher shell writes its own pid into
 * every group before exec'ing prlimit/setpriv/bwrap, so nothing in the sandbox ever runs outside them.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
  accessSync,
  constants,
} from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'pids', 'cpuacct'] as const;
type Controller = (typeof CONTROLLERS)[number];

export interface RunCgroup {
  id: string;
  dirs: Record<Controller, string>;
}

export function cgroupV1Available(): { ok: boolean; detail: string } {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, detail: 'not root: cgroup v1 groups cannot be created' };
  }
  for (const c of CONTROLLERS) {
    const d = join(ROOT, c);
    try {
      accessSync(d, constants.W_OK);
    } catch {
      return { ok: false, detail: `${d} is missing or not writable` };
    }
  }
  return { ok: true, detail: 'cgroup v1 memory, pids and cpuacct are writable' };
}

function write(dir: string, file: string, value: string): void {
  writeFileSync(join(dir, file), value);
}

/**
 * Removes groups left behind by a Gatehouse process that crashed. rmdir only succeeds on a group
 * with no processes, and only groups older than a minute are tried, so a run that is just starting
 * is never touched.
 */
function sweepStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const cutoff = Date.now() - 60_000;
  for (const n of names) {
    if (!/^[0-9a-f]{16}$/.test(n)) continue;
    const d = join(parent, n);
    try {
      if (statSync(d).mtimeMs < cutoff) rmdirSync(d);
    } catch {
      /* busy or gone */
    }
  }
}

export function createRunCgroup(id: string, limits: { memoryBytes: number; processes: number }): RunCgroup {
  const dirs = {} as Record<Controller, string>;
  for (const c of CONTROLLERS) {
    const parent = join(ROOT, c, 'gatehouse');
    if (!existsSync(parent)) mkdirSync(parent, { recursive: true });
    else sweepStale(parent);
    const d = join(parent, id);
    mkdirSync(d);
    dirs[c] = d;
  }
  write(dirs.memory, 'memory.limit_in_bytes', String(limits.memoryBytes));
  // With swap the limit could be dodged by swapping out; memsw exists only when swap accounting is on.
  if (existsSync(join(dirs.memory, 'memory.memsw.limit_in_bytes'))) {
    try {
      write(dirs.memory, 'memory.memsw.limit_in_bytes', String(limits.memoryBytes));
    } catch {
      /* not settable without swap accounting */
    }
  }
  write(dirs.pids, 'pids.max', String(limits.processes));
  return { id, dirs };
}

/** The shell snippet that joins all groups; the paths are ours (fixed root + hex id), safe to quote. */
export function joinScript(cg: RunCgroup): string {
  return CONTROLLERS.map((c) => `echo $$ > '${join(cg.dirs[c], 'cgroup.procs')}'`).join(' && ');
}

function readNum(file: string, key?: string): number {
  try {
    const text = readFileSync(file, 'utf8');
    if (key === undefined) return Number(text.trim()) || 0;
    for (const line of text.split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === key) return Number(v) || 0;
    }
  } catch {
    /* gone */
  }
  return 0;
}

export interface CgroupStats {
  oomKills: number;
  memoryFailcnt: number;
  pidsMaxHits: number;
  cpuNs: number;
  maxMemoryBytes: number;
}

export function readStats(cg: RunCgroup): CgroupStats {
  return {
    oomKills: readNum(join(cg.dirs.memory, 'memory.oom_control'), 'oom_kill'),
    memoryFailcnt: readNum(join(cg.dirs.memory, 'memory.failcnt')),
    pidsMaxHits: readNum(join(cg.dirs.pids, 'pids.events'), 'max'),
    cpuNs: readNum(join(cg.dirs.cpuacct, 'cpuacct.usage')),
    maxMemoryBytes: readNum(join(cg.dirs.memory, 'memory.max_usage_in_bytes')),
  };
}

export function cpuUsageNs(cg: RunCgroup): number {
  return readNum(join(cg.dirs.cpuacct, 'cpuacct.usage'));
}

function pidsIn(cg: RunCgroup): number[] {
  const seen = new Set<number>();
  for (const c of CONTROLLERS) {
    try {
      for (const l of readFileSync(join(cg.dirs[c], 'cgroup.procs'), 'utf8').split('\n')) {
        const n = Number(l);
        if (n > 0) seen.add(n);
      }
    } catch {
      /* removed */
    }
  }
  return [...seen];
}

/** SIGKILLs everything left in the groups (v1 has no cgroup.kill), looping until they are empty. */
export async function killAll(cg: RunCgroup): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 100; round++) {
    const pids = pidsIn(cg);
    if (pids.length === 0) return killed;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
        killed++;
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, round < 10 ? 5 : 50));
  }
  return killed;
}

export function isEmpty(cg: RunCgroup): boolean {
  return pidsIn(cg).length === 0;
}

export async function removeRunCgroup(cg: RunCgroup): Promise<void> {
  await killAll(cg);
  for (const c of CONTROLLERS) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(cg.dirs[c]);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}
