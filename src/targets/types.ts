import type { HttpAuth } from '../upstream/index.js';
import type { ModelPreset } from './model-presets.js';

export type TargetKind = 'http' | 'ssh';

/** `vault:VAULT/ITEM.FIELD`: a reference to a sealed field, never a value. */
export type SecretRef = string;

export interface HttpTargetConfig {
  baseUrl: string;
  auth: HttpAuth;
  /** The credential injected on every request; absent when auth is `none`. */
  secret: SecretRef | null;
  allowPrivate: boolean;
  /** Follow redirects within the target's origin (default: return them unfollowed). */
  followRedirects: boolean;
  /** A model API made from a preset (`--preset`): `gatehouse run --model-gateway` points SDKs at it. */
  model?: ModelPreset;
  /** Request bodies are scanned before they leave (DLP; on by default for model presets). */
  dlp?: boolean;
}

export interface SshTargetConfig {
  host: string;
  port: number;
  user: string;
  key: SecretRef;
  passphrase: SecretRef | null;
  /** The pinned host key fingerprint (`SHA256:…`); without it nothing connects. */
  hostKey: string | null;
}

export type Target =
  | { name: string; kind: 'http'; description: string; config: HttpTargetConfig; createdAt: string; updatedAt: string }
  | { name: string; kind: 'ssh'; description: string; config: SshTargetConfig; createdAt: string; updatedAt: string };
