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
  INTEGRITY_KEY,
  type FillOptions,
  type FillResult,
  type ItemSummary,
  type SearchHit,
  type SearchQuery,
  type SecretSink,
  type SetFieldOptions,
  type ShellFillOptions,
  type ShellFillResult,
  type VaultSummary,
} from './vault-service.js';
export { parseHandles, hasHandles, type HandleFilter, type ParsedHandle } from './handles.js';
export {
  parseBinding,
  bindingMatches,
  commandBinding,
  formatBinding,
  hostMatches,
  type Binding,
  type BindingKind,
  type CommandBinding,
  type Destination,
  type ShellUse,
} from './bindings.js';
export { parseFieldRef, type FieldRef } from './names.js';
export { Redactor, REDACTED, type Audience, type RedactorOptions, type Scrub } from './redact/redactor.js';
export { isGuessable } from './redact/strength.js';
export { guessWindows, GUESS_WINDOW_MAX } from './redact/guess.js';
export { ScrubCap, scrubThenCap, scrubThenCapText, type CappedBytes, type CappedText } from './redact/cap.js';
export type { CustomPattern } from './redact/shapes.js';
export { installLogScrubbing } from './log-scrub.js';
export { seal as sealBytes, open as openSealed, type Sealed } from './seal.js';
