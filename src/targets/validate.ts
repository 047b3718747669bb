import { isIPv6 } from 'node:net';
import { GatehouseError, truncateText } from '../core/index.js';
import { parseFieldRef } from '../vault/index.js';
import type { HttpTargetConfig, SecretRef, SshTargetConfig } from './types.js';
import { isModelPreset, MODEL_PRESETS } from './model-presets.js';

export const TARGET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/*
 * Every validator here either returns a valid config or throws a GatehouseError with a hint: input
 * of any shape (wrong types, odd Unicode, malformed URLs) never reaches a raw exception
 * (test/targets/validate.test.ts fuzzes them). Types are checked first, so nothing below calls a
 * string method on something that is not a string.
 */

function invalid(message: string, hint: string): GatehouseError {
  return new GatehouseError('invalid_input', message, { hint });
}

/** Shows operator input in an error without flooding it (and without control characters). */
function shown(v: unknown): string {
  return JSON.stringify(typeof v === 'string' ? truncateText(v, 100) : truncateText(String(v), 100));
}

export function checkTargetName(name: string): string {
  if (typeof name !== 'string' || !TARGET_NAME.test(name)) {
    throw invalid(
      `invalid target name ${shown(name)}`,
      'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  return name;
}

/** Checks a `vault:VAULT/ITEM.FIELD` reference and returns the `VAULT/ITEM.FIELD` part. */
export function parseSecretRef(ref: SecretRef, flag: string): { ref: string; vault: string } {
  if (typeof ref !== 'string' || !ref.startsWith('vault:')) {
    throw invalid(
      `${flag} must be a vault reference, not a value`,
      `store the secret with \`gatehouse vault set VAULT/ITEM.FIELD\` and pass ${flag} vault:VAULT/ITEM.FIELD`,
    );
  }
  const parsed = parseFieldRef(ref.slice('vault:'.length));
  return { ref: `${parsed.vault}/${parsed.item}.${parsed.field}`, vault: parsed.vault };
}

const ZONE_HINT =
  "an IPv6 zone id (the %eth0 in fe80::1%eth0) names a link-local address that only means something on one host's interface; use a routable address or a host name";

/**
 * The host of an HTTP base URL, for the CLI's checks before the config is stored. Refuses what
 * `new URL` would throw on with a typed error (zone ids first, since the URL parser rejects them
 * with a bare "Invalid URL").
 */
export function baseUrlHost(baseUrl: string): string {
  if (typeof baseUrl !== 'string' || baseUrl.length === 0 || baseUrl.length > 2048)
    throw invalid('base URL is missing or too long', 'e.g. --base-url https://api.example.com/v1');
  if (/\[[^\]]*%/.test(baseUrl)) throw invalid(`base URL ${shown(baseUrl)} has an IPv6 zone id`, ZONE_HINT);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw invalid(`base URL ${shown(baseUrl)} is not an absolute URL`, 'e.g. --base-url https://api.example.com/v1');
  }
  if (!url.hostname) throw invalid(`base URL ${shown(baseUrl)} has no host`, 'e.g. https://api.example.com');
  return url.hostname;
}

/**
 * Validates an HTTP target's config with the upstream executor's own rules. The executors are
 * loaded here, on demand, so a process that only serves tools does not load undici or ssh2 at start.
 */
export async function validateHttpConfig(name: string, c: HttpTargetConfig): Promise<HttpTargetConfig> {
  if (c === null || typeof c !== 'object') throw invalid('the target config is missing', 'give --base-url and --auth');
  checkTargetName(name);
  baseUrlHost(c.baseUrl);
  if (typeof c.allowPrivate !== 'boolean' || typeof c.followRedirects !== 'boolean')
    throw invalid(
      'allowPrivate and followRedirects must be true or false',
      'use the --allow-private / --follow-redirects switches',
    );
  if (c.model !== undefined && !isModelPreset(c.model))
    throw invalid(`unknown model preset ${shown(String(c.model))}`, `presets: ${MODEL_PRESETS.join(', ')}`);
  if (c.dlp !== undefined && typeof c.dlp !== 'boolean')
    throw invalid('dlp must be true or false', 'use --dlp or --no-dlp');
  if (c.secret !== null && typeof c.secret !== 'string')
    throw invalid('--secret must be a vault reference', 'pass --secret vault:VAULT/ITEM.FIELD');
  const { validateTargetSpec } = await import('../upstream/index.js');
  guarded(
    () => validateTargetSpec({ name, baseUrl: c.baseUrl, auth: c.auth, allowPrivate: c.allowPrivate }),
    'the HTTP target settings',
  );
  if (c.auth.kind === 'none' && c.secret)
    throw invalid('--secret given with --auth none', 'drop --secret or choose an auth kind');
  if (c.auth.kind !== 'none' && !c.secret)
    throw new GatehouseError('invalid_input', `--auth ${c.auth.kind} needs --secret vault:VAULT/ITEM.FIELD`);
  if (c.secret) parseSecretRef(c.secret, '--secret');
  return c;
}

/** A host name (RFC 1123 labels), an IPv4 address, or an IPv6 address (brackets optional, stored without). */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Checks an SSH host and returns it as stored (IPv6 without brackets). */
export function checkSshHost(host: unknown): string {
  if (typeof host !== 'string' || host.length === 0) throw invalid('--host is missing', 'a host name or IP address');
  if (host.includes('%')) throw invalid(`invalid --host ${shown(host)}: it has an IPv6 zone id`, ZONE_HINT);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv6(bare)) return bare.toLowerCase();
  if (bare === host && HOST_NAME.test(host)) return host;
  throw invalid(
    `invalid --host ${shown(host)}`,
    'a host name (e.g. db1.example.com) or an IP address (e.g. 10.0.0.5, 2001:db8::5)',
  );
}

export async function validateSshConfig(c: SshTargetConfig): Promise<SshTargetConfig> {
  if (c === null || typeof c !== 'object')
    throw invalid('the target config is missing', 'give --host, --user and --key');
  const { normalizeFingerprint } = await import('../ssh/index.js');
  const host = checkSshHost(c.host);
  if (typeof c.port !== 'number' || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535)
    throw invalid(`invalid --port ${shown(c.port)}`, 'a port from 1 to 65535');
  if (typeof c.user !== 'string' || !/^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/.test(c.user))
    throw invalid(`invalid --user ${shown(c.user)}`, 'a login name: letters, digits, ".", "_" or "-" (at most 32)');
  parseSecretRef(c.key, '--key');
  if (c.passphrase !== null) parseSecretRef(c.passphrase, '--passphrase');
  let hostKey: string | null = null;
  if (c.hostKey !== null) {
    const fp =
      typeof c.hostKey === 'string'
        ? guarded(() => normalizeFingerprint(c.hostKey as string), '--host-key')
        : undefined;
    if (!fp)
      throw invalid(
        `invalid --host-key ${shown(c.hostKey)}`,
        'use the SHA256:… fingerprint `ssh-keygen -lf` prints, or run `gatehouse target trust NAME`',
      );
    hostKey = fp;
  }
  return { ...c, host, hostKey };
}

/** Runs a validator from another module; anything it throws that is not a GatehouseError becomes one. */
function guarded<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof GatehouseError) throw e;
    throw new GatehouseError('invalid_input', `${what} could not be validated`, {
      hint: 'check each value against `gatehouse target --help`',
      cause: e,
    });
  }
}
