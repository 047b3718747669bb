import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransportFuture,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { cutText, GatehouseError, rowMac, rowMacValid, type MacField } from '../core/index.js';
import { isUniqueViolation, type Store } from '../store/index.js';

/** How long a challenge is good for (the browser's prompt and the person's touch fit easily). */
export const CHALLENGE_TTL_MS = 3 * 60_000;
const PASSKEY_MAC = 'console-passkey/v1';
const CHALLENGE_VERSION = 1;
/** Passkeys the console keeps at most (each is offered to the browser on every assertion). */
export const MAX_PASSKEYS = 50;

/**
 * What an assertion is for. The challenge is bound to the purpose and to `binding`, which the
 * server computes itself (never taken from the browser):
 * - `approve`: the approval id and its action digest (a passkey touch approves that action only);
 * - `add-passkey`: the session (adding a second passkey needs one already registered);
 * - `remove-passkey`: the credential id being removed;
 * - `create-token`: the exact scope of a token made on the tokens page (its secret is shown);
 * - `enroll`: the exact scope of the token an enrollment code will make (the Connect page);
 * - `rotate-token`: the id of the token whose new secret will be shown;
 * - `grant-access`: an access request with the target name, host key and duration it grants;
 * - `set-secret`: a vault field and the digest of the value it will hold;
 * - `takeover`: the SSH session id a person takes the terminal of;
 * - `accept-proposal`: a memory proposal's id, version and text digest;
 * - `publish-skill`: a skill's name, the digest published and the published version it replaces;
 * - `register`: the session (the creation ceremony's own challenge).
 */
export type PasskeyPurpose =
  | 'approve'
  | 'add-passkey'
  | 'remove-passkey'
  | 'create-token'
  | 'enroll'
  | 'rotate-token'
  | 'grant-access'
  | 'set-secret'
  | 'takeover'
  | 'accept-proposal'
  | 'publish-skill'
  | 'register';

