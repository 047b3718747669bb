/**
 * Inbound webhooks (issue 16): verification presets first (this step); ingest, dedupe, the
 * leased queue and poll/ack build on it.
 */
export {
  customScheme,
  KEPT_HEADERS,
  PRESETS,
  sameBytes,
  type CustomScheme,
  type InboundRequest,
  type PresetName,
  type Refused,
  type RejectReason,
  type Verification,
  type Verified,
  type Verifier,
  type VerifyKeys,
  type VerifyOptions,
} from './verify.js';
