/**
 * Host key pinning. INVARIANT (enforced by `verifyPinned`, used by every connection this module
 * opens): a target whose host key is not pinned, or whose server presents a different key, is
 * refused during the handshake, before any credential is fetched or sent.
 *
 * ssh2 hands the hostVerifier the raw host key blob; the OpenSSH fingerprint is
 * 'SHA256:' + base64(sha256(blob)) without '=' padding, which is what `ssh-keygen -lf` prints.
 */
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { GatehouseError } from '../core/index.js';

export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named at the start of an SSH public key blob (string: uint32 length + bytes). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || blob.length < 4 + len) return 'unknown';
  return blob.subarray(4, 4 + len).toString('latin1');
}

const FP_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Accepts 'SHA256:…' (also without the prefix, or with '=' padding) and returns the canonical form. */
export function normalizeFingerprint(fp: string): string | undefined {
  let s = fp.trim();
  if (!s.startsWith('SHA256:')) s = 'SHA256:' + s;
  s = s.replace(/=+$/, '');
  return FP_RE.test(s) ? s : undefined;
}

export function hostKeyError(
  targetName: string,
  expected: string | undefined,
  presented: string,
  keyType: string,
): GatehouseError {
  const fix = `gatehouse target trust ${targetName}`;
  if (!expected) {
    return new GatehouseError(
      'host_key_mismatch',
      `host key of SSH target "${targetName}" is not pinned (expected: none pinned; presented: ${presented} ${keyType}); connection refused`,
      {
        hint: `verify the fingerprint out of band, then run \`${fix}\``,
        details: { target: targetName, expected: null, presented, keyType },
      },
    );
  }
  return new GatehouseError(
    'host_key_mismatch',
    `host key of SSH target "${targetName}" does not match the pinned key (expected: ${expected}; presented: ${presented} ${keyType}); connection refused`,
    {
      hint: `if the server's key was changed on purpose, verify the new fingerprint out of band and run \`${fix}\`; otherwise someone may be intercepting the connection`,
      details: { target: targetName, expected, presented, keyType },
    },
  );
}

/** Outcome holder filled by the verifier so the caller can raise a precise error after ssh2 fails. */
export interface HostKeyCheck {
  presented?: string;
  keyType?: string;
  refused?: GatehouseError;
}

/** Builds an ssh2 hostVerifier that only accepts the pinned fingerprint. */
export function pinnedVerifier(
  targetName: string,
  pinned: string | undefined,
  check: HostKeyCheck,
): (key: Buffer) => boolean {
  const expected = pinned === undefined ? undefined : normalizeFingerprint(pinned);
  return (key: Buffer) => {
    const presented = fingerprintOf(key);
    const keyType = keyTypeOf(key);
    check.presented = presented;
    check.keyType = keyType;
    // Fail closed: an unparsable pinned value counts as "not pinned".
    if (expected !== undefined && presented === expected) return true;
    check.refused = hostKeyError(
      targetName,
      pinned === undefined ? undefined : (expected ?? pinned),
      presented,
      keyType,
    );
    return false;
  };
}

/**
 * Connects, reads the server's host key and disconnects without authenticating (for
 * `gatehouse target trust`). Nothing is sent after the key exchange.
 */
export function fetchHostKeyFingerprint(
  host: string,
  port: number,
  timeoutMs = 10_000,
): Promise<{ fingerprint: string; keyType: string }> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let result: { fingerprint: string; keyType: string } | undefined;
    let settled = false;
    const finish = (err?: GatehouseError) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      if (result) resolve(result);
      else
        reject(
          err ??
            new GatehouseError('ssh_error', `could not read the host key of ${host}:${port}`, {
              hint: 'check host and port',
            }),
        );
    };
    client.on('error', (e: Error & { code?: string; level?: string }) => {
      if (result) return finish();
      const timedOut = e.level === 'client-timeout' || /timed out/i.test(e.message);
      finish(
        timedOut
          ? new GatehouseError('timeout', `no SSH handshake from ${host}:${port} within ${timeoutMs} ms`, {
              hint: 'check host, port and firewall',
            })
          : new GatehouseError('ssh_error', `could not connect to ${host}:${port}${e.code ? ` (${e.code})` : ''}`, {
              hint: 'check host, port and that sshd is running',
            }),
      );
    });
    client.on('close', () => finish());
    client.on('ready', () => finish());
    client.connect({
      host,
      port,
      username: 'gatehouse-probe',
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        result = { fingerprint: fingerprintOf(key), keyType: keyTypeOf(key) };
        return false; // stop here: the probe never authenticates
      },
    });
  });
}
