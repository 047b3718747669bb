/**
 * planBwrap: the bubblewrap argument vector for one run. Pure apart from reading the host file
 * system (lstat/realpath) to decide what is visible and what must be masked.
 *
 * Order matters in bwrap (later mounts sit on top of earlier ones): read-only system, /proc, /dev,
 * private /tmp, the workspace read-write, then every hide (deny_read, Gatehouse's own paths), then
 * every deny_exec mask. Hides and masks come last so nothing mounted later can uncover them.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { GatehouseError } from '../core/index.js';
import { realOrNull, resolveDenyExec, type DenyExecTarget } from './deny-exec.js';
import { ALWAYS_DENY_READ, type SandboxProfile } from './profile.js';

export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;
export const SANDBOX_HOSTNAME = 'gatehouse-sandbox';

export interface PlanOptions {
  /** Gatehouse's home, store and key files. INVARIANT: always hidden, whatever the profile says. */
  hiddenPaths: readonly string[];
  /** Host directory holding `empty` (0444) and `deny-<i>` stubs; must be readable by the sandbox uid. */
  stubDir: string;
  /** The command inside the sandbox. */
  argv: readonly string[];
  /** Working directory inside (defaults to the workspace). */
  cwd?: string;
  /** The complete environment inside (already built from the allowlist). */
  env: Readonly<Record<string, string>>;
  /** HOME inside; created under the private /tmp. */
  home?: string;
  uid?: number;
  gid?: number;
  /** Bound over /etc/hosts when an allowlisted network is used (names resolve only to allowed IPs). */
  hostsFile?: string;
  infoFd?: number;
  blockFd?: number;
  /** Precomputed deny_exec resolution (else computed here). */
  denyExec?: DenyExecTarget[];
  /** Budget for the scan that finds hardlinks of hidden files inside the workspace. */
  hardlinkScanBudget?: number;
}

export interface HidePlan {
  path: string;
  kind: 'dir' | 'file';
  /** Why it is hidden: the profile, Gatehouse itself, or the system default list. */
  reason: 'deny_read' | 'gatehouse' | 'system';
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

const under = (p: string, root: string): boolean => p === root || p.startsWith(root === '/' ? '/' : root + '/');

/** Host real roots that are visible inside: the read-only system paths and the workspace. */
function visibleRoots(profile: SandboxProfile): string[] {
  const roots: string[] = [];
  for (const p of [...profile.readOnlyPaths, profile.workspace]) {
    const r = realOrNull(p);
    if (r) roots.push(r);
  }
  return roots;
}

/**
 * Which paths to hide and how. A path that does not exist, or is not under anything visible, needs
 * no mount (there is nothing to see). Symlinks are hidden at their realpath, which is what any path
 * inside the sandbox reaches. A path under an already hidden directory is dropped (the tmpfs hides it).
 */
export function planHides(profile: SandboxProfile, hiddenPaths: readonly string[]): HidePlan[] {
  const roots = visibleRoots(profile);
  const ws = realOrNull(profile.workspace) ?? profile.workspace;
  const wanted: Array<{ p: string; reason: HidePlan['reason'] }> = [
    ...hiddenPaths.map((p) => ({ p, reason: 'gatehouse' as const })),
    ...ALWAYS_DENY_READ.map((p) => ({ p, reason: 'system' as const })),
    ...profile.denyRead.map((p) => ({ p, reason: 'deny_read' as const })),
  ];
  const byPath = new Map<string, HidePlan>();
  for (const { p, reason } of wanted) {
    const rp = realOrNull(p);
    if (rp === null) continue;
    if (reason === 'gatehouse' && under(ws, rp)) {
      // INVARIANT: Gatehouse's home is never visible; a workspace inside it cannot be honoured.
      throw new GatehouseError('config_invalid', 'the sandbox workspace is inside a path Gatehouse must hide', {
        hint: 'choose a workspace outside GATEHOUSE_HOME',
      });
    }
    if (under(ws, rp)) {
      throw new GatehouseError('config_invalid', `deny_read path ${p} contains the workspace`, {
        hint: 'deny_read can hide paths inside or beside the workspace, not its parents',
      });
    }
    if (!roots.some((r) => under(rp, r))) continue;
    const st = lstatOrNull(rp);
    if (!st) continue;
    if (!byPath.has(rp)) byPath.set(rp, { path: rp, kind: st.isDirectory() ? 'dir' : 'file', reason });
  }
  const all = [...byPath.values()].sort((a, b) => a.path.length - b.path.length);
  const kept: HidePlan[] = [];
  for (const h of all) {
    if (kept.some((k) => k.kind === 'dir' && k.path !== h.path && under(h.path, k.path))) continue;
    kept.push(h);
  }
  return kept;
}

/**
 * A hidden file with other hardlinks could be read through one of them if that link sits in the
 * workspace. Scan the workspace (bounded) and hide each such link too; if the budget runs out
 * before the scan ends, refuse (fail closed) rather than guess.
 */
function hardlinkHides(profile: SandboxProfile, hides: HidePlan[], budget: number): HidePlan[] {
  const targets: Array<{ dev: number; ino: number; reason: HidePlan['reason'] }> = [];
  for (const h of hides) {
    if (h.kind !== 'file') continue;
    const st = lstatOrNull(h.path);
    if (st && st.nlink > 1) targets.push({ dev: st.dev, ino: st.ino, reason: h.reason });
  }
  if (targets.length === 0) return [];
  const found: HidePlan[] = [];
  const hidden = new Set(hides.map((h) => h.path));
  let seen = 0;
  const stack = [realOrNull(profile.workspace) ?? profile.workspace];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    if (hidden.has(dir)) continue;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (++seen > budget) {
        throw new GatehouseError(
          'sandbox_unavailable',
          'a hidden file has hardlinks and the workspace is too large to check them all',
          {
            hint: 'remove the extra hardlinks of the hidden file, or use a smaller workspace',
          },
        );
      }
      const p = join(dir, n);
      const st = lstatOrNull(p);
      if (!st) continue;
      if (st.isDirectory()) stack.push(p);
      else if (st.isFile()) {
        const t = targets.find((x) => x.dev === st.dev && x.ino === st.ino);
        if (t && !hidden.has(p)) found.push({ path: p, kind: 'file', reason: t.reason });
      }
    }
  }
  return found;
}

