export { TargetRepository } from './repository.js';
export { checkTargetName, parseSecretRef, validateHttpConfig, validateSshConfig } from './validate.js';
export type { Target, TargetKind, HttpTargetConfig, SshTargetConfig, SecretRef } from './types.js';
