import { compileGlobs, globToRegExp } from './glob.js';
import { finding, hardDeny, type Finding } from './types.js';

/**
 * Path classes for reads and writes. Paths are normalised first: `$HOME`, `/root`, `/home/<u>`
 * and `~user` become `~`, `.`/`..` segments are resolved, duplicate slashes collapse. Globs in
 * arguments are tested against concrete protected paths, so `/etc/sh*dow` counts as /etc/shadow.
 */

/** Reading these is denied outright (built-in, final). */
const SECRET_DENY = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d/**',
  '/etc/master.passwd',
  '/etc/ssh/ssh_host_*_key',
  '/etc/ssl/private/**',
  '~/.ssh/id_*',
  '~/.ssh/*_rsa',
  '~/.ssh/*_ed25519',
  '~/.ssh/*_ecdsa',
  '~/.ssh/*.pem',
  '~/.ssh/*.key',
  '**/id_rsa',
  '**/id_ed25519',
  '**/id_ecdsa',
  '**/id_dsa',
  '~/.aws/credentials',
  '~/.aws/config',
  '~/.config/gcloud/**',
  '~/.azure/**',
  '~/.kube/config',
  '~/.docker/config.json',
  '~/.netrc',
  '~/.pgpass',
  '~/.git-credentials',
  '~/.config/gh/hosts.yml',
  '~/.npmrc',
  '~/.pypirc',
  '~/.gnupg/**',
  '~/.password-store/**',
  '~/.vault-token',
  '/var/run/secrets/**',
  '/run/secrets/**',
  '/proc/*/environ',
  '/proc/self/environ',
];
/** Concrete samples: a glob argument that can match any of these is treated as reading it. */
const SECRET_SAMPLES = [
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/sudoers',
  '~/.ssh/id_rsa',
  '~/.ssh/id_ed25519',
  '~/.ssh/id_ecdsa',
  '~/.aws/credentials',
  '~/.kube/config',
  '~/.netrc',
  '~/.pgpass',
  '~/.git-credentials',
  '~/.docker/config.json',
  '/proc/self/environ',
  '/proc/1/environ',
];
/** Reading these needs approval (may hold secrets). */
const SECRET_APPROVE = [
  '**/.env',
  '**/.env.*',
  '**/*.env',
  '~/.bash_history',
  '~/.zsh_history',
  '~/.ssh/**',
  '**/credentials.json',
  '**/secrets.*',
  '**/secret.*',
  '**/*-secret.y*ml',
  '**/*-secrets.y*ml',
  '**/*.keystore',
  '**/*key*.pem',
  '**/*.key',
  '**/*.p12',
  '**/*.pfx',
];
const ENV_SAMPLES = ['.env', 'x/.env', '.env.production'];

/** Writing these is denied: system identity, boot, raw disks, persistence hooks. */
const WRITE_DENY = [
  '/etc/passwd',
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/group',
  '/etc/sudoers',
  '/etc/sudoers.d/**',
  '/etc/ld.so.preload',
  '/etc/profile',
  '/etc/profile.d/**',
  '/etc/bash.bashrc',
  '/etc/environment',
  '/etc/cron*',
  '/etc/cron*/**',
  '/var/spool/cron/**',
  '/etc/systemd/**',
  '/etc/init.d/**',
  '/etc/rc.local',
  '/etc/pam.d/**',
  '/etc/ssh/**',
  '/boot/**',
  '/dev/sd*',
  '/dev/hd*',
  '/dev/vd*',
  '/dev/xvd*',
  '/dev/nvme*',
  '/dev/mmcblk*',
  '/dev/disk/**',
  '/dev/mapper/**',
  '/dev/md*',
  '/dev/dm-*',
  '/dev/loop*',
  '/dev/mem',
  '/dev/kmem',
  '/dev/port',
  '/proc/sysrq-trigger',
  '/sys/**',
  '~/.bashrc',
  '~/.bash_profile',
  '~/.bash_login',
  '~/.profile',
  '~/.zshrc',
  '~/.zprofile',
  '~/.zshenv',
  '~/.bash_logout',
  '~/.ssh/authorized_keys',
  '~/.ssh/authorized_keys2',
  '~/.ssh/config',
  '~/.ssh/rc',
  '~/.config/systemd/**',
  '~/.config/autostart/**',
  '~/.config/fish/config.fish',
  '~/.gitconfig',
  '~/.xinitrc',
  '~/.xprofile',
];
/** Names of cgroup (v1 and v2) control files: writing one reconfigures the host's resource control. */
const KERNEL_CONTROL =
  /^(cpuset\.[a-z_.]+|cgroup\.(procs|threads|subtree_control|type|freeze|kill|max\.[a-z]+)|memory\.(max|high|low|min|swap\.max|limit_in_bytes|memsw\.limit_in_bytes|oom\.group|oom_control)|cpu\.(max|weight|shares|cfs_quota_us|cfs_period_us|rt_runtime_us)|pids\.max|io\.(max|weight)|blkio\.[a-z_.]+|notify_on_release|release_agent)$/;
