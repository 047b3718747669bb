/**
 * The undici connector that enforces the SSRF policy at connect time.
 *
 * Invariant: a socket is only ever opened to an address that passed checkAddress, and it is opened
 * to exactly that address: the name is resolved once here, every resolved address is checked (one
 * bad address refuses the whole answer), and the socket dials the checked IP literal, so a second
 * resolution (DNS rebinding) never happens. IP-literal hosts are checked the same way (net.connect
 * would skip `lookup` for them). TLS still verifies the certificate against the original name.
 */
import dns from 'node:dns';
import net from 'node:net';
import { buildConnector } from 'undici';
import { GatehouseError } from '../core/index.js';
import { checkAddress } from './address-policy.js';

export interface LookupAddress {
  address: string;
  family: number;
}

/** dns.lookup-shaped: called with `{ all: true }`; may answer with an array or a single address. */
export type LookupFunction = (
  hostname: string,
  options: { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[] | string, family?: number) => void,
) => void;

export interface SafeConnectorOptions {
  targetName: string;
  allowPrivate: boolean;
  lookup?: LookupFunction;
  connectTimeoutMs: number;
}

const defaultLookup: LookupFunction = (hostname, options, callback) =>
  dns.lookup(hostname, options, (err, addresses) => callback(err, addresses));

function resolveAll(lookup: LookupFunction, hostname: string, timeoutMs: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(
        new GatehouseError('timeout', 'name resolution timed out', { hint: 'check the target host name and DNS' }),
      );
    }, timeoutMs);
    try {
      lookup(hostname, { all: true }, (err, addresses, family) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          reject(
            new GatehouseError('upstream_error', `could not resolve the target host (${err.code ?? 'lookup failed'})`, {
              hint: 'check the target base URL and DNS',
            }),
          );
          return;
        }
        resolve(
          typeof addresses === 'string' ? [{ address: addresses, family: family ?? net.isIP(addresses) }] : addresses,
        );
      });
    } catch (e) {
      done = true;
      clearTimeout(timer);
      reject(
        new GatehouseError('upstream_error', 'could not resolve the target host', {
          hint: 'check the target base URL and DNS',
          cause: e,
        }),
      );
    }
  });
}

export function ssrfError(targetName: string, reason: string): GatehouseError {
  return new GatehouseError(
    'ssrf_blocked',
    `target "${targetName}" resolves to a ${reason.replace('_', '-')} address; refused before connecting`,
    {
      hint: 'only public addresses are reachable; recreate the target with --allow-private if it really is on a private network',
      details: { target: targetName, reason },
    },
  );
}

/** Picks the address to dial after checking all of them. Exported for tests and the `doctor` view. */
export async function resolveAllowedAddress(
  hostname: string,
  opts: Pick<SafeConnectorOptions, 'targetName' | 'allowPrivate' | 'lookup' | 'connectTimeoutMs'>,
): Promise<string> {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const addresses = net.isIP(host)
    ? [{ address: host, family: net.isIP(host) }]
    : await resolveAll(opts.lookup ?? defaultLookup, host, opts.connectTimeoutMs);
  if (!Array.isArray(addresses) || addresses.length === 0) {
    throw new GatehouseError('upstream_error', 'the target host resolved to no address', {
      hint: 'check the target base URL and DNS',
    });
  }
  for (const a of addresses) {
    const verdict = checkAddress(String(a?.address ?? ''), opts.allowPrivate);
    if (!verdict.allowed) throw ssrfError(opts.targetName, verdict.reason);
  }
  // The loop has refused an absent entry already (checkAddress('') is 'invalid').
  const [first] = addresses;
  if (first === undefined) throw ssrfError(opts.targetName, 'invalid');
  return first.address;
}

/** Builds the connector passed as `connect` to the target's undici Pool. */
export function buildSafeConnector(opts: SafeConnectorOptions): buildConnector.connector {
  // HTTP/1.1 only, said out loud: undici 7 offers only it by default, undici 8 would also offer
  // HTTP/2 in the TLS handshake and silently move every upstream that speaks it (measured; NOTES).
  // The streaming proxy, header filtering and limits are built and tested for HTTP/1.1.
  const inner = buildConnector({ timeout: opts.connectTimeoutMs, allowH2: false });
  return (options, callback) => {
    resolveAllowedAddress(options.hostname, opts).then(
      (ip) => {
        const servername = options.servername ?? (net.isIP(options.hostname) ? undefined : options.hostname);
        inner({ ...options, hostname: ip, ...(servername ? { servername } : {}) }, callback);
      },
      (err: Error) => callback(err, null),
    );
  };
}
