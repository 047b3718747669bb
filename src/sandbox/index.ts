/**
 * The local sandbox: bubblewrap plans, enforced limits, deny_exec, allowlisted networking through
 * slirp4netns, and the `doctor` probe. Other modules import only from here.
 */
export {
  ALWAYS_DENY_READ,
  DEFAULT_LIMITS,
  DEFAULT_READ_ONLY_PATHS,
  defaultProfile,
  resolveProfile,
  validateProfile,
  type NetworkAllow,
  type SandboxLimitName,
  type SandboxLimits,
  type SandboxNetwork,
  type SandboxProfile,
  type SandboxProfileInput,
  type CheckpointPolicy,
} from './profile.js';
export { buildSandboxEnv, isSecretLookingName, type BuiltEnv, type EnvBuildInput } from './env.js';
export { planBwrap, planHides, SANDBOX_GID, SANDBOX_UID, type HidePlan, type PlanOptions } from './plan.js';
export { resolveDenyExec, type DenyExecTarget } from './deny-exec.js';
export { HOST_LOOPBACK, iptablesRules } from './network.js';
export { type AppliedLimits, type Enforcement } from './run-limits.js';
export { runSandboxed, type RunSandboxedOptions, type SandboxKind, type SandboxResult } from './run.js';
export {
  probeSandbox,
  workspaceCheck,
  type ProbeCheck,
  type ProbeResult,
  type ProbeStatus,
  type SandboxLevel,
} from './probe.js';
export { sandboxIdentity, checkWorkspaceReachable, type SandboxIdentity } from './identity.js';
