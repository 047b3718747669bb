/**
 * Sandbox profiles: what a sandboxed command may see, run, reach and consume.
 *
 * A profile is data (it comes from configuration later); `validateProfile` turns untrusted input
 * into a complete, normalised profile or throws `config_invalid`. Anything not stated falls back to
 * the most restrictive default: no network, no extra env, no unsandboxed mode.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../core/index.js';

export type SandboxLimitName = 'memory' | 'cpu' | 'processes' | 'file_size' | 'wall_time' | 'output';

export interface SandboxLimits {
  /** CPU seconds, per process (RLIMIT_CPU) and in total for the run (cgroup cpuacct, when root). */
  cpuSeconds: number;
  /** Memory for the whole run (cgroup v1 memory, when root). */
  memoryBytes: number;
  /** Processes and threads alive at once (cgroup v1 pids, when root; RLIMIT_NPROC otherwise). */
  processes: number;
  /** Largest file the command may write (RLIMIT_FSIZE). */
  fileSizeBytes: number;
  /** Wall-clock time before the whole sandbox is killed. */
  wallSeconds: number;
  /** stdout + stderr bytes kept; past this the sandbox is killed and the result says `output`. */
  outputBytes: number;
}

export interface NetworkAllow {
  /**
   * A host name or IPv4 address, resolved on the host when the sandbox starts. The special name
   * `host-loopback` means the host's 127.0.0.1 as seen through slirp4netns (10.0.2.2); it is the
   * only way a sandbox reaches the host's loopback, and only on the listed port.
   */
  host: string;
  port: number;
}

export type SandboxNetwork = 'none' | { allow: NetworkAllow[] };

export interface SandboxProfile {
  name: string;
  /** The one read-write directory (bound at the same path inside). */
  workspace: string;
  /** System paths visible read-only. Host symlinks (merged /usr: /bin -> usr/bin) are recreated as symlinks. */
  readOnlyPaths: string[];
  /** Paths hidden inside the sandbox: directories become empty tmpfs, files readable empty files. */
  denyRead: string[];
  /** Programs (names or absolute paths) that cannot be executed inside, by any of their paths. */
  denyExec: string[];
  /** Extra variable names passed through from the host env (secret-looking names are still stripped). */
  envAllow: string[];
  /** Fixed variables set inside (not filtered: configuration is trusted). */
  env: Record<string, string>;
  network: SandboxNetwork;
  limits: SandboxLimits;
  /** Run without isolation when bubblewrap is missing. Every result then says `sandbox: 'none'`. */
  allowUnsandboxed: boolean;
  /**
   * `gatehouse run` masks secrets in the program's output as with `--mask` (issue 20 item 7).
   * Written `mask_output` (the issue's spelling) or `maskOutput` (this schema's); default false.
   */
  maskOutput: boolean;
  /** Workspace checkpoints (src/checkpoints): when `exec` takes them, and how much they may hold. */
  checkpoints: CheckpointPolicy;
}

export interface CheckpointPolicy {
  /** A checkpoint before every command the guard marks destructive in the workspace (rm, mv, git reset, `>`…). */
  auto: boolean;
  /**
   * Deleting commands are soft: a checkpoint is always taken first (even with `auto` off) and the
   * result names the deleted paths and how to restore them.
   */
  softDelete: boolean;
  maxBytes: number;
  maxFiles: number;
  /** Automatic checkpoints kept per workspace. */
  keep: number;
  /** Names left out of checkpoints (and left alone by rollback), e.g. node_modules. */
  exclude: string[];
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  cpuSeconds: 60,
  memoryBytes: 1024 * 1024 * 1024,
  processes: 256,
  fileSizeBytes: 256 * 1024 * 1024,
  wallSeconds: 120,
  outputBytes: 1024 * 1024,
});

export const DEFAULT_READ_ONLY_PATHS: readonly string[] = Object.freeze([
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/etc',
  '/opt',
]);

/**
 * Always hidden (in addition to the Gatehouse home passed as `hiddenPaths`), so a system path bound
 * read-only never leaks host credentials even to a sandbox that maps to the host's own uid.
 */
export const ALWAYS_DENY_READ: readonly string[] = Object.freeze([
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/shadow-',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/ssh',
  '/etc/ssl/private',
]);

const limitsSchema = z
  .object({
    cpuSeconds: z.number().positive().max(86_400),
    memoryBytes: z
      .number()
      .int()
      .min(16 * 1024 * 1024),
    processes: z.number().int().min(1).max(100_000),
    fileSizeBytes: z.number().int().min(1),
    wallSeconds: z.number().positive().max(86_400),
    outputBytes: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024 * 1024),
  })
  .partial()
  .strict();

const absPath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), 'must be an absolute path');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a valid variable name');
const hostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.-]+$/, 'host must be a DNS name or IPv4 address');