const WRITE_OK_SPECIAL = [
  '/dev/null',
  '/dev/stdout',
  '/dev/stderr',
  '/dev/tty',
  '/dev/fd/*',
  '/proc/self/fd/*',
  '/dev/zero',
];
/** Writing these needs approval: system locations and hidden config in home. */
const WRITE_APPROVE = [
  '/etc/**',
  '/usr/**',
  '/bin/**',
  '/sbin/**',
  '/lib/**',
  '/lib64/**',
  '/opt/**',
  '/var/**',
  '/root/**',
  '/srv/**',
  '/dev/**',
  '/proc/**',
  '~/.*',
  '~/.*/**',
  '/*',
];

const SYSTEM_DIRS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/usr',
  '/var',
  '/usr/bin',
  '/usr/lib',
  '/usr/local',
  '/usr/sbin',
  '/usr/share',
  '/var/lib',
  '/var/log',
  '~',
  '/etc/ssh',
  '/System',
  '/Users',
  '/Library',
  '/Applications',
]);

/** Normalises a path for matching; returns undefined when it cannot be decided statically. */
export function normalizePath(p: string): string {
  let s = p.trim();
  s = s
    .replace(/^\$\{?HOME\}?(?=\/|$)/, '~')
    .replace(/^~[A-Za-z0-9_.-]+(?=\/|$)/, '~')
    .replace(/^\/root(?=\/|$)/, '~')
    .replace(/^\/home\/[^/]+(?=\/|$)/, '~')
    .replace(/^\/Users\/[^/]+(?=\/|$)/, '~');
  const abs = s.startsWith('/');
  const home = s.startsWith('~');
  const parts = s.split('/');
  const out: string[] = [];
  for (const [i, seg] of parts.entries()) {
    if (seg === '' || seg === '.') continue;
    if (i === 0 && home) continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs && !home) out.push('..');
      continue;
    }
    out.push(seg);
  }
  if (home) return out.length ? '~/' + out.join('/') : '~';
  if (abs) return '/' + out.join('/');
  return out.length ? out.join('/') : '.';
}

const compiled = new Map<readonly string[], RegExp>();
/** Tests a path against a pattern list compiled once into one RegExp. */
function anyMatch(patterns: readonly string[], path: string): boolean {
  let re = compiled.get(patterns);
  if (!re) {
    re = compileGlobs(patterns);
    compiled.set(patterns, re);
  }
  return re.test(path);
}

/** Cheap pre-filter: a non-glob path with none of these substrings cannot be a secret. */
const SECRET_HINT =
  /shadow|sudoers|passwd|ssh|id_|\.aws|gcloud|azure|kube|docker|netrc|pgpass|credential|\.gh|npmrc|pypirc|gnupg|password|vault|secret|environ|\.env|env$|history|\.pem|\.key|keystore|\.p12|\.pfx|ssl|\/dev\/(tcp|udp)/;

/**
 * False only when `classifyRead` of a non-glob `text`, or of any suffix of it, is certainly
 * undefined (the cheap pre-filter above fails). A suffix can only contain what `text` contains,
 * and `env$` anchors at the same end, so the test on the whole text covers every suffix.
 */
export function mayBeSecretPath(text: string): boolean {
  return SECRET_HINT.test(text);
}

/** Does a glob argument (shell syntax) possibly expand to one of the samples? */
function globHits(argGlob: string, samples: readonly string[]): string | undefined {
  let re: RegExp;
  try {
    re = globToRegExp(normalizePath(argGlob));
  } catch {
    return samples[0];
  }
  return samples.find((s) => re.test(s));
}

