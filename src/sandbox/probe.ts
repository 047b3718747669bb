/**
 * probeSandbox: what isolation this host really gives, found by trying it (never by guessing from
 * installed files alone). `gatehouse sandbox doctor` prints it.
 */
import { mkdtempSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, isRoot } from './availability.js';
import { cgroupV1Available } from './cgroup.js';
import { validateProfile, type SandboxProfile } from './profile.js';
import { runSandboxed } from './run.js';
import { checkWorkspaceReachable, sandboxIdentity, type SandboxIdentity } from './identity.js';
import { SANDBOX_GID, SANDBOX_UID } from './plan.js';
import { truncateText } from '../core/index.js';

export type ProbeStatus = 'ok' | 'warn' | 'fail';
export interface ProbeCheck {
  name: string;
  status: ProbeStatus;
  detail: string;
  fix?: string;
}
export type SandboxLevel = 'bwrap+slirp' | 'bwrap' | 'none';
export interface ProbeResult {
  level: SandboxLevel;
  checks: ProbeCheck[];
}

function check(name: string, status: ProbeStatus, detail: string, fix?: string): ProbeCheck {
  return fix === undefined ? { name, status, detail } : { name, status, detail, fix };
}

export async function probeSandbox(): Promise<ProbeResult> {
  const checks: ProbeCheck[] = [];
  const root = isRoot();
  const bwrap = findProgram('bwrap');
  checks.push(
    bwrap
      ? check('bubblewrap installed', 'ok', bwrap)
      : check('bubblewrap installed', 'fail', 'bwrap not found in the system PATH', 'apt-get install bubblewrap'),
  );
  const cg = cgroupV1Available();
  checks.push(
    cg.ok
      ? check('memory/pids/cpu limits', 'ok', cg.detail)
      : check(
          'memory/pids/cpu limits',
          'warn',
          `${cg.detail}; memory and process limits are not enforced, CPU only per process`,
          'run Gatehouse as root on a host with cgroup v1 memory, pids and cpuacct',
        ),
  );
  checks.push(
    findProgram('prlimit')
      ? check('rlimits (prlimit)', 'ok', 'CPU seconds, file size and open files are set per process')
      : check(
          'rlimits (prlimit)',
          'warn',
          'prlimit not found: CPU and file-size limits are not enforced',
          'apt-get install util-linux',
        ),
  );
  if (root) {
    checks.push(
      findProgram('setpriv')
        ? check('unprivileged host uid', 'ok', `sandboxes run as host uid ${SANDBOX_UID}, not root`)
        : check(
            'unprivileged host uid',
            'fail',
            'setpriv not found: cannot leave host uid 0',
            'apt-get install util-linux',
          ),
    );
  } else {
    checks.push(
      check('unprivileged host uid', 'ok', `sandboxes run as Gatehouse's own uid ${process.getuid?.() ?? '?'}`),
    );
  }

  let bwrapWorks = false;
  if (bwrap) {
    const ws = mkdtempSync(join(tmpdir(), 'gatehouse-probe-'));
    try {
      if (root) chownSync(ws, SANDBOX_UID, SANDBOX_GID);
      const profile = validateProfile({ name: 'probe', workspace: ws, limits: { wallSeconds: 20 } });
      const r = await runSandboxed(profile, {
        command:
          'id -u; cat /proc/self/status | grep -E "^CapEff"; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; touch ./w && echo writable',
      });
      const caps = /CapEff:\s*([0-9a-f]+)/.exec(r.stdout)?.[1];
      const nets = r.stdout.split('\n').filter((l) => /^[a-z][a-z0-9]*$/.test(l) && l !== 'writable');
      const okCaps = caps !== undefined && /^0+$/.test(caps);
      const okNet = nets.length === 1 && nets[0] === 'lo';
      bwrapWorks = r.exitCode === 0 && okCaps && okNet && r.stdout.includes('writable');
      checks.push(
        bwrapWorks
          ? check(
              'bubblewrap sandbox',
              'ok',
              `runs: no capabilities, only loopback, workspace writable (start ${r.durationMs} ms)`,
            )
          : check(
              'bubblewrap sandbox',
              'fail',
              `did not behave: exit ${r.exitCode}, ${truncateText(r.stderr.trim(), 200)}`,
              'check that user namespaces are allowed (sysctl kernel.unprivileged_userns_clone / apparmor_restrict_unprivileged_userns)',
            ),
      );
    } catch (e) {
      checks.push(
        check(
          'bubblewrap sandbox',
          'fail',
          `could not start: ${(e as Error).message}`,
          'check that user namespaces are allowed',
        ),
      );
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  }

  let netWorks = false;
  const slirp = findProgram('slirp4netns');
  const ipt = findProgram('iptables-restore');
  if (!slirp)
    checks.push(
      check(
        'slirp4netns',
        'warn',
        'not installed: allowlisted networking unavailable (runs fail closed)',
        'apt-get install slirp4netns',
      ),
    );
  if (!ipt)
    checks.push(
      check(
        'iptables',
        'warn',
        'not installed: allowlisted networking unavailable (runs fail closed)',
        'apt-get install iptables',
      ),
    );
  if (bwrapWorks && slirp && ipt && !root) {
    checks.push(
      check(
        'allowlisted network',
        'warn',
        'needs Gatehouse to run as root on this host (runs with an allowlist fail closed)',
        'run as root, or keep network: none',
      ),
    );
  }
  if (bwrapWorks && slirp && ipt && root) {
    const ws = mkdtempSync(join(tmpdir(), 'gatehouse-probe-'));
    try {
      chownSync(ws, SANDBOX_UID, SANDBOX_GID);
      // Allow one unused TEST-NET address: no packet is ever sent; only the link and rules are checked.
      const profile = validateProfile({
        name: 'probe-net',
        workspace: ws,
        network: { allow: [{ host: '192.0.2.1', port: 9 }] },
        limits: { wallSeconds: 20 },
      });
      const r = await runSandboxed(profile, { command: 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "' });
      netWorks = r.exitCode === 0 && r.stdout.split('\n').includes('tap0');
      checks.push(
        netWorks
          ? check('allowlisted network', 'ok', `slirp4netns link with iptables egress rules (start ${r.durationMs} ms)`)
          : check(
              'allowlisted network',
              'fail',
              `no tap0 inside: ${truncateText(r.stderr.trim(), 200)}`,
              'check slirp4netns and iptables (nf_tables backend)',
            ),
      );
    } catch (e) {
      checks.push(
        check(
          'allowlisted network',
          'fail',
          (e as Error).message,
          'check slirp4netns and iptables (nf_tables backend)',
        ),
      );
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  }
  try {
    const t = readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim();
    if (t !== '0')
      checks.push(
        check(
          'terminal injection',
          'ok',
          'TIOCSTI is enabled on this kernel; sandboxes always get a new session, so it cannot reach your terminal',
        ),
      );
  } catch {
    /* older kernel: the new session still covers it */
  }
  const level: SandboxLevel = bwrapWorks ? (netWorks ? 'bwrap+slirp' : 'bwrap') : 'none';
  return { level, checks };
}

/**
 * Whether the sandbox can work in a profile's workspace: which host user it runs as there, and
 * whether that user can reach it (issue 18 item 6: a project under a private directory).
 */
export function workspaceCheck(profile: SandboxProfile): ProbeCheck {
  const name = `workspace (${profile.name})`;
  let id: SandboxIdentity;
  try {
    id = isRoot()
      ? sandboxIdentity(profile.workspace)
      : { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, as: 'owner' };
    checkWorkspaceReachable(profile.workspace, id);
  } catch (e) {
    const err = e as { message?: string; hint?: string; code?: string };
    if (err.code === 'ENOENT')
      return check(name, 'fail', `${profile.workspace} does not exist`, 'create it, or set the profile workspace');
    return check(name, 'fail', err.message ?? String(e), err.hint);
  }
  const who =
    id.as === 'nobody' ? `uid ${id.uid} (the workspace is owned by root)` : `uid ${id.uid} (the workspace's owner)`;
  return check(name, 'ok', `${profile.workspace}: sandboxes run as host ${who} and can reach it`);
}
