/**
 * deny_exec: which host files must be masked so a denied program cannot run inside the sandbox.
 *
 * Layer that holds: every path that reaches the program's bytes inside the sandbox is covered by a
 * read-only stub (a tiny script that prints why and exits 126). That covers the PATH entries, the
 * merged-/usr aliases (/bin is a symlink to usr/bin, recreated as a symlink inside so it resolves
 * to the masked file), the realpath behind symlink chains (/etc/alternatives, /usr/bin/x -> ../lib/..),
 * and hardlinks of the same inode in the standard bin directories. Because the bytes are masked, a
 * copy made inside the sandbox is a copy of the stub, and an interpreter (python3 -c, perl -e,
 * sh FILE, ld.so FILE) that opens any of these paths gets the stub.
 *
 * What does not hold (documented in the report): programs the agent brings its own bytes for (it
 * can write any file into the workspace), multi-call binaries (busybox wget), libraries behind a
 * program (libcurl via ctypes), and the inner modules of script programs (only the entry file is
 * masked). The network policy, not deny_exec, is what stops network use.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export const STANDARD_BIN_DIRS: readonly string[] = Object.freeze([
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
  '/usr/libexec',
]);

function statOrNull(p: string): { dev: number; ino: number; nlink: number; isFile: boolean } | null {
  try {
    const s = statSync(p);
    return { dev: s.dev, ino: s.ino, nlink: s.nlink, isFile: s.isFile() };
  } catch {
    return null;
  }
}

/** The real path of `p`, or null when it does not exist or cannot be resolved. */
export function realOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

export interface DenyExecTarget {
  /** The program as configured (a name or an absolute path). */
  program: string;
  /** Host realpaths to mask (each is what a path inside the sandbox resolves to). */
  paths: string[];
}

/**
 * Resolves every denied program to the set of real files to mask. `binDirs` are searched for bare
 * names; hardlinks (same dev+inode) in those directories are added too.
 */
export function resolveDenyExec(
  programs: readonly string[],
  binDirs: readonly string[] = STANDARD_BIN_DIRS,
): DenyExecTarget[] {
  const realDirs = [...new Set(binDirs.map((d) => realOrNull(d)).filter((d): d is string => d !== null))];
  const out: DenyExecTarget[] = [];
  for (const program of programs) {
    const candidates = isAbsolute(program) ? [program] : realDirs.map((d) => join(d, program));
    const paths = new Set<string>();
    const inodes: Array<{ dev: number; ino: number }> = [];
    for (const c of candidates) {
      const rp = realOrNull(c);
      if (rp === null) continue;
      const st = statOrNull(rp);
      if (!st || !st.isFile) continue;
      paths.add(rp);
      if (st.nlink > 1) inodes.push({ dev: st.dev, ino: st.ino });
    }
    if (inodes.length > 0) {
      for (const d of realDirs) {
        let names: string[];
        try {
          names = readdirSync(d);
        } catch {
          continue;
        }
        for (const n of names) {
          const p = join(d, n);
          let s;
          try {
            s = lstatSync(p);
          } catch {
            continue;
          }
          if (!s.isFile()) continue;
          if (inodes.some((i) => i.dev === s.dev && i.ino === s.ino)) paths.add(p);
        }
      }
    }
    out.push({ program, paths: [...paths].sort() });
  }
  return out;
}

/** The stub bound over a denied program: executable so that it can say why, harmless when copied. */
export function denyStubScript(program: string): string {
  const safe = program.replace(/[^A-Za-z0-9._/+-]/g, '?');
  return `#!/bin/sh\necho "gatehouse sandbox: '${safe}' is denied by deny_exec in this sandbox profile" >&2\nexit 126\n`;
}
