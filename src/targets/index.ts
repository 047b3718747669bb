export { TargetRepository, type IntegrityKeys, type RejectedTarget } from './repository.js';
export {
  baseUrlHost,
  checkSshHost,
  checkTargetName,
  parseSecretRef,
  validateHttpConfig,
  validateSshConfig,
} from './validate.js';
export type { Target, TargetKind, HttpTargetConfig, SshTargetConfig, SecretRef } from './types.js';
export {
  MODEL_PRESETS,
  MODEL_PRESET_SPECS,
  isModelPreset,
  type ModelPreset,
  type ModelPresetSpec,
} from './model-presets.js';
