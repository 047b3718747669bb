/**
 * Allowlisted networking: slirp4netns gives the sandbox's own network namespace a user-mode link,
 * and an iptables (nf_tables) ruleset installed from the host, inside that namespace, lets out only
 * the listed IP:port pairs. The sandbox process is held on bwrap's --block-fd until both are in
 * place, so it never runs with an open network.
 *
 * INVARIANT: the sandbox cannot change these rules: it has no capabilities (--cap-drop ALL) and
 * cannot create a user namespace to regain any (--disable-userns). There is no DNS inside: allowed
 * names are resolved on the host when the run starts and written to the sandbox's /etc/hosts.
 * Anything undecidable (a name that does not resolve, iptables failing) refuses the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { GatehouseError, truncateText } from '../core/index.js';
import type { NetworkAllow } from './profile.js';

/** slirp4netns's fixed addresses (default --cidr 10.0.2.0/24). */
export const SLIRP_HOST_ALIAS = '10.0.2.2';
export const HOST_LOOPBACK = 'host-loopback';

export interface EgressRule {
  host: string;
  ip: string;
  port: number;
}

export interface ResolvedAllow {
  rules: EgressRule[];
  hostsFile: string;
  /** True when a rule targets the host's loopback (slirp then runs without --disable-host-loopback). */
  hostLoopback: boolean;
}

export async function resolveAllow(allow: readonly NetworkAllow[]): Promise<ResolvedAllow> {
  const rules: EgressRule[] = [];
  const hosts: string[] = ['127.0.0.1 localhost', `::1 localhost`];
  let hostLoopback = false;
  for (const a of allow) {
    if (a.host === HOST_LOOPBACK) {
      hostLoopback = true;
      rules.push({ host: a.host, ip: SLIRP_HOST_ALIAS, port: a.port });
      hosts.push(`${SLIRP_HOST_ALIAS} ${HOST_LOOPBACK}`);
      continue;
    }
    if (isIPv4(a.host)) {
      rules.push({ host: a.host, ip: a.host, port: a.port });
      continue;
    }
    let addrs: Array<{ address: string }>;
    try {
      addrs = await lookup(a.host, { all: true, family: 4 });
    } catch (e) {
      throw new GatehouseError('sandbox_unavailable', `allowlisted host ${a.host} does not resolve`, {
        hint: 'fix the host name in the sandbox network allowlist, or check DNS on the gateway host',
        cause: e,
      });
    }
    for (const { address } of addrs) {
      rules.push({ host: a.host, ip: address, port: a.port });
      hosts.push(`${address} ${a.host}`);
    }
  }
  return { rules, hostsFile: hosts.join('\n') + '\n', hostLoopback };
}

/** The ruleset: loopback and the listed tcp IP:port pairs; everything else rejected at once. */
export function iptablesRules(rules: readonly EgressRule[]): string {
  const lines = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT DROP [0:0]',
    '-A OUTPUT -o lo -j ACCEPT',
  ];
  for (const r of rules) lines.push(`-A OUTPUT -p tcp -d ${r.ip}/32 --dport ${r.port} -j ACCEPT`);
  lines.push(
    '-A OUTPUT -p tcp -j REJECT --reject-with tcp-reset',
    '-A OUTPUT -j REJECT --reject-with icmp-port-unreachable',
    'COMMIT',
    '',
  );
  return lines.join('\n');
}

const IP6_RULES = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT DROP [0:0]',
  '-A OUTPUT -o lo -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

function runWithInput(
  cmd: string,
  args: string[],
  input: string,
  timeoutMs = 10_000,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: -1, stderr: String(e) });
    });
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
    p.stdin.end(input);
  });
}

export interface NetworkHandle {
  close(): void;
}

/**
 * Attaches slirp4netns to the sandbox (by its host pid) and installs the egress rules, as root.
 * Resolves once both are in place; throws `sandbox_unavailable` (and cleans up) otherwise.
 */
export async function attachNetwork(childPid: number, allow: ResolvedAllow): Promise<NetworkHandle> {
  const netns = `/proc/${childPid}/ns/net`;
  const ipt = await runWithInput('nsenter', [`--net=${netns}`, 'iptables-restore'], iptablesRules(allow.rules));
  if (ipt.code !== 0) {
    throw new GatehouseError(
      'sandbox_unavailable',
      `could not install the sandbox egress rules: ${truncateText(ipt.stderr.trim(), 200)}`,
      {
        hint: 'install iptables (nf_tables backend) and run Gatehouse as root for allowlisted networking',
      },
    );
  }
  const ip6 = await runWithInput('nsenter', [`--net=${netns}`, 'ip6tables-restore'], IP6_RULES);
  if (ip6.code !== 0) {
    throw new GatehouseError(
      'sandbox_unavailable',
      `could not install the sandbox IPv6 egress rules: ${truncateText(ip6.stderr.trim(), 200)}`,
      {
        hint: 'install iptables (with ip6tables) for allowlisted networking',
      },
    );
  }
  const slirpArgs = [
    '--configure',
    '--mtu=65520',
    '--enable-sandbox',
    '--enable-seccomp',
    '--ready-fd=3',
    '--exit-fd=4',
  ];
  if (!allow.hostLoopback) slirpArgs.push('--disable-host-loopback');
  // By path, not pid: given a pid, slirp4netns's setns fails with EPERM for a namespace owned by the
  // sandbox's (unprivileged) user namespace; opening the ns file as root works.
  slirpArgs.push('--netns-type=path', netns, 'tap0');
  const slirp: ChildProcess = spawn('slirp4netns', slirpArgs, {
    // fd 4 is held open by this process only: if Gatehouse dies, slirp4netns sees EOF and exits.
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  let stderr = '';
  slirp.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 10_000);
    const fd3 = slirp.stdio[3] as NodeJS.ReadableStream | null;
    fd3?.on('error', () => undefined);
    (slirp.stdio[4] as NodeJS.EventEmitter | null)?.on('error', () => undefined);
    fd3?.on('data', () => {
      clearTimeout(t);
      resolve(true);
    });
    slirp.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
    slirp.on('exit', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
  if (!ready) {
    slirp.kill('SIGKILL');
    throw new GatehouseError(
      'sandbox_unavailable',
      `slirp4netns did not come up: ${truncateText(stderr.trim(), 200)}`,
      {
        hint: 'install slirp4netns and run Gatehouse as root for allowlisted networking',
      },
    );
  }
  return {
    close: () => {
      (slirp.stdio[4] as NodeJS.WritableStream | null)?.end();
      if (slirp.exitCode === null && slirp.signalCode === null) slirp.kill('SIGTERM');
    },
  };
}
