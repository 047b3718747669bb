import { execEnvVerdict } from '../core/index.js';

/**
 * The sandbox environment is rebuilt from an allowlist, never inherited.
 * INVARIANT: a host variable whose name looks like a secret never enters the sandbox through
 * inheritance or agent-supplied `env`; only trusted `secretEnv` (vault handles the gate filled for
 * this destination) bypasses the name filter.
 */

export const BASE_ENV_ALLOW: readonly string[] = Object.freeze(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TERM', 'TZ']);

export const DEFAULT_SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const SECRET_NAME_PATTERNS: readonly RegExp[] = [
  /TOKEN/i,
  /SECRET/i,
  /KEY/i,
  /PASSWORD/i,
  /PASSWD/i,
  /PASSPHRASE/i,
  /CREDENTIAL/i,
  /AUTH/i,
  /COOKIE/i,
  /SESSION/i,
  /PRIVATE/i,
  /^AWS_/i,
  /^AZURE_/i,
  /^GOOGLE_/i,
  /^GCP_/i,
  /^GH_/i,
  /^GITHUB_/i,
  /^NPM_/i,
  /^DATABASE_URL$/i,
  /^GATEHOUSE_/i,
  /^SSH_AUTH_SOCK$/i,
  /^DOCKER_/i,
  /^KUBECONFIG$/i,
  /^VAULT_/i,
];

/**
 * Agent-supplied names the guard always denies (src/core/exec-env.ts: the loader and shell-startup
 * classes, which act on every program or on the shell before the command runs). The other classes
 * on that list (PATH, NODE_OPTIONS, EDITOR…) reach the sandbox only after the guard asked a person,
 * so they are kept: dropping an approved variable would run something other than what was approved.
 */
function deniedCallName(name: string): boolean {
  return execEnvVerdict(name) === 'deny';
}

export function isSecretLookingName(name: string): boolean {
  return SECRET_NAME_PATTERNS.some((re) => re.test(name));
}

export interface EnvBuildInput {
  hostEnv: NodeJS.ProcessEnv;
  /** Names the profile adds to the allowlist. */
  envAllow: readonly string[];
  /** Fixed values from configuration (trusted). */
  profileEnv: Readonly<Record<string, string>>;
  /** Per-call values (from the agent): secret-looking names and the exec-env deny classes are dropped. */
  callEnv?: Readonly<Record<string, string>>;
  /** Values filled from the vault by the gate (trusted, not filtered by name). */
  secretEnv?: Readonly<Record<string, string>>;
  home: string;
}

export interface BuiltEnv {
  env: Record<string, string>;
  /** Names that were offered and dropped (for the audit log; never values). */
  stripped: string[];
}

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildSandboxEnv(input: EnvBuildInput): BuiltEnv {
  const env: Record<string, string> = {};
  const stripped: string[] = [];
  const allow = new Set([...BASE_ENV_ALLOW, ...input.envAllow]);
  for (const name of allow) {
    const v = input.hostEnv[name];
    if (v === undefined) continue;
    if (isSecretLookingName(name) || !VALID_NAME.test(name) || v.includes('\0')) {
      stripped.push(name);
      continue;
    }
    env[name] = v;
  }
  // The host PATH may name directories the sandbox cannot see (pyenv shims under /root...).
  env.PATH = DEFAULT_SANDBOX_PATH;
  env.HOME = input.home;
  if (!env.LANG) env.LANG = 'C.UTF-8';
  for (const [k, v] of Object.entries(input.profileEnv)) env[k] = v;
  for (const [k, v] of Object.entries(input.callEnv ?? {})) {
    // INVARIANT: no agent-supplied loader or shell-startup variable (LD_PRELOAD, BASH_ENV, PS4…) enters the sandbox.
    if (!VALID_NAME.test(k) || isSecretLookingName(k) || deniedCallName(k) || v.includes('\0')) {
      stripped.push(k);
      continue;
    }
    env[k] = v;
  }
  for (const [k, v] of Object.entries(input.secretEnv ?? {})) {
    if (!VALID_NAME.test(k) || v.includes('\0')) {
      stripped.push(k);
      continue;
    }
    env[k] = v;
  }
  return { env, stripped };
}
