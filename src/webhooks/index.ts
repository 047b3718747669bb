/**
 * Inbound webhooks (issue 16): endpoints (signed rows, secrets in the vault), verification presets,
 * ingest (verify the raw bytes, dedupe, queue, audit), the leased queue agents poll and ack, and
 * what agents are shown of an event. Nothing here knows about HTTP or MCP.
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
export {
  activeSecrets,
  addressAllowed,
  checkEndpointName,
  checkSecretRef,
  DEFAULTS as WEBHOOK_DEFAULTS,
  MAX_BODY_CAP,
  PROVIDERS,
  validateConfig,
  type Endpoint,
  type EndpointConfig,
  type EndpointSecret,
  type Instructions,
  type ProviderName,
} from './endpoint.js';
export { EndpointRepository, URL_KEY, urlKeyHash, withDefaults, type EndpointKeys } from './endpoints.js';
export {
  DEFAULT_LEASE_S,
  EVENT_STATES,
  MAX_LEASE_S,
  WebhookQueue,
  type AckItem,
  type AckOutcome,
  type AckResult,
  type EventState,
  type InboxStats,
  type LeasedEvent,
  type NewEvent,
  type StoredEvent,
} from './queue.js';
export {
  keptHeaderNames,
  WebhookIngest,
  type IngestAnswer,
  type IngestDeps,
  type IngestOutcome,
  type InboundWebhook,
} from './ingest.js';
export {
  agentEvent,
  agentPayload,
  eventResourceUri,
  inboxResourceUri,
  INLINE_PAYLOAD_CHARS,
  RESOURCE_PAYLOAD_CHARS,
  type AgentEvent,
  type AgentPayload,
} from './payload.js';
export { sampleEvent, signSample } from './sample.js';
