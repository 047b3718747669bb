/**
 * The sandbox's limits as one run applies them: how each is enforced on this host, the prlimit
 * arguments that set the rlimits, and the message an agent reads when one is hit.
 */
import { findProgram } from './availability.js';
import type { SandboxLimitName, SandboxLimits } from './profile.js';

export type Enforcement = 'cgroup' | 'rlimit' | 'cgroup+rlimit' | 'gatehouse' | 'none';

export interface AppliedLimits extends SandboxLimits {
  /** How each limit is enforced in this run ('none' = configured but not enforceable here). */
  enforcement: Record<SandboxLimitName, Enforcement>;
}

/** Builds the applied-limits record for this host. */
export function appliedLimits(
  limits: SandboxLimits,
  opts: { sandboxed: boolean; cgroup: boolean; wallSeconds: number },
): AppliedLimits {
  const rl: Enforcement = findProgram('prlimit') ? 'rlimit' : 'none';
  return {
    ...limits,
    wallSeconds: opts.wallSeconds,
    enforcement: {
      memory: opts.cgroup ? 'cgroup' : 'none',
      cpu: opts.cgroup ? (rl === 'rlimit' ? 'cgroup+rlimit' : 'cgroup') : rl,
      processes: opts.cgroup ? 'cgroup' : 'none',
      file_size: rl,
      wall_time: 'gatehouse',
      output: 'gatehouse',
    },
  };
}

export function prlimitArgs(l: SandboxLimits): string[] {
  const cpu = Math.max(1, Math.ceil(l.cpuSeconds));
  // Soft at the limit (SIGXCPU, which says why), hard one second later (SIGKILL if SIGXCPU is caught).
  // nofile stays >= 64: node segfaults below that.
  return [`--cpu=${cpu}:${cpu + 1}`, `--fsize=${l.fileSizeBytes}`, '--nofile=4096:4096', '--core=0'];
}

function fmtBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function limitMessage(limit: SandboxLimitName, l: SandboxLimits, wall: number): string {
  switch (limit) {
    case 'memory':
      return `memory limit of ${fmtBytes(l.memoryBytes)} exceeded: the sandbox was OOM-killed`;
    case 'cpu':
      return `CPU time limit of ${l.cpuSeconds} s exceeded: the process was killed`;
    case 'processes':
      return `process limit of ${l.processes} reached: further forks were refused`;
    case 'file_size':
      return `file size limit of ${fmtBytes(l.fileSizeBytes)} exceeded: the write was refused and the process killed`;
    case 'wall_time':
      return `wall time limit of ${wall} s exceeded: the sandbox and all its processes were killed`;
    case 'output':
      return `output limit of ${fmtBytes(l.outputBytes)} exceeded: output was cut there and the sandbox killed`;
  }
}
