import { createHash, randomBytes } from 'node:crypto';
import { GatehouseError, parseDuration, rowMac, rowMacValid, type MacField } from '../core/index.js';
import { parseGrant } from './grants.js';
import type { ApprovalMode } from '../approvals/index.js';
import type { Store } from '../store/index.js';
import type { CreateTokenOptions, TokenInfo } from './tokens.js';

/** How long an enrollment code is good for. */
export const ENROLLMENT_TTL_MS = 10 * 60_000;
const CODE_MAC = 'enrollment-code/v1';
const CODE = /^ge_[A-Za-z0-9_-]{32}$/;

const MODES: readonly ApprovalMode[] = ['elicitation', 'out-of-band', 'totp'];
const TOKEN_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const MAX_GRANTS = 50;

/**
 * An agent token's scope as a person or script gives it (form fields or JSON), checked: a name,
 * grants (each must parse), an approval mode, an expiry like `30d`. There is no admin field: an
 * admin token is made on the server only. Anything off is `invalid_input` naming what.
 */
export function parseTokenSpec(given: {
  name?: string | null;
  grants?: string | readonly string[] | null;
  approval?: string | null;
  expires?: string | null;
  client?: string | null;
}): EnrollmentSpec {
  const name = (given.name ?? '').trim();
  if (!TOKEN_NAME.test(name))
    throw new GatehouseError('invalid_input', 'a token name is 1-64 letters, digits or _ . @ -');
  const grants =
    typeof given.grants === 'string' ? given.grants.split(/[\s,]+/).filter(Boolean) : [...(given.grants ?? [])];
  if (grants.length > MAX_GRANTS) throw new GatehouseError('invalid_input', `at most ${MAX_GRANTS} grants`);
  for (const g of grants) {
    if (typeof g !== 'string') throw new GatehouseError('invalid_input', 'grants are strings like tool:discover');
    parseGrant(g); // throws invalid_input naming the bad one
  }
  const mode = given.approval ?? '';
  if (mode !== '' && !MODES.includes(mode as ApprovalMode))
    throw new GatehouseError('invalid_input', 'approval mode is elicitation, out-of-band or totp');
  const expires = (given.expires ?? '').trim();
  return {
    name,
    grants,
    ...(given.client ? { client: given.client } : {}),
    ...(mode ? { approvalMode: mode as ApprovalMode } : {}),
    ...(expires ? { expiresInMs: parseDuration(expires) } : {}),
  };
}

/** The token an enrollment code makes when it is redeemed. */
export interface EnrollmentSpec {
  name: string;
  grants: string[];
  approvalMode?: ApprovalMode;
  expiresInMs?: number;
  /** The client the person set it up for (shown in the console; nothing is decided from it). */
  client?: string;
}

interface CodeRow {
  code_hash: string;
  spec: string;
  created_by: string;
  created_at: number | string;
  expires_at: number | string;
  used_at: number | string | null;
  token_id: string | null;
  mac: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const fields = (r: Pick<CodeRow, 'code_hash' | 'spec' | 'created_by' | 'expires_at'>): MacField[] => [
  r.code_hash,
  r.spec,
  r.created_by,
  Number(r.expires_at),
];

/** What the codes need of the token service. */
export interface EnrollmentTokens {
  create(opts: CreateTokenOptions): Promise<{ token: string; info: TokenInfo }>;
}

/**
 * One-time enrollment codes: a token's scope chosen by a person, turned into the token only on the
 * agent's machine (`gatehouse connect CLIENT --enroll CODE`), which writes it straight into a file.
 *
 * INVARIANTS (test/gate/enrollment.test.ts):
 * - a code is 192 random bits, stored as its SHA-256, good for ENROLLMENT_TTL_MS and once: it is
 *   spent by one UPDATE that also checks it is unused and unexpired (two redeemers cannot both win);
 * - the row is signed under the store-integrity key: a code row written without the master key
 *   makes no token (checked before the code is spent);
 * - an enrollment never makes an admin token (the spec has no such field; creating admins stays a
 *   CLI act on the server).
 */
export class EnrollmentCodes {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #tokens: EnrollmentTokens;
  readonly #now: () => number;

  constructor(store: Store, integrityKey: Buffer, tokens: EnrollmentTokens, now: () => number = Date.now) {
    this.#store = store;
    this.#key = integrityKey;
    this.#tokens = tokens;
    this.#now = now;
  }

  /** Makes a code for a token to be created later; `createdBy` is the person (audited by the caller). */
  async create(
    spec: EnrollmentSpec,
    createdBy: string,
  ): Promise<{ code: string; codeHash: string; expiresAt: number }> {
    const code = `ge_${randomBytes(24).toString('base64url')}`;
    const now = this.#now();
    const row = {
      code_hash: sha256(code),
      spec: JSON.stringify(spec),
      created_by: createdBy,
      created_at: now,
      expires_at: now + ENROLLMENT_TTL_MS,
    };
    await this.#store.db
      .insertInto('enrollment_codes')
      .values({ ...row, used_at: null, token_id: null, mac: rowMac(this.#key, CODE_MAC, fields(row)) })
      .execute();
    return { code, codeHash: row.code_hash, expiresAt: row.expires_at };
  }

  /** Spends a code and creates its token; the token is returned once, for the caller to write away. */
  async redeem(code: string): Promise<{ token: string; info: TokenInfo; spec: EnrollmentSpec }> {
    const invalid = () =>
      new GatehouseError('unauthenticated', 'that enrollment code is not valid: it is wrong, expired or already used', {
        hint: 'make a new one on the console’s Connect page',
      });
    if (!CODE.test(code)) throw invalid();
    const hash = sha256(code);
    const row = (await this.#store.db
      .selectFrom('enrollment_codes')
      .selectAll()
      .where('code_hash', '=', hash)
      .executeTakeFirst()) as CodeRow | undefined;
    if (!row || !rowMacValid(this.#key, CODE_MAC, fields(row), row.mac)) throw invalid();
    const now = this.#now();
    const spent = await this.#store.db
      .updateTable('enrollment_codes')
      .set({ used_at: now })
      .where('code_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw invalid();
    const spec = JSON.parse(row.spec) as EnrollmentSpec;
    const made = await this.#tokens.create({
      name: spec.name,
      grants: spec.grants,
      ...(spec.approvalMode ? { approvalMode: spec.approvalMode } : {}),
      ...(spec.expiresInMs ? { expiresInMs: spec.expiresInMs } : {}),
    });
    await this.#store.db
      .updateTable('enrollment_codes')
      .set({ token_id: made.info.id })
      .where('code_hash', '=', hash)
      .execute();
    return { ...made, spec };
  }

  /** The token a code made, once it was redeemed (the Connect page waits for it). */
  async tokenOf(codeHash: string): Promise<{ tokenId: string | null; expiresAt: number } | null> {
    const row = (await this.#store.db
      .selectFrom('enrollment_codes')
      .select(['token_id', 'expires_at'])
      .where('code_hash', '=', codeHash)
      .executeTakeFirst()) as Pick<CodeRow, 'token_id' | 'expires_at'> | undefined;
    return row ? { tokenId: row.token_id, expiresAt: Number(row.expires_at) } : null;
  }

  /** Deletes codes a day past their expiry. */
  async purge(): Promise<void> {
    await this.#store.db
      .deleteFrom('enrollment_codes')
      .where('expires_at', '<', this.#now() - 86_400_000)
      .execute();
  }
}
