import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { cutText, GatehouseError, log, type MacField, rowMac, rowMacValid } from '../core/index.js';
import type { ApprovalMode } from '../approvals/index.js';
import { isUniqueViolation, type Store } from '../store/index.js';
import { formatGrant, parseGrant, type Grant } from './grants.js';

/** Token text: `gh_` + 43 base64url characters (32 random bytes = 256 bits). */
export const TOKEN_PREFIX = 'gh_';
const TOKEN_FORMAT = /^gh_[A-Za-z0-9_-]{43}$/;
/** How long an authenticated token is trusted before the store is asked again (revocation bound). */
export const TOKEN_CACHE_MS = 1000;

export interface TokenInfo {
  id: string;
  name: string;
  /** The first characters of the token, enough to recognise it; never enough to use it. */
  prefix: string;
  grants: Grant[];
  policy: string | null;
  approvalMode: ApprovalMode | null;
  admin: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The user the token is bound to, or null. */
  user: string | null;
  /**
   * Grants added after the token was made (approved access requests), each until its time or
   * null; they count on top of `grants`. Listings fill it; elsewhere it is empty.
   */
  addedGrants: AddedGrant[];
  /**
   * The row's signature checks. false: it was written or changed outside Gatehouse (or is from
   * before rows were signed and was never signed), and the token is refused.
   */
  verified: boolean;
}

/** A grant added to a token after it was made, and until when it counts (null: until revoked). */
export interface AddedGrant {
  grant: string;
  until: string | null;
}

export interface Principal {
  tokenId: string;
  tokenName: string;
  grants: Grant[];
  policy: string | null;
  approvalMode: ApprovalMode | null;
  admin: boolean;
  /** The user the token is bound to (`token create --user`), from the signed row; never from a request. */
  user?: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  grants: string;
  policy: string | null;
  approval_mode: string | null;
  admin: number;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_at: string | null;
  /** The user the token is bound to (`token create --user`), or null. */
  user_name: string | null;
  mac: string | null;
}

/** Names the row kind and its layout; a signature made for another kind never verifies here. */
const TOKEN_MAC_KIND = 'token/v1';
const GRANT_MAC_KIND = 'token-grant/v1';

interface GrantRow {
  id: string;
  token_id: string;
  grant: string;
  /** For a `target:NAME` grant: that target's creation time (the grant covers that target only). */
  bound_to: string | null;
  expires_at: number | string | null;
  created_by: string;
  created_at: number | string;
  mac: string;
}

const grantFields = (r: Omit<GrantRow, 'mac'>): MacField[] => [
  r.id,
  r.token_id,
  r.grant,
  r.bound_to,
  r.expires_at === null ? null : Number(r.expires_at),
  r.created_by,
  Number(r.created_at),
];

/**
 * What a token row's signature covers: everything the gate trusts (hash, grants, policy, approval
 * mode, admin, expiry, revocation) and the identity around it; not `last_used_at`, which is
 * bookkeeping written off the request path.
 */
function macFields(r: Omit<TokenRow, 'mac' | 'last_used_at'>): MacField[] {
  // The user name is appended only when there is one, so rows signed before it existed still
  // verify; a name added to such a row in SQL (or removed from a bound one) changes the list and
  // fails the check.
  const user: MacField[] = r.user_name === null || r.user_name === undefined ? [] : [r.user_name];
  return [
    r.id,
    r.name,
    r.prefix,
    r.hash,
    r.grants,
    r.policy,
    r.approval_mode,
    Number(r.admin),
    r.created_at,
    r.expires_at,
    r.revoked_at,
    r.rotated_at,
    ...user,
  ];
}

/** The one refusal every bad token gets, so a caller cannot tell unknown from revoked or expired. */
export function unauthenticated(): GatehouseError {
  return new GatehouseError('unauthenticated', 'invalid or missing Gatehouse token', {
    hint: 'pass a valid token (Authorization: Bearer gh_… or GATEHOUSE_TOKEN); ask an operator for a new one if yours was revoked or expired',
  });
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toInfo(r: TokenRow, verified: boolean): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    grants: (JSON.parse(r.grants) as string[]).map(parseGrant),
    policy: r.policy,
    approvalMode: (r.approval_mode as ApprovalMode | null) ?? null,
    admin: Number(r.admin) === 1,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    user: r.user_name ?? null,
    addedGrants: [],
    verified,
  };
}

