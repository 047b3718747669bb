import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatehouseError, rowMac, rowMacValid, truncateText, type MacField } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import type { Store } from '../store/index.js';

/** A one-time login code (`gatehouse console`) is good for this long, once. */
export const LOGIN_CODE_TTL_MS = 60_000;
/** How long a passkey setup code is good for. */
export const PASSKEY_SETUP_TTL_MS = 10 * 60_000;
/** A session unused for this long is over. */
export const SESSION_IDLE_MS = 30 * 60_000;
/** A session is over this long after login, however much it is used. */
export const SESSION_MAX_MS = 12 * 3_600_000;
/** `last_seen_at` is written at most this often per session (a page view is not a write each time). */
const TOUCH_EVERY_MS = 15_000;

const SESSION_MAC = 'console-session/v1';
const CODE_MAC = 'console-login-code/v1';
const SETUP_MAC = 'console-passkey-setup/v1';
/** 256 random bits in base64url: a cookie value and a login code look like this, and nothing else is looked up. */
const SECRET_TEXT = /^[A-Za-z0-9_-]{43}$/;

/** What the console needs of the keyring and the tokens (a `Runtime` has both). */
export interface SessionPorts {
  store: Store;
  keyring: { internalKey(purpose: string): Promise<Buffer> };
  tokens: {
    authenticate(token: string | undefined | null): Promise<Principal>;
    isActive(id: string): Promise<boolean>;
  };
}

/** A live console session, as read from its verified row. */
export interface ConsoleSession {
  /** SHA-256 (hex) of the cookie value: the row's key; never the value itself. */
  idHash: string;
  /** The admin token the session was opened with; null for a one-time login link. */
  tokenId: string | null;
  /** Who: `login-link:USER` or the admin token's name. */
  label: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** A login's outcome: a new session and its cookie value, or why not (for the audit log, never shown apart). */
export type LoginResult =
  { ok: true; session: ConsoleSession; cookie: string } | { ok: false; reason: string; tokenId?: string };

interface SessionRow {
  id_hash: string;
  token_id: string | null;
  label: string;
  created_at: number | string;
  last_seen_at: number | string;
  expires_at: number | string;
  revoked_at: number | string | null;
  mac: string;
}

interface CodeRow {
  code_hash: string;
  created_by: string;
  expires_at: number | string;
  used_at: number | string | null;
  mac: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const sessionFields = (r: {
  id_hash: string;
  token_id: string | null;
  label: string;
  created_at: number | string;
  expires_at: number | string;
}): MacField[] => [r.id_hash, r.token_id, r.label, Number(r.created_at), Number(r.expires_at)];
const codeFields = (r: { code_hash: string; created_by: string; expires_at: number | string }): MacField[] => [
  r.code_hash,
  r.created_by,
  Number(r.expires_at),
];

/**
 * Console login and sessions.
 *
 * INVARIANTS (test/console/*.test.ts):
 * - A session's cookie value is 256 random bits made here at each login (never one a browser
 *   offers: rotated at login, so a planted cookie cannot become a session); only its SHA-256 is
 *   stored.
 * - A login code is 256 random bits, stored as its hash, good for LOGIN_CODE_TTL_MS and once: it
 *   is spent in one UPDATE that also checks it is unused and unexpired, so two logins racing with
 *   one code cannot both win.
 * - Only an admin token opens a session; an agent token is refused. A session opened with a token
 *   ends when that token is revoked or expires.
 * - A session ends at logout (revoked), after SESSION_IDLE_MS unused, and SESSION_MAX_MS after
 *   login whatever happens. Session and code rows are signed under the store-integrity key: a row
 *   written or stretched without the master key opens nothing.
 * - The CSRF token is HMAC(console-csrf key, session id hash), compared in constant time.
 */
export class ConsoleSessions {
  readonly #store: Store;
  readonly #tokens: SessionPorts['tokens'];
  readonly #integrityKey: Buffer;
  readonly #csrfKey: Buffer;
  readonly #now: () => number;

  private constructor(ports: SessionPorts, integrityKey: Buffer, csrfKey: Buffer, now: () => number) {
    this.#store = ports.store;
    this.#tokens = ports.tokens;
    this.#integrityKey = integrityKey;
    this.#csrfKey = csrfKey;
    this.#now = now;
  }