export function isSystemDir(p: string): boolean {
  const n = normalizePath(p);
  return SYSTEM_DIRS.has(n) || n === '/' || (/^\/[^/]+$/.test(n) && !n.startsWith('/tmp'));
}

export interface PathInfo {
  text: string;
  glob: boolean;
  dynamic: boolean;
  prefix: string;
}

/** Classifies reading `p`. `matched` is the text reported in the decision. */
export function classifyRead(p: PathInfo, matched: string): Finding | undefined {
  if (p.dynamic && !p.glob) return undefined;
  if (!p.glob && !SECRET_HINT.test(p.text)) return undefined;
  if (p.text.startsWith('/dev/tcp/') || p.text.startsWith('/dev/udp/'))
    return hardDeny(
      'net.dev-tcp',
      'opens a network socket through /dev/tcp (reverse shell / exfiltration pattern)',
      matched,
    );
  if (p.glob) {
    const s = globHits(p.text, SECRET_SAMPLES);
    if (s) return hardDeny('secrets.read', `reads a secret file (the pattern ${p.text} can match ${s})`, matched);
    const e = globHits(p.text, ENV_SAMPLES);
    if (e && !p.text.includes('/') && /env/i.test(p.text))
      return finding(
        'approve',
        'secrets.read-env',
        `reads environment files that may hold secrets (${p.text})`,
        matched,
      );
    return undefined;
  }
  const n = normalizePath(p.text);
  // Public halves and host lists are not secrets.
  if (/\.pub$|known_hosts2?$|\.env\.(example|sample|template|dist)$/.test(n)) return undefined;
  const d = anyMatch(SECRET_DENY, n);
  if (d) return hardDeny('secrets.read', `reads a secret file (${n})`, matched);
  const a = anyMatch(SECRET_APPROVE, n);
  if (a) return finding('approve', 'secrets.read-env', `reads a file that may hold secrets (${n})`, matched);
  return undefined;
}

/** Classifies writing (or deleting / truncating) `p`; writable roots come from the policy. */
export function classifyWrite(p: PathInfo, matched: string, writeAllowed: readonly string[]): Finding | undefined {
  if (p.text.startsWith('/dev/tcp/') || p.text.startsWith('/dev/udp/'))
    return hardDeny(
      'net.dev-tcp',
      'opens a network socket through /dev/tcp (reverse shell / exfiltration pattern)',
      matched,
    );
  if (p.dynamic && !p.glob) {
    return finding('approve', 'fs.write-dynamic', `writes to a path only known at run time (${p.text})`, matched);
  }
  const text = p.glob ? p.prefix || '/' : p.text;
  const n = normalizePath(text);
  if (anyMatch(WRITE_OK_SPECIAL, n)) return undefined;
  const d = anyMatch(WRITE_DENY, n);
  if (d) return hardDeny('fs.write-protected', `writes to a protected system or startup file (${n})`, matched);
  if (p.glob) {
    const g = globHits(p.text, [
      '/etc/passwd',
      '/etc/shadow',
      '/etc/sudoers',
      '~/.bashrc',
      '~/.ssh/authorized_keys',
      '/dev/sda',
    ]);
    if (g) return hardDeny('fs.write-protected', `writes to paths matching ${p.text}, which includes ${g}`, matched);
  }
  // Kernel control files (cgroup and cpuset knobs) change the host wherever they are reached from:
  // `echo 2-3 > cpuset.cpus` in /sys/fs/cgroup/… is a relative path the guard cannot place.
  if (KERNEL_CONTROL.test(n.slice(n.lastIndexOf('/') + 1)))
    return finding('approve', 'fs.write-system', `writes a kernel control file (${n})`, matched);
  if (n.startsWith('..'))
    return finding('approve', 'fs.write-outside', `writes outside the working directory (${n})`, matched);
  const allowedHit =
    anyMatch(writeAllowed, n) || (!n.startsWith('/') && !n.startsWith('~') && writeAllowed.includes('./**'));
  const a = anyMatch(WRITE_APPROVE, n);
  if (a && !(allowedHit && !n.startsWith('~/.')))
    return finding('approve', 'fs.write-system', `writes to a system or configuration location (${n})`, matched);
  if (!allowedHit) return finding('approve', 'fs.write-outside', `writes outside the allowed paths (${n})`, matched);
  return undefined;
}