const NAME = /^[A-Za-z0-9_.@-]{1,100}$/;

export interface CreateTokenOptions {
  name: string;
  grants?: string[];
  expiresInMs?: number;
  policy?: string;
  approvalMode?: ApprovalMode;
  admin?: boolean;
  /** Binds the token to a user: it then reads and writes that user's memory scope too. */
  user?: string;
}

export interface TokenServiceOptions {
  /**
   * The `store-integrity` internal key: every token row is signed with it and checked before it
   * is trusted. Without it (a process that has not opened the keyring) nothing authenticates and
   * nothing is created or rotated; revoking still works.
   */
  integrityKey?: Buffer;
  /**
   * The clock (ms since the epoch) for expiry, revocation times and the authentication cache;
   * default `Date.now`. Tests move it instead of sleeping past TOKEN_CACHE_MS.
   */
  now?: () => number;
}

/**
 * Token lifecycle and authentication.
 *
 * INVARIANTS: only SHA-256 hashes of tokens are stored; a token's text is returned once, by
 * create/rotate; the stored hash is compared in constant time; unknown, malformed, expired,
 * revoked and tampered (row signature fails) tokens all get the same `unauthenticated` refusal.
 */
export class TokenService {
  readonly #store: Store;
  readonly #cache = new Map<string, { principal: Principal; expiresAt: number | null; checkedAt: number }>();
  readonly #lastUsedWritten = new Map<string, number>();

  readonly #key: Buffer | undefined;
  readonly #now: () => number;

  constructor(store: Store, opts: TokenServiceOptions = {}) {
    if (opts.integrityKey !== undefined && opts.integrityKey.length !== 32)
      throw new GatehouseError('key_invalid', 'the store-integrity key must be 32 bytes');
    this.#store = store;
    this.#key = opts.integrityKey;
    this.#now = opts.now ?? Date.now;
  }

  #nowIso(): string {
    return new Date(this.#now()).toISOString();
  }