  static async open(ports: SessionPorts, opts: { now?: () => number } = {}): Promise<ConsoleSessions> {
    const [integrity, csrf] = await Promise.all([
      ports.keyring.internalKey('store-integrity'),
      ports.keyring.internalKey('console-csrf'),
    ]);
    return new ConsoleSessions(ports, integrity, csrf, opts.now ?? Date.now);
  }

  /** Makes a one-time login code (shown once, by `gatehouse console`); `createdBy` is the operator. */
  createLoginCode(createdBy: string): Promise<{ code: string; expiresAt: number }> {
    return this.#createCode(CODE_MAC, createdBy, LOGIN_CODE_TTL_MS);
  }

  /** A one-time code of a kind (its MAC kind), stored as its hash with a signed row. */
  async #createCode(kind: string, createdBy: string, ttlMs: number): Promise<{ code: string; expiresAt: number }> {
    const code = randomBytes(32).toString('base64url');
    const row = {
      code_hash: sha256(code),
      created_by: truncateText(createdBy, 100),
      expires_at: this.#now() + ttlMs,
    };
    await this.#store.db
      .insertInto('console_login_codes')
      .values({ ...row, used_at: null, mac: rowMac(this.#integrityKey, kind, codeFields(row)) })
      .execute();
    return { code, expiresAt: row.expires_at };
  }

  /**
   * A one-time code for registering the console's first passkey (`gatehouse console
   * --passkey-setup`), good for PASSKEY_SETUP_TTL_MS. Kept with login codes but signed as another
   * kind, so a setup code never logs anyone in and a login code never sets up a passkey.
   *
   * Why: without one, whoever holds a console cookie (12 hours at most) could register their own
   * passkey first and become a lasting approver. The setup code comes from someone with a shell on
   * the server, as the login link does.
   */
  createPasskeySetupCode(createdBy: string): Promise<{ code: string; expiresAt: number }> {
    return this.#createCode(SETUP_MAC, createdBy, PASSKEY_SETUP_TTL_MS);
  }

  /** Spends a passkey setup code; true when it was one, unused and unexpired. */
  async spendPasskeySetupCode(code: string): Promise<boolean> {
    return (await this.#spendCode(code, SETUP_MAC)).ok;
  }

  /**
   * Spends a one-time code of a kind. INVARIANT: single use: the code is spent in one UPDATE that
   * also checks it is unused and unexpired, so only one request goes on; a row written without
   * the master key (or signed as another kind) is spent too and lets nobody in.
   */
  async #spendCode(code: string, kind: string): Promise<{ ok: true; row: CodeRow } | { ok: false; reason: string }> {
    if (!SECRET_TEXT.test(code)) return { ok: false, reason: 'malformed_code' };
    const hash = sha256(code);
    const now = this.#now();
    const res = await this.#store.db
      .updateTable('console_login_codes')
      .set({ used_at: now })
      .where('code_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    const row = (await this.#store.db
      .selectFrom('console_login_codes')
      .selectAll()
      .where('code_hash', '=', hash)
      .executeTakeFirst()) as CodeRow | undefined;
    if (Number(res.numUpdatedRows) !== 1) {
      if (!row) return { ok: false, reason: 'unknown_code' };
      return { ok: false, reason: row.used_at !== null ? 'used_code' : 'expired_code' };
    }
    if (!row || !rowMacValid(this.#integrityKey, kind, codeFields(row), row.mac))
      return { ok: false, reason: 'tampered_code' };
    return { ok: true, row };
  }

  /** Spends a login code and opens a session for the operator who made it. */
  async loginWithCode(code: string): Promise<LoginResult> {
    const spent = await this.#spendCode(code, CODE_MAC);
    if (!spent.ok) return spent;
    return this.#open(null, `login-link:${spent.row.created_by}`);
  }

  /** Opens a session with an admin token (pasted into the login form). Agent tokens are refused. */
  async loginWithToken(token: string): Promise<LoginResult> {
    let principal: Principal;
    try {
      principal = await this.#tokens.authenticate(token);
    } catch (e) {
      if (e instanceof GatehouseError && e.code === 'unauthenticated') return { ok: false, reason: 'bad_token' };
      throw e;
    }
    // INVARIANT: agent tokens never open a console session.
    if (!principal.admin) return { ok: false, reason: 'not_admin', tokenId: principal.tokenId };
    return this.#open(principal.tokenId, principal.tokenName);
  }

  async #open(tokenId: string | null, label: string): Promise<LoginResult> {
    const cookie = randomBytes(32).toString('base64url');
    const now = this.#now();
    const row = {
      id_hash: sha256(cookie),
      token_id: tokenId,
      label: truncateText(label, 180),
      created_at: now,
      expires_at: now + SESSION_MAX_MS,
    };
    await this.#store.db
      .insertInto('console_sessions')
      .values({
        ...row,
        last_seen_at: now,
        revoked_at: null,
        mac: rowMac(this.#integrityKey, SESSION_MAC, sessionFields(row)),
      })
      .execute();
    // Sessions past their absolute expiry are of no use to anyone: dropped as new ones open.
    await this.purge();
    return {
      ok: true,
      cookie,
      session: {
        idHash: row.id_hash,
        tokenId,
        label: row.label,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: row.expires_at,
      },
    };
  }

  /**
   * The live session among the cookie values a browser sent (another server on localhost can set a
   * cookie of the same name: each value is tried, none is trusted), or null. Refreshes its idle
   * clock.
   */
  async current(cookieValues: readonly string[], o: { touch?: boolean } = {}): Promise<ConsoleSession | null> {
    for (const value of cookieValues.slice(0, 4)) {
      if (!SECRET_TEXT.test(value)) continue;
      const s = await this.#live(sha256(value), o.touch ?? true);
      if (s) return s;
    }
    return null;
  }

  /**
   * Whether a session is still live, without counting as activity: an open live stream checks this
   * (so logout, expiry or a revoked token end it) but never keeps an idle session alive by itself.
   */
  async stillLive(idHash: string): Promise<boolean> {
    return (await this.#live(idHash, false)) !== null;
  }

  async #live(idHash: string, touch = true): Promise<ConsoleSession | null> {
    const row = (await this.#store.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst()) as SessionRow | undefined;
    if (!row || row.revoked_at !== null) return null;
    if (!rowMacValid(this.#integrityKey, SESSION_MAC, sessionFields(row), row.mac)) return null;
    const now = this.#now();
    const lastSeen = Number(row.last_seen_at);
    if (now >= Number(row.expires_at) || now - lastSeen >= SESSION_IDLE_MS) return null;
    // A session opened with a token lives no longer than the token.
    if (row.token_id !== null && !(await this.#tokens.isActive(row.token_id))) return null;
    if (touch && now - lastSeen >= TOUCH_EVERY_MS)
      await this.#store.db
        .updateTable('console_sessions')
        .set({ last_seen_at: now })
        .where('id_hash', '=', idHash)
        .where('revoked_at', 'is', null)
        .execute();
    return {
      idHash,
      tokenId: row.token_id,
      label: row.label,
      createdAt: Number(row.created_at),
      lastSeenAt: now,
      expiresAt: Number(row.expires_at),
    };
  }

  /** Ends a session (logout, or the one a new login replaces). */
  async revoke(idHash: string): Promise<void> {
    await this.#store.db
      .updateTable('console_sessions')
      .set({ revoked_at: this.#now() })
      .where('id_hash', '=', idHash)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** The synchronizer token a session's forms carry. */
  csrfToken(s: Pick<ConsoleSession, 'idHash'>): string {
    return createHmac('sha256', this.#csrfKey).update(`console-csrf/v1\u0000${s.idHash}`).digest('base64url');
  }

  /** Constant-time check of a form's CSRF token against the session's. */
  csrfValid(s: Pick<ConsoleSession, 'idHash'>, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const want = Buffer.from(this.csrfToken(s), 'utf8');
    const got = Buffer.from(given, 'utf8');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Deletes sessions and codes past their absolute expiry (and an hour more). */
  async purge(): Promise<void> {
    const before = this.#now() - 3_600_000;
    await this.#store.db.deleteFrom('console_sessions').where('expires_at', '<', before).execute();
    await this.#store.db.deleteFrom('console_login_codes').where('expires_at', '<', before).execute();
  }
}