export interface PasskeyInfo {
  id: string;
  /** A short digest of the credential id, for audit records (a label is chosen by whoever adds it). */
  fingerprint: string;
  label: string;
  createdBy: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** Where the browser is: the console's origin and the relying party id (its host name). */
export interface RelyingParty {
  origin: string;
  /** The host name of the console's origin; WebAuthn refuses IP addresses. */
  id: string;
}

interface PasskeyRow {
  credential_id: string;
  label: string;
  public_key: string;
  transports: string;
  created_by: string;
  created_at: number | string;
  counter: number | string;
  last_used_at: number | string | null;
  mac: string;
}

const fields = (
  r: Pick<PasskeyRow, 'credential_id' | 'label' | 'public_key' | 'created_by' | 'created_at'>,
): MacField[] => [r.credential_id, r.label, r.public_key, r.created_by, Number(r.created_at)];

const LABEL = /^[\p{L}\p{N} ._'()-]{1,60}$/u;
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** The relying party for an origin, or null when WebAuthn cannot work there (an IP address). */
export function relyingParty(origin: string): RelyingParty | null {
  const host = new URL(origin).hostname;
  if (/^[\d.]+$/.test(host) || host.startsWith('[')) return null;
  return { origin, id: host };
}

function refused(reason: string, message: string): GatehouseError {
  return new GatehouseError('approval_invalid', message, { details: { reason }, hint: 'touch your passkey again' });
}

/** The WebAuthn library, loaded on first use: `gatehouse mcp` and the CLI never pay for it. */
const webauthn = () => import('@simplewebauthn/server');

/**
 * Console passkeys (WebAuthn), for the decisions a cookie alone must not make: every server on
 * `localhost` shares cookies whatever its port, so once a passkey is registered an approval (and
 * adding or removing a passkey) needs a fresh, user-verified assertion.
 *
 * INVARIANTS (test/console/passkeys.test.ts, test/console/browser.test.ts):
 * - A challenge is `version | expiry | nonce | HMAC(console-passkey key, purpose, binding, session,
 *   expiry, nonce)`: it is good only for the purpose and binding the server computed (for an
 *   approval: its id and action digest), for the session that asked, until it expires.
 * - Each challenge's nonce is spent once, in the store (a primary key), so an assertion cannot be
 *   replayed for a second decision on any process.
 * - The assertion must come from a registered passkey (signed row), for this origin and relying
 *   party, with user verification.
 */
export class Passkeys {
  readonly #store: Store;
  readonly #integrityKey: Buffer;
  readonly #challengeKey: Buffer;
  readonly #now: () => number;

  private constructor(store: Store, integrityKey: Buffer, challengeKey: Buffer, now: () => number) {
    this.#store = store;
    this.#integrityKey = integrityKey;
    this.#challengeKey = challengeKey;
    this.#now = now;
  }

  static async open(
    ports: { store: Store; keyring: { internalKey(purpose: string): Promise<Buffer> } },
    opts: { now?: () => number } = {},
  ): Promise<Passkeys> {
    const [integrity, challenge] = await Promise.all([
      ports.keyring.internalKey('store-integrity'),
      ports.keyring.internalKey('console-passkey'),
    ]);
    return new Passkeys(ports.store, integrity, challenge, opts.now ?? Date.now);
  }

  /** The registered passkeys whose rows verify (a row written without the master key is not listed). */
  async list(): Promise<PasskeyInfo[]> {
    return (await this.#rows()).map((r) => ({
      id: r.credential_id,
      fingerprint: fingerprint(r.credential_id),
      label: r.label,
      createdBy: r.created_by,
      createdAt: Number(r.created_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    }));
  }

  /**
   * Whether decisions need a passkey: any row in the table, signed or not. Fail closed: rows a
   * database writer adds (unsigned, so never usable) make passkeys required rather than crowd the
   * real ones out of view; deleting every row is what `console.require_passkeys` guards against.
   */
  async required(): Promise<boolean> {
    const r = (await this.#store.db
      .selectFrom('console_passkeys')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst()) as { n: number | string | bigint } | undefined;
    return Number(r?.n ?? 0) > 0;
  }

  async #rows(): Promise<PasskeyRow[]> {
    const rows = (await this.#store.db
      .selectFrom('console_passkeys')
      .selectAll()
      .orderBy('created_at')
      .limit(MAX_PASSKEYS * 2)
      .execute()) as PasskeyRow[];
    return rows.filter((r) => rowMacValid(this.#integrityKey, PASSKEY_MAC, fields(r), r.mac));
  }

  /** A challenge bound to a purpose, binding and session (base64url). */
  challenge(purpose: PasskeyPurpose, binding: string, sessionHash: string): string {
    const expires = Buffer.alloc(8);
    expires.writeBigUInt64BE(BigInt(this.#now() + CHALLENGE_TTL_MS));
    const nonce = randomBytes(16);
    const head = Buffer.concat([Buffer.from([CHALLENGE_VERSION]), expires, nonce]);
    return Buffer.concat([head, this.#mac(purpose, binding, sessionHash, head)]).toString('base64url');
  }

  #mac(purpose: string, binding: string, sessionHash: string, head: Buffer): Buffer {
    return createHmac('sha256', this.#challengeKey)
      .update(`console-passkey-challenge/v1\u0000${purpose}\u0000${binding}\u0000${sessionHash}\u0000`)
      .update(head)
      .digest();
  }

  /** Checks a challenge the browser signed; returns its nonce (to spend) or null. */
  #challengeValid(text: string, purpose: PasskeyPurpose, binding: string, sessionHash: string): string | null {
    if (!/^[A-Za-z0-9_-]{76}$/.test(text)) return null;
    const raw = Buffer.from(text, 'base64url');
    if (raw.length !== 57 || raw[0] !== CHALLENGE_VERSION) return null;
    const head = raw.subarray(0, 25);
    const want = this.#mac(purpose, binding, sessionHash, head);
    if (!timingSafeEqual(want, raw.subarray(25))) return null;
    if (Number(head.readBigUInt64BE(1)) <= this.#now()) return null;
    return head.subarray(9).toString('base64url');
  }

  /** Options for `navigator.credentials.create` (a new passkey for this console). */
  async registrationOptions(
    rp: RelyingParty,
    sessionHash: string,
    userName: string,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { generateRegistrationOptions } = await webauthn();
    const existing = await this.#rows();
    if (existing.length >= MAX_PASSKEYS)
      throw new GatehouseError(
        'limit_exceeded',
        `the console keeps at most ${MAX_PASSKEYS} passkeys: remove one first`,
      );
    return generateRegistrationOptions({
      rpName: 'Gatehouse console',
      rpID: rp.id,
      userName,
      challenge: bytes(this.challenge('register', sessionHash, sessionHash)),
      attestationType: 'none',
      excludeCredentials: existing.map((r) => ({ id: r.credential_id, transports: transportsOf(r) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: CHALLENGE_TTL_MS,
    });
  }

  /** Options for `navigator.credentials.get`, bound to what the assertion will decide. */
  async assertionOptions(
    rp: RelyingParty,
    purpose: Exclude<PasskeyPurpose, 'register'>,
    binding: string,
    sessionHash: string,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { generateAuthenticationOptions } = await webauthn();
    const rows = await this.#rows();
    if (rows.length === 0) throw new GatehouseError('not_found', 'no passkey is registered in this console');
    return generateAuthenticationOptions({
      rpID: rp.id,
      challenge: bytes(this.challenge(purpose, binding, sessionHash)),
      allowCredentials: rows.map((r) => ({ id: r.credential_id, transports: transportsOf(r) })),
      userVerification: 'required',
      timeout: CHALLENGE_TTL_MS,
    });
  }

  /** Verifies a new passkey's attestation and stores it (signed). */
  async register(
    rp: RelyingParty,
    sessionHash: string,
    response: unknown,
    o: { label: string; createdBy: string },
  ): Promise<PasskeyInfo> {
    if (!LABEL.test(o.label))
      throw new GatehouseError('invalid_input', "a passkey name is 1-60 letters, digits, spaces or ._'()-");
    const { verifyRegistrationResponse } = await webauthn();
    let nonce: string | null = null;
    const result = await verifyRegistrationResponse({
      response: asCredential<RegistrationResponseJSON>(response),
      expectedChallenge: (c) => (nonce = this.#challengeValid(c, 'register', sessionHash, sessionHash)) !== null,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    }).catch((e: unknown) => {
      throw refused('registration', `the passkey could not be verified: ${(e as Error).message}`);
    });
    if (!result.verified || !result.registrationInfo || nonce === null)
      throw refused('registration', 'the passkey could not be verified');
    await this.#spend(nonce);
    const cred = result.registrationInfo.credential;
    const row = {
      credential_id: cred.id,
      label: o.label,
      public_key: Buffer.from(cred.publicKey).toString('base64url'),
      transports: (cred.transports ?? []).filter((t) => TRANSPORTS.has(t)).join(','),
      created_by: o.createdBy,
      created_at: this.#now(),
      counter: cred.counter,
      last_used_at: null,
    };
    try {
      await this.#store.db
        .insertInto('console_passkeys')
        .values({ ...row, mac: rowMac(this.#integrityKey, PASSKEY_MAC, fields(row)) })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new GatehouseError('conflict', 'that passkey is already registered');
      throw e;
    }
    return {
      id: row.credential_id,
      fingerprint: fingerprint(row.credential_id),
      label: row.label,
      createdBy: row.created_by,
      createdAt: row.created_at,
      lastUsedAt: null,
    };
  }

  /**
   * Verifies an assertion for `purpose` and `binding` (both computed by the caller, never read
   * from the request) and spends its challenge. Throws `approval_invalid` on anything short of a
   * fresh, user-verified assertion from a registered passkey.
   */
  async verify(
    rp: RelyingParty,
    purpose: Exclude<PasskeyPurpose, 'register'>,
    binding: string,
    sessionHash: string,
    response: unknown,
  ): Promise<PasskeyInfo> {
    const credential = asCredential<AuthenticationResponseJSON>(response);
    const row = (await this.#rows()).find((r) => r.credential_id === credential.id);
    if (!row) throw refused('unknown-passkey', 'that passkey is not registered in this console');
    const { verifyAuthenticationResponse } = await webauthn();
    let nonce: string | null = null;
    const result = await verifyAuthenticationResponse({
      response: credential,
      expectedChallenge: (c) => (nonce = this.#challengeValid(c, purpose, binding, sessionHash)) !== null,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: row.credential_id,
        publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')),
        counter: Number(row.counter),
        transports: transportsOf(row),
      },
      requireUserVerification: true,
    }).catch((e: unknown) => {
      throw refused('assertion', `the passkey answer did not verify: ${(e as Error).message}`);
    });
    if (!result.verified || nonce === null || !result.authenticationInfo.userVerified)
      throw refused('assertion', 'the passkey answer did not verify');
    await this.#spend(nonce);
    await this.#store.db
      .updateTable('console_passkeys')
      .set({ counter: result.authenticationInfo.newCounter, last_used_at: this.#now() })
      .where('credential_id', '=', row.credential_id)
      .execute();
    return {
      id: row.credential_id,
      fingerprint: fingerprint(row.credential_id),
      label: row.label,
      createdBy: row.created_by,
      createdAt: Number(row.created_at),
      lastUsedAt: this.#now(),
    };
  }

  /** Removes a passkey (the caller has verified a `remove-passkey` assertion for it). */
  async remove(id: string): Promise<boolean> {
    const r = await this.#store.db.deleteFrom('console_passkeys').where('credential_id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Spends a challenge nonce; a second spend (a replay) is refused. */
  async #spend(nonce: string): Promise<void> {
    const now = this.#now();
    await this.#store.db.deleteFrom('console_passkey_nonces').where('expires_at', '<', now).execute();
    try {
      await this.#store.db
        .insertInto('console_passkey_nonces')
        .values({ nonce, expires_at: now + CHALLENGE_TTL_MS })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw refused('replayed', 'that passkey answer was already used');
      throw e;
    }
  }
}

/** `pk:` and 16 hex digits of the credential id's SHA-256: names a passkey in audit records. */
export function fingerprint(credentialId: string): string {
  return `pk:${cutText(createHash('sha256').update(credentialId, 'utf8').digest('hex'), 16)}`;
}

/** The library takes a string challenge as UTF-8 text; ours is base64url of raw bytes. */
function bytes(base64url: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(base64url, 'base64url'));
}

function transportsOf(r: Pick<PasskeyRow, 'transports'>): AuthenticatorTransportFuture[] {
  return r.transports.split(',').filter((t): t is AuthenticatorTransportFuture => TRANSPORTS.has(t));
}

/** A credential as the browser's JSON form sends it; the library checks every field it reads. */
function asCredential<T extends { id: string }>(v: unknown): T {
  const parsed = typeof v === 'string' ? safeJson(v) : v;
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { id?: unknown }).id !== 'string')
    throw refused('malformed', 'the passkey answer is missing or malformed');
  return parsed as T;
}

function safeJson(text: string): unknown {
  if (text.length > 64 * 1024) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
