import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { nowIso, type Store } from '../store/index.js';
import { formatGrant, parseGrant, type Grant } from './grants.js';

/** Token text: `gh_` + 43 base64url characters (32 random bytes = 256 bits). */
export const TOKEN_PREFIX = 'gh_';
const TOKEN_FORMAT = /^gh_[A-Za-z0-9_-]{43}$/;
/** How long an authenticated token is trusted before the store is asked again (revocation bound). */
export const TOKEN_CACHE_MS = 1000;

export type ApprovalMode = 'elicitation' | 'out-of-band' | 'totp';

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
}

export interface Principal {
  tokenId: string;
  tokenName: string;
  grants: Grant[];
  policy: string | null;
  approvalMode: ApprovalMode | null;
  admin: boolean;
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

function toInfo(r: TokenRow): TokenInfo {
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
}

/**
 * Token lifecycle and authentication.
 *
 * INVARIANTS: only SHA-256 hashes of tokens are stored; a token's text is returned once, by
 * create/rotate; the stored hash is compared in constant time; unknown, malformed, expired and
 * revoked tokens all get the same `unauthenticated` refusal.
 */
export class TokenService {
  readonly #store: Store;
  readonly #cache = new Map<string, { principal: Principal; expiresAt: number | null; checkedAt: number }>();
  readonly #lastUsedWritten = new Map<string, number>();

  constructor(store: Store) {
    this.#store = store;
  }

  async create(opts: CreateTokenOptions): Promise<{ token: string; info: TokenInfo }> {
    if (!NAME.test(opts.name)) {
      throw new GatehouseError('invalid_input', `invalid token name ${JSON.stringify(opts.name)}`, { hint: 'use letters, digits, _ . @ -' });
    }
    const grants = (opts.grants ?? []).map(parseGrant);
    const existing = await this.#find(opts.name);
    if (existing) throw new GatehouseError('conflict', `a token named ${opts.name} already exists`, { hint: 'pick another name or rotate the existing token' });
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row: TokenRow = {
      id: 'tok_' + randomBytes(8).toString('hex'),
      name: opts.name,
      prefix: token.slice(0, 8),
      hash: hashToken(token),
      grants: JSON.stringify(grants.map(formatGrant)),
      policy: opts.policy ?? null,
      approval_mode: opts.approvalMode ?? null,
      admin: opts.admin ? 1 : 0,
      created_at: nowIso(),
      last_used_at: null,
      expires_at: opts.expiresInMs ? new Date(Date.now() + opts.expiresInMs).toISOString() : null,
      revoked_at: null,
    };
    await this.#store.db.insertInto('tokens').values(row).execute();
    return { token, info: toInfo(row) };
  }

  async list(): Promise<TokenInfo[]> {
    const rows = (await this.#store.db.selectFrom('tokens').selectAll().orderBy('created_at', 'asc').execute()) as TokenRow[];
    return rows.map(toInfo);
  }

  async get(idOrName: string): Promise<TokenInfo> {
    const row = await this.#find(idOrName);
    if (!row) throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, { hint: 'see `gatehouse token list`' });
    return toInfo(row);
  }

  async revoke(idOrName: string): Promise<TokenInfo> {
    const row = await this.#find(idOrName);
    if (!row) throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, { hint: 'see `gatehouse token list`' });
    if (!row.revoked_at) {
      row.revoked_at = nowIso();
      await this.#store.db.updateTable('tokens').set({ revoked_at: row.revoked_at }).where('id', '=', row.id).execute();
    }
    this.#cache.clear();
    return toInfo(row);
  }

  /** New secret, same grants; the old secret stops working at once. */
  async rotate(idOrName: string): Promise<{ token: string; info: TokenInfo }> {
    const row = await this.#find(idOrName);
    if (!row) throw new GatehouseError('not_found', `no token ${JSON.stringify(idOrName)}`, { hint: 'see `gatehouse token list`' });
    if (row.revoked_at) throw new GatehouseError('conflict', `token ${row.name} is revoked`, { hint: 'create a new token instead' });
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    row.hash = hashToken(token);
    row.prefix = token.slice(0, 8);
    await this.#store.db.updateTable('tokens').set({ hash: row.hash, prefix: row.prefix, rotated_at: nowIso() }).where('id', '=', row.id).execute();
    this.#cache.clear();
    return { token, info: toInfo(row) };
  }

  /**
   * Turns token text into a principal, or throws `unauthenticated`. Results are cached for at
   * most TOKEN_CACHE_MS, so a token revoked or rotated by any process is refused within a second.
   */
  async authenticate(token: string | undefined | null): Promise<Principal> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) throw unauthenticated();
    const hash = hashToken(token);
    const now = Date.now();
    const hit = this.#cache.get(hash);
    if (hit && now - hit.checkedAt < TOKEN_CACHE_MS) {
      if (hit.expiresAt !== null && now >= hit.expiresAt) throw unauthenticated();
      return hit.principal;
    }
    const row = (await this.#store.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst()) as TokenRow | undefined;
    // The lookup is by hash of a 256-bit secret (nothing to learn from its timing); the
    // comparison below is constant-time anyway so no byte-wise early exit ever touches a secret.
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      this.#cache.delete(hash);
      throw unauthenticated();
    }
    const expiresAt = row.expires_at ? Date.parse(row.expires_at) : null;
    if (row.revoked_at || (expiresAt !== null && now >= expiresAt)) {
      this.#cache.delete(hash);
      throw unauthenticated();
    }
    const info = toInfo(row);
    const principal: Principal = {
      tokenId: info.id,
      tokenName: info.name,
      grants: info.grants,
      policy: info.policy,
      approvalMode: info.approvalMode,
      admin: info.admin,
    };
    this.#cache.set(hash, { principal, expiresAt, checkedAt: now });
    this.#touch(row.id, now);
    return principal;
  }

  /** Whether the token with this id exists, is not revoked and has not expired (for sweeps). */
  async isActive(id: string): Promise<boolean> {
    const row = (await this.#store.db.selectFrom('tokens').select(['revoked_at', 'expires_at']).where('id', '=', id).executeTakeFirst()) as
      | Pick<TokenRow, 'revoked_at' | 'expires_at'>
      | undefined;
    return !!row && !row.revoked_at && !(row.expires_at && Date.parse(row.expires_at) <= Date.now());
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