  /** The key, or a refusal to write a row nobody could verify. */
  #signingKey(): Buffer {
    if (!this.#key) {
      throw new GatehouseError(
        'integrity_failed',
        'this process has no store-integrity key, so it cannot sign token records',
        {
          hint: 'run the command through a full Gatehouse runtime (it opens the keyring)',
        },
      );
    }
    return this.#key;
  }

  #sign(r: Omit<TokenRow, 'mac' | 'last_used_at'>): string {
    return rowMac(this.#signingKey(), TOKEN_MAC_KIND, macFields(r));
  }

  /** INVARIANT: nothing in a token row is trusted before this; a failure is logged loudly. */
  #verified(r: TokenRow, quiet = false): boolean {
    if (this.#key && rowMacValid(this.#key, TOKEN_MAC_KIND, macFields(r), r.mac)) return true;
    if (!quiet) {
      log.error(
        this.#key
          ? 'a token record failed its integrity check: it was written or changed outside Gatehouse and is refused'
          : 'no store-integrity key in this process: token records cannot be checked and are refused',
        { tokenId: r.id, signature: r.mac === null ? 'missing' : 'wrong' },
      );
    }
    return false;
  }

  async create(opts: CreateTokenOptions): Promise<{ token: string; info: TokenInfo }> {
    if (!NAME.test(opts.name)) {
      throw new GatehouseError('invalid_input', `invalid token name ${JSON.stringify(opts.name)}`, {
        hint: 'use letters, digits, _ . @ -',
      });
    }
    const grants = (opts.grants ?? []).map(parseGrant);
    if (opts.user !== undefined && !NAME.test(opts.user)) {
      throw new GatehouseError('invalid_input', `invalid user name ${JSON.stringify(opts.user)}`, {
        hint: 'use letters, digits, _ . @ -',
      });
    }
    this.#signingKey();
    const existing = await this.#find(opts.name);
    if (existing)
      throw new GatehouseError('conflict', `a token named ${opts.name} already exists`, {
        hint: 'pick another name or rotate the existing token',
      });
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const unsigned: Omit<TokenRow, 'mac'> = {
      id: 'tok_' + randomBytes(8).toString('hex'),
      name: opts.name,
      prefix: cutText(token, 8),
      hash: hashToken(token),
      grants: JSON.stringify(grants.map(formatGrant)),
      policy: opts.policy ?? null,
      approval_mode: opts.approvalMode ?? null,
      admin: opts.admin ? 1 : 0,
      created_at: this.#nowIso(),
      last_used_at: null,
      expires_at: opts.expiresInMs ? new Date(this.#now() + opts.expiresInMs).toISOString() : null,
      revoked_at: null,
      rotated_at: null,
      user_name: opts.user ?? null,
    };
    // INVARIANT: every row is written with the signature of exactly the state it holds.
    const row: TokenRow = { ...unsigned, mac: this.#sign(unsigned) };
    try {
      await this.#store.db.insertInto('tokens').values(row).execute();
    } catch (e) {
      // Another process created the name between the check above and this insert.
      if (isUniqueViolation(e))
        throw new GatehouseError('conflict', `a token named ${opts.name} already exists`, {
          hint: 'pick another name or rotate the existing token',
          cause: e,
        });
      throw e;
    }
    return { token, info: toInfo(row, true) };
  }

  async list(): Promise<TokenInfo[]> {
    const rows = (await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at', 'asc')
      .execute()) as TokenRow[];
    const added = await this.#addedByToken();
    return rows.map((r) => ({ ...toInfo(r, this.#verified(r)), addedGrants: added.get(r.id) ?? [] }));
  }

  /** Every token's added grants that count now (one query), for listings. */
  async #addedByToken(): Promise<Map<string, AddedGrant[]>> {
    const now = this.#now();
    const rows = (await this.#store.db.selectFrom('token_grants').selectAll().execute()) as GrantRow[];
    const out = new Map<string, AddedGrant[]>();
    const valid = rows.filter(
      (r) =>
        (r.expires_at === null || Number(r.expires_at) > now) &&
        this.#key !== undefined &&
        rowMacValid(this.#key, GRANT_MAC_KIND, grantFields(r), r.mac),
    );
    for (const r of await this.#onLiveTargets(valid)) {
      const list = out.get(r.token_id) ?? [];
      list.push({ grant: r.grant, until: r.expires_at === null ? null : new Date(Number(r.expires_at)).toISOString() });
      out.set(r.token_id, list);
    }
    return out;
  }

  async get(idOrName: string): Promise<TokenInfo> {
    const row = await this.#find(idOrName);
    if (!row)
      throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, {
        hint: 'see `gatehouse token list`',
      });
    return {
      ...toInfo(row, this.#verified(row)),
      addedGrants: (await this.#addedByToken()).get(row.id) ?? [],
    };
  }

  /**
   * Revokes a token (at once, in every process within TOKEN_CACHE_MS). Always possible, even
   * without the key or on a row that fails its check: a row that does not verify is marked revoked
   * and left unsigned (never signed: that would make a forged row look legitimate), so it stays refused.
   */
  async revoke(idOrName: string): Promise<TokenInfo> {
    for (let attempt = 0; ; attempt++) {
      const row = await this.#find(idOrName);
      if (!row)
        throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, {
          hint: 'see `gatehouse token list`',
        });
      const verified = this.#verified(row);
      if (row.revoked_at && verified) {
        this.#cache.clear();
        return toInfo(row, true);
      }
      const next: TokenRow = { ...row, revoked_at: row.revoked_at ?? this.#nowIso() };
      next.mac = verified ? this.#sign(next) : null;
      const res = await this.#store.db
        .updateTable('tokens')
        .set({ revoked_at: next.revoked_at, mac: next.mac })
        .where('id', '=', row.id)
        .where((eb) => (row.mac === null ? eb('mac', 'is', null) : eb('mac', '=', row.mac)))
        .executeTakeFirst();
      this.#cache.clear();
      if (Number(res.numUpdatedRows) === 1) return toInfo(next, verified);
      // Changed under us (a concurrent rotate or revoke): read it again.
      if (attempt >= 3)
        throw new GatehouseError('conflict', `token ${row.name} kept changing while it was being revoked`, {
          hint: 'run the command again',
        });
    }
  }

  /** New secret, same grants; the old secret stops working at once. A row that fails its check is not rotated. */
  async rotate(idOrName: string): Promise<{ token: string; info: TokenInfo }> {
    this.#signingKey();
    const row = await this.#find(idOrName);
    if (!row)
      throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, {
        hint: 'see `gatehouse token list`',
      });
    if (!this.#verified(row)) {
      throw new GatehouseError(
        'integrity_failed',
        `token ${row.name} failed its integrity check (its record was written or changed outside Gatehouse)`,
        {
          hint: `revoke it (\`gatehouse token revoke ${row.name}\`) and create a new one; find out who can write to the database`,
        },
      );
    }
    if (row.revoked_at)
      throw new GatehouseError('conflict', `token ${row.name} is revoked`, { hint: 'create a new token instead' });
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const next: TokenRow = { ...row, hash: hashToken(token), prefix: cutText(token, 8), rotated_at: this.#nowIso() };
    next.mac = this.#sign(next);
    const res = await this.#store.db
      .updateTable('tokens')
      .set({ hash: next.hash, prefix: next.prefix, rotated_at: next.rotated_at, mac: next.mac })
      .where('id', '=', row.id)
      .where('mac', '=', row.mac)
      .executeTakeFirst();
    this.#cache.clear();
    if (Number(res.numUpdatedRows) !== 1)
      throw new GatehouseError('conflict', `token ${row.name} changed while it was being rotated`, {
        hint: 'run the command again',
      });
    return { token, info: toInfo(next, true) };
  }

  /**
   * Signs the rows written before tokens were signed (mac NULL) and returns how many. Call it
   * once, only in the process that has just applied migration 0006: after that, a NULL signature
   * is refused like a bad one, and calling this again would sign rows a database writer inserted.
   */
  async signUnsigned(): Promise<number> {
    this.#signingKey();
    const rows = (await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .where('mac', 'is', null)
      .execute()) as TokenRow[];
    let signed = 0;
    for (const r of rows) {
      const res = await this.#store.db
        .updateTable('tokens')
        .set({ mac: this.#sign(r) })
        .where('id', '=', r.id)
        .where('mac', 'is', null)
        .executeTakeFirst();
      signed += Number(res.numUpdatedRows);
    }
    return signed;
  }

  /**
   * Turns token text into a principal, or throws `unauthenticated`. Results are cached for at
   * most TOKEN_CACHE_MS, so a token revoked or rotated by any process is refused within a second.
   */
  async authenticate(token: string | undefined | null): Promise<Principal> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) throw unauthenticated();
    const hash = hashToken(token);
    const now = this.#now();
    const hit = this.#cache.get(hash);
    if (hit && now - hit.checkedAt < TOKEN_CACHE_MS) {
      if (hit.expiresAt !== null && now >= hit.expiresAt) throw unauthenticated();
      return hit.principal;
    }
    const row = (await this.#store.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst()) as
      TokenRow | undefined;
    // The lookup is by hash of a 256-bit secret (nothing to learn from its timing); the
    // comparison below is constant-time anyway so no byte-wise early exit ever touches a secret.
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      this.#cache.delete(hash);
      throw unauthenticated();
    }
    // INVARIANT: a row that does not verify (forged grants, an un-revoked or extended token, a
    // swapped hash, no key in this process) gets exactly the refusal an unknown token gets.
    if (!this.#verified(row)) {
      this.#cache.delete(hash);
      throw unauthenticated();
    }
    const expiresAt = row.expires_at ? Date.parse(row.expires_at) : null;
    if (row.revoked_at || (expiresAt !== null && now >= expiresAt)) {
      this.#cache.delete(hash);
      throw unauthenticated();
    }
    const info = toInfo(row, true);
    const added = await this.#addedGrants(info.id, now);
    const principal: Principal = {
      tokenId: info.id,
      tokenName: info.name,
      grants: added.length > 0 ? [...info.grants, ...added] : info.grants,
      policy: info.policy,
      approvalMode: info.approvalMode,
      admin: info.admin,
      user: info.user,
    };
    this.#cache.set(hash, { principal, expiresAt, checkedAt: now });
    this.#touch(row.id, now);
    return principal;
  }

  /**
   * Adds a grant to a token without touching its row (an approved access request), optionally
   * only until `until` (ms since the epoch). The grant row is signed; past its time it no longer
   * counts (authentication leaves it out; the authentication cache bounds the delay to
   * TOKEN_CACHE_MS) and `purgeExpiredGrants` deletes it.
   */
  async addGrant(tokenId: string, grant: string, o: { until?: number; by: string; boundTo?: string }): Promise<void> {
    const row: Omit<GrantRow, 'mac'> = {
      id: 'tg_' + randomBytes(8).toString('hex'),
      token_id: tokenId,
      grant: formatGrant(parseGrant(grant)),
      bound_to: o.boundTo ?? null,
      expires_at: o.until ?? null,
      created_by: cutText(o.by, 200),
      created_at: this.#now(),
    };
    await this.#store.db
      .insertInto('token_grants')
      .values({ ...row, mac: rowMac(this.#signingKey(), GRANT_MAC_KIND, grantFields(row)) })
      .execute();
    this.#cache.clear();
  }

  /** The grants added to a token that count now: signed and not expired. */
  async addedGrants(tokenId: string): Promise<{ grant: Grant; until: number | null }[]> {
    return (await this.#addedGrantRows(tokenId, this.#now())).map((r) => ({
      grant: parseGrant(r.grant),
      until: r.expires_at === null ? null : Number(r.expires_at),
    }));
  }

  async #addedGrants(tokenId: string, now: number): Promise<Grant[]> {
    return (await this.#addedGrantRows(tokenId, now)).map((r) => parseGrant(r.grant));
  }

  async #addedGrantRows(tokenId: string, now: number): Promise<GrantRow[]> {
    const rows = (await this.#store.db
      .selectFrom('token_grants')
      .selectAll()
      .where('token_id', '=', tokenId)
      .execute()) as GrantRow[];
    // INVARIANT: a grant row written without the master key adds nothing.
    const live = rows.filter(
      (r) =>
        (r.expires_at === null || Number(r.expires_at) > now) &&
        this.#key !== undefined &&
        rowMacValid(this.#key, GRANT_MAC_KIND, grantFields(r), r.mac),
    );
    return this.#onLiveTargets(live);
  }

  /**
   * INVARIANT: a grant bound to a target counts only while that very target exists (same name and
   * creation time): removing the target ends it, and a new target with the name is not covered.
   */
  async #onLiveTargets(rows: GrantRow[]): Promise<GrantRow[]> {
    const bound = rows.filter((r) => r.bound_to !== null);
    if (bound.length === 0) return rows;
    const names = [...new Set(bound.map((r) => parseGrant(r.grant).name))];
    const targets = (await this.#store.db
      .selectFrom('targets')
      .select(['name', 'created_at'])
      .where('name', 'in', names)
      .execute()) as { name: string; created_at: string }[];
    const created = new Map(targets.map((t) => [t.name, t.created_at]));
    return rows.filter((r) => r.bound_to === null || created.get(parseGrant(r.grant).name) === r.bound_to);
  }

  /** Removes added grants from a token (all of them, or the one named); returns how many. */
  async removeAddedGrants(tokenId: string, grant?: string): Promise<number> {
    let q = this.#store.db.deleteFrom('token_grants').where('token_id', '=', tokenId);
    if (grant !== undefined) q = q.where('grant', '=', formatGrant(parseGrant(grant)));
    const r = await q.executeTakeFirst();
    this.#cache.clear();
    return Number(r.numDeletedRows);
  }

  /** Deletes added grants past their time (a sweep; they already stopped counting). */
  async purgeExpiredGrants(): Promise<number> {
    const r = await this.#store.db.deleteFrom('token_grants').where('expires_at', '<=', this.#now()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Whether the token with this id exists, verifies, is not revoked and has not expired (for sweeps). */
  async isActive(id: string): Promise<boolean> {
    const row = (await this.#store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst()) as
      TokenRow | undefined;
    return (
      !!row && this.#verified(row) && !row.revoked_at && !(row.expires_at && Date.parse(row.expires_at) <= this.#now())
    );
  }

  /** Records last use at most once a minute per token, off the request's critical path. */
  #touch(id: string, now: number): void {
    const last = this.#lastUsedWritten.get(id) ?? 0;
    if (now - last < 60_000) return;
    this.#lastUsedWritten.set(id, now);
    void this.#store.db
      .updateTable('tokens')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('id', '=', id)
      .execute()
      .catch(() => undefined);
  }

  async #find(idOrName: string): Promise<TokenRow | undefined> {
    return (await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst()) as TokenRow | undefined;
  }
}