const checkpointsSchema = z
  .object({
    auto: z.boolean().default(false),
    softDelete: z.boolean().default(false),
    maxBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(2 * 1024 * 1024 * 1024),
    maxFiles: z.number().int().min(1).max(10_000_000).default(200_000),
    keep: z.number().int().min(1).max(1000).default(20),
    exclude: z
      .array(
        z
          .string()
          .min(1)
          .regex(/^[^/\0]+$/, 'a name, not a path'),
      )
      .default([]),
  })
  .strict();

const profileSchema = z
  .object({
    name: z.string().min(1).max(64).default('default'),
    workspace: absPath,
    readOnlyPaths: z.array(absPath).optional(),
    denyRead: z.array(z.string().min(1)).default([]),
    denyExec: z
      .array(
        z
          .string()
          .min(1)
          .regex(/^[^\0\n]+$/),
      )
      .default([]),
    envAllow: z.array(envName).default([]),
    env: z.record(envName, z.string().regex(/^[^\0]*$/)).default({}),
    network: z
      .union([
        z.literal('none'),
        z
          .object({ allow: z.array(z.object({ host: hostSchema, port: z.number().int().min(1).max(65535) }).strict()) })
          .strict(),
      ])
      .default('none'),
    limits: limitsSchema.default({}),
    allowUnsandboxed: z.boolean().default(false),
    maskOutput: z.boolean().optional(),
    mask_output: z.boolean().optional(),
    checkpoints: checkpointsSchema.prefault({}),
  })
  .strict();

export type SandboxProfileInput = z.input<typeof profileSchema>;

/** Expands `~` in deny paths against `home`; relative deny paths are taken from the workspace. */
function expandPath(p: string, workspace: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return resolve(home, p.slice(2));
  return resolve(workspace, p);
}

/** Validates and completes a profile. Throws `config_invalid` naming the first bad field. */
export function validateProfile(input: unknown, opts: { home?: string } = {}): SandboxProfile {
  const r = profileSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join('.') || 'profile';
    throw new GatehouseError('config_invalid', `sandbox profile: ${where}: ${issue?.message ?? 'invalid'}`, {
      hint: 'fix the sandbox profile in the configuration',
    });
  }
  const v = r.data;
  const workspace = resolve(v.workspace);
  if (workspace === '/') {
    throw new GatehouseError('config_invalid', 'sandbox profile: workspace cannot be /', {
      hint: 'choose a project directory as the workspace',
    });
  }
  if (v.maskOutput !== undefined && v.mask_output !== undefined && v.maskOutput !== v.mask_output) {
    throw new GatehouseError('config_invalid', 'sandbox profile: maskOutput and mask_output disagree', {
      hint: 'keep one of them',
    });
  }
  const home = opts.home ?? process.env.HOME ?? '/root';
  return {
    name: v.name,
    workspace,
    readOnlyPaths: (v.readOnlyPaths ?? [...DEFAULT_READ_ONLY_PATHS]).map((p) => resolve(p)),
    denyRead: v.denyRead.map((p) => expandPath(p, workspace, home)),
    denyExec: [...new Set(v.denyExec)],
    envAllow: v.envAllow,
    env: v.env,
    network:
      v.network === 'none'
        ? 'none'
        : { allow: v.network.allow.map((a) => ({ host: a.host.toLowerCase(), port: a.port })) },
    limits: { ...DEFAULT_LIMITS, ...v.limits },
    allowUnsandboxed: v.allowUnsandboxed,
    maskOutput: v.maskOutput ?? v.mask_output ?? false,
    checkpoints: v.checkpoints,
  };
}

/** The built-in profile: the current directory as workspace, nothing else. */
export function defaultProfile(workspace: string = process.cwd()): SandboxProfile {
  return validateProfile({ name: 'default', workspace });
}

/**
 * Finds a profile by name: `config.profiles[name]` when given, else the built-ins (`default`).
 * Unknown names are an error, never a silent fallback to something looser or stricter.
 */
export function resolveProfile(
  name: string = 'default',
  config?: { profiles?: Record<string, unknown> },
  opts: { workspace?: string; home?: string } = {},
): SandboxProfile {
  const fromConfig = config?.profiles?.[name];
  if (fromConfig !== undefined) {
    const base = typeof fromConfig === 'object' && fromConfig !== null ? (fromConfig as Record<string, unknown>) : {};
    return validateProfile(
      { name, ...base, workspace: base.workspace ?? opts.workspace ?? process.cwd() },
      opts.home === undefined ? {} : { home: opts.home },
    );
  }
  if (name === 'default') return defaultProfile(opts.workspace ?? process.cwd());
  throw new GatehouseError('not_found', `no sandbox profile named "${name}"`, {
    hint: 'use --profile default or define the profile under sandbox.profiles in the configuration',
  });
}