/**
 * The mounts for the read-only system: symlinked top-level dirs (merged /usr) stay symlinks.
 * `underTmp` picks the paths below /tmp: they are mounted after the sandbox's own /tmp (a tmpfs),
 * which would otherwise hide them (a profile's read-only path silently missing).
 */
function systemMounts(profile: SandboxProfile, underTmp: boolean): string[] {
  const args: string[] = [];
  const paths = [...new Set(profile.readOnlyPaths)]
    .filter((p) => p.startsWith('/tmp/') === underTmp)
    .sort((a, b) => a.length - b.length);
  for (const p of paths) {
    const st = lstatOrNull(p);
    if (!st) continue;
    if (st.isSymbolicLink()) {
      // Recreate the link so /bin/curl resolves to /usr/bin/curl, where the deny_exec mask sits.
      args.push('--symlink', readlinkSync(p), p);
    } else {
      args.push('--ro-bind', p, p);
    }
  }
  return args;
}

export function planBwrap(profile: SandboxProfile, opts: PlanOptions): string[] {
  const uid = opts.uid ?? SANDBOX_UID;
  const gid = opts.gid ?? SANDBOX_GID;
  const home = opts.home ?? '/tmp/home';
  const ws = profile.workspace;
  const args: string[] = [
    // Namespaces: an unprivileged uid in a new user ns, no further user namespaces (so no caps can be
    // regained to unmount a mask or change firewall rules), and new pid/ipc/uts/net (+cgroup) ns.
    '--unshare-user',
    '--uid',
    String(uid),
    '--gid',
    String(gid),
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    // The network namespace is always new: 'none' leaves only lo; an allowlist attaches slirp4netns.
    '--unshare-net',
    '--hostname',
    SANDBOX_HOSTNAME,
    '--die-with-parent',
    // A new session: no TIOCSTI injection into the caller's terminal.
    '--new-session',
    '--cap-drop',
    'ALL',
  ];
  args.push(...systemMounts(profile, false));
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--dir', home);
  args.push(...systemMounts(profile, true));
  args.push('--bind', ws, ws);
  if (opts.hostsFile) {
    const hosts = lstatOrNull('/etc/hosts');
    if (hosts && !hosts.isSymbolicLink()) args.push('--ro-bind', opts.hostsFile, '/etc/hosts');
    // No DNS inside an allowlisted sandbox: names resolve only through the generated hosts file.
    const rc = lstatOrNull('/etc/resolv.conf');
    if (rc && !rc.isSymbolicLink()) args.push('--ro-bind', join(opts.stubDir, 'empty'), '/etc/resolv.conf');
  }
  const hides = planHides(profile, opts.hiddenPaths);
  const all = [...hides, ...hardlinkHides(profile, hides, opts.hardlinkScanBudget ?? 200_000)];
  for (const h of all) {
    if (h.kind === 'dir') args.push('--tmpfs', h.path, '--remount-ro', h.path);
    else args.push('--ro-bind', join(opts.stubDir, 'empty'), h.path);
  }
  const roots = visibleRoots(profile);
  const deny = opts.denyExec ?? resolveDenyExec(profile.denyExec);
  deny.forEach((t, i) => {
    for (const p of t.paths) {
      if (!roots.some((r) => under(p, r))) continue;
      if (all.some((h) => h.kind === 'dir' && under(p, h.path))) continue;
      args.push('--ro-bind', join(opts.stubDir, `deny-${i}`), p);
    }
  });
  // The sandbox's own root (a bwrap tmpfs) read-only too: nothing outside the workspace and /tmp is writable.
  args.push('--remount-ro', '/');
  args.push('--chdir', opts.cwd ?? ws);
  // The environment is rebuilt from scratch; values travel in the --args pipe, never on a command line.
  args.push('--clearenv');
  for (const [k, v] of Object.entries(opts.env)) args.push('--setenv', k, v);
  if (opts.infoFd !== undefined) args.push('--info-fd', String(opts.infoFd));
  if (opts.blockFd !== undefined) args.push('--block-fd', String(opts.blockFd));
  args.push('--', ...opts.argv);
  return args;
}
