/**
 * The vault: sealed credentials (XChaCha20-Poly1305 under per-vault data keys wrapped by a master
 * key), destination-bound handles, and redaction of everything an agent or operator can see.
 * See README.md in this folder for the handle grammar, bindings and key rotation.
 */
export { openKeyring, type Keyring, type OpenKeyringOptions, type RekeyOptions, type RekeyResult } from './keyring.js';
export { decodeKeyText, type MasterKeySource } from './master-key.js';
export {
  openVault,
  Vault,
  type FillOptions,
  type FillResult,
  type ItemSummary,
  type SearchHit,
  type SearchQuery,
  type SecretSink,
  type SetFieldOptions,
  type VaultSummary,
} from './vault-service.js';
export { parseHandles, hasHandles, type HandleFilter, type ParsedHandle } from './handles.js';
export { parseBinding, bindingMatches, hostMatches, type Binding, type Destination } from './bindings.js';
export { parseFieldRef, type FieldRef } from './names.js';
export { Redactor, REDACTED, type RedactorOptions, type ChunkScrubber } from './redact/redactor.js';
export type { CustomPattern } from './redact/shapes.js';
export { installLogScrubbing } from './log-scrub.js';
export { openVaultFromEnv, type OpenedVault } from './open-from-env.js';
