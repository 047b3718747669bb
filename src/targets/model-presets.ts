/**
 * Target presets for model APIs (issue 20 item 1): what each provider's API expects, so a person
 * adds one with `gatehouse target add http anthropic --preset anthropic --secret vault:…`, and
 * `gatehouse run --model-gateway` knows which variables point an agent's SDK at it.
 *
 * The agent inside the sandbox holds only its Gatehouse token, in the variables its SDK reads for
 * a key; the gateway drops the agent's `authorization` and sets the provider's own auth header
 * from the vault (for Anthropic, `x-api-key` replaces whatever the SDK sent in it).
 */
import type { HttpAuth } from '../upstream/index.js';

export type ModelPreset = 'anthropic' | 'openai';
export const MODEL_PRESETS: readonly ModelPreset[] = ['anthropic', 'openai'];

export interface ModelPresetSpec {
  /** The provider's API root (a person may point a target elsewhere with --base-url: a proxy, a fake). */
  baseUrl: string;
  auth: HttpAuth;
  /** The variable the provider's SDKs read for the API root. */
  baseUrlEnv: string;
  /** The variables its SDKs (and CLIs) read for a key: set to the agent's Gatehouse token. */
  keyEnv: readonly string[];
}

export const MODEL_PRESET_SPECS: Readonly<Record<ModelPreset, ModelPresetSpec>> = {
  anthropic: {
    baseUrl: 'https://api.anthropic.com',
    auth: { kind: 'header', name: 'x-api-key' },
    baseUrlEnv: 'ANTHROPIC_BASE_URL',
    // The SDK sends ANTHROPIC_AUTH_TOKEN as `Authorization: Bearer`, which the gateway reads (and
    // drops); ANTHROPIC_API_KEY goes in `x-api-key`, which the injected credential replaces.
    keyEnv: ['ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_API_KEY'],
  },
  openai: {
    baseUrl: 'https://api.openai.com/v1',
    auth: { kind: 'bearer' },
    baseUrlEnv: 'OPENAI_BASE_URL',
    keyEnv: ['OPENAI_API_KEY'],
  },
};

export function isModelPreset(v: unknown): v is ModelPreset {
  return typeof v === 'string' && (MODEL_PRESETS as readonly string[]).includes(v);
}
