import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { GatehouseError, log } from '../core/index.js';
import { isUniqueViolation, nowIso, writeTransaction, type Store, type UntypedDb } from '../store/index.js';
import { ftsMatch, queryWords, ranker, snippet, websearchText } from './search-query.js';
import { ORG_PROPOSALS, parseProposalKey } from './proposals.js';
import {
  canonicalJson,
  checkedItem,
  checkVersion,
  columns,
  contentOf,
  provenanceOf,
  sha256Of,
  signVersion,
  type ItemRow,
  type VersionRow,
} from './signed-rows.js';
import { MAX_ITEMS_PER_SCOPE } from './types.js';
import type {
  Author,
  Item,
  ItemContent,
  KnowledgeKind,
  Scope,
  SearchHit,
  SecretScan,
  VersionInfo,
  VersionOp,
} from './types.js';
import { checkContent, checkKey, checkScope } from './validate.js';

const MAX_LIST = 500;
/** A link target (`ns:slug`) as the links table keeps it (migration 0016 widened it to fit a slug). */
const MAX_LINK_CHARS = 600;
const MAX_HITS = 50;
/**
 * Matches considered for ranking, the most recently created first (the item's `n`: SQLite's FTS5
 * walks its rowids backwards and stops at the limit, where ordering by update time sorted every
 * match; both stores order alike). An agent narrows a broad query with more words.
 */
const MAX_CANDIDATES = 500;

/** What a change needs besides its content. */
export interface ChangeOptions {
  author: Author;
  /**
   * The version the caller last read. Required to change an existing item (0 or absent to create
   * one): a stale value is a `conflict` and nothing is written, so two agents never overwrite each
   * other's work unseen.
   */
  expectedVersion?: number;
  note?: string;
  /**
   * Content-addressed files the version refers to (a skill's files and manifest), stored in the
   * same transaction: a version never names a file that is not there.
   */
  files?: readonly Buffer[];
}

const notFound = (what: string) =>
  new GatehouseError('not_found', `no ${what}`, { hint: 'list or search to see what this token can read' });

/**
 * The shared layer under memory, skills and wiki: versioned items in scopes, full-text search on
 * both stores, secrets refused on every write.
 *
 * INVARIANTS (each tested in test/knowledge/):
 * - Reads and searches see only the scopes the caller passes (the tools pass the token's readable
 *   scopes); an item in any other scope is `not_found`, the same answer as one that does not
 *   exist. Search filters by scope in the same query that matches, so no snippet, title or count
 *   from another scope is ever produced, and ranks from each match's own text (see `search`).
 * - Every change is a new immutable version signed with the store integrity key; a version or an
 *   item whose content no longer matches its signed hash reads as `integrity_failed`, never as
 *   what its author wrote.
 * - Changing an existing item needs the version the caller read; of two changes from the same
 *   version exactly one wins (SQLite: the write lock from the first statement; PostgreSQL: the
 *   update is conditional on the version, and the unique key decides concurrent creations).
 * - Text that holds a secret (the vault's values in their common forms, the redaction shapes) is
 *   refused with `secret_detected` before anything is written.
 */
export class KnowledgeStore {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #secretScan: SecretScan;
  readonly #freshSecrets: () => Promise<void>;

  readonly #maxItems: Record<KnowledgeKind, number>;
  readonly #changed: (() => void)[] = [];

  constructor(opts: {
    store: Store;
    integrityKey: Buffer;
    secretScan: SecretScan;
    /**
     * Brings the scan's secrets up to date (values another process added to the vault); awaited
     * before every change is checked.
     */
    freshSecrets?: () => Promise<void>;
    /** Items per scope and kind (default MAX_ITEMS_PER_SCOPE; tests lower it). */
    maxItemsPerScope?: Partial<Record<KnowledgeKind, number>>;
  }) {
    this.#store = opts.store;
    this.#key = opts.integrityKey;
    this.#secretScan = opts.secretScan;
    this.#freshSecrets = opts.freshSecrets ?? (async () => undefined);
    this.#maxItems = { ...MAX_ITEMS_PER_SCOPE, ...opts.maxItemsPerScope };
  }

  /** Calls `fn` after every committed change (the server tells connected clients). */
  onChange(fn: () => void): void {
    this.#changed.push(fn);
  }

  #emit(): void {
    for (const fn of this.#changed) {
      try {
        fn();
      } catch (e) {
        log.debug('a knowledge change listener failed', { err: e });
      }
    }
  }

  /** Creates an item, or writes a new version of it (`expectedVersion` required then). */
  async write(
    kind: KnowledgeKind,
    scope: Scope,
    key: string,
    content: ItemContent,
    opts: ChangeOptions,
  ): Promise<Item> {
    await this.#freshSecrets();
    checkScope(scope);
    const k = checkKey(key);
    const c = checkContent(kind, content);
    this.#refuseSecrets(c, opts.note, k);
    return this.#change(async (db) => {
      await this.#putFiles(db, opts.files);
      const cur = await this.#at(db, kind, scope, k);
      if (!cur) {
        if (opts.expectedVersion) throw this.#stale(`${kind} ${k}`, opts.expectedVersion, 0);
        await this.#withinQuota(db, kind, scope);
        return this.#create(db, kind, scope, k, c, opts);
      }
      // A deleted item's key is free again: writing it is a new version that brings it back.
      if (opts.expectedVersion === undefined && cur.deleted) {
        await this.#advance(db, cur, cur.version, 'write', c, opts);
        return cur.id;
      }
      if (opts.expectedVersion === undefined) {
        throw new GatehouseError('conflict', `${kind} ${k} already exists (version ${cur.version})`, {
          hint: `read it, then update with expected_version ${cur.version}`,
        });
      }
      await this.#advance(db, cur, opts.expectedVersion, 'write', c, opts);
      return cur.id;
    }).then((id) => this.#itemById(id, [scope]));
  }

  /**
   * Moves an item to another key in its scope, in one transaction: a new item at `newKey` with the
   * current content (its first version notes where it came from), and the old one deleted (its
   * history kept, noting where it went). `conflict` if `newKey` is taken or the item changed.
   */
  async move(
    id: string,
    scopes: readonly Scope[],
    newKey: string,
    opts: ChangeOptions & {
      /**
       * What the old key holds afterwards, in the same transaction (a wiki page's redirect); by
       * default the old item is deleted.
       */
      leave?: ItemContent;
    },
  ): Promise<Item> {
    await this.#freshSecrets();
    const k = checkKey(newKey);
    const cur = await this.#row(id, scopes);
    if (cur.deleted) throw notFound(`item ${id}`);
    const last = await this.#verifiedVersion(cur, cur.version);
    const c = contentOf(last);
    this.#refuseSecrets(c, undefined, k);
    const leave = opts.leave ? checkContent(cur.kind as KnowledgeKind, opts.leave) : undefined;
    if (leave) this.#refuseSecrets(leave, undefined, cur.key);
    const newId = await this.#change(async (db) => {
      if (await this.#at(db, cur.kind, cur.scope, k))
        throw new GatehouseError('conflict', `${cur.kind} ${k} already exists`, { hint: 'pick another name' });
      await this.#withinQuota(db, cur.kind as KnowledgeKind, cur.scope);
      const to = await this.#create(db, cur.kind as KnowledgeKind, cur.scope, k, c, {
        ...opts,
        note: `moved from ${cur.key}`,
      });
      await this.#advance(
        db,
        cur,
        opts.expectedVersion ?? cur.version,
        leave ? 'write' : 'delete',
        leave ?? c,
        { ...opts, note: `moved to ${k}` },
        !leave,
      );
      return to;
    });
    return this.#itemById(newId, scopes);
  }

  /**
   * Applies a proposal to the org scope (a person decided: `author` is the operator), in one
   * transaction with marking the proposal accepted. A proposal is frozen when made (agents make a
   * new one rather than change it), so what the person read is what is applied; and it applies
   * only onto the org version it was made against (its key says which: `<token>/<base>-<nonce>/
   * <path>`), else `conflict` and nothing changes: a newer org change is never silently lost.
   */
  async applyProposal(id: string, author: Author): Promise<Item> {
    await this.#freshSecrets();
    const p = await this.#row(id, [ORG_PROPOSALS]);
    if (p.deleted)
      throw new GatehouseError('conflict', `proposal ${id} was already accepted or rejected`, {
        hint: 'see its history',
      });
    const proposed = await this.#item(p);
    const parsed = parseProposalKey(p.key);
    if (!parsed) throw new GatehouseError('integrity_failed', `proposal ${id} has no base version in its key`);
    const { base, path } = parsed;
    const c: ItemContent = {
      title: proposed.title,
      summary: proposed.summary,
      tags: proposed.tags,
      body: proposed.body,
      ...(proposed.meta ? { meta: proposed.meta } : {}),
    };
    const note = `accepted proposal ${p.id} from ${proposed.provenance.author}`;
    this.#refuseSecrets(c, note, path);
    const orgId = await this.#change(async (db) => {
      const cur = await this.#at(db, p.kind, 'org', path);
      const live = cur && !cur.deleted ? cur.version : 0;
      if (live !== base) {
        throw new GatehouseError(
          'conflict',
          `org ${path} is at version ${live}, not ${base} as when it was proposed; nothing was applied`,
          {
            hint: 'reject it (gatehouse memory rm ID) and ask for a proposal against the current version',
          },
        );
      }
      let to: string;
      if (!cur) {
        await this.#withinQuota(db, p.kind as KnowledgeKind, 'org');
        to = await this.#create(db, p.kind as KnowledgeKind, 'org', path, c, { author, note });
      } else {
        await this.#advance(db, cur, cur.version, 'write', c, { author, note });
        to = cur.id;
      }
      await this.#advance(db, p, p.version, 'delete', c, { author, note: `accepted as ${to}` }, true);
      return to;
    });
    return this.#itemById(orgId, ['org']);
  }

  /** Marks an item deleted (a tombstone: `restore` brings it back, `purge` removes it for good). */
  async delete(id: string, scopes: readonly Scope[], opts: ChangeOptions): Promise<Item> {
    await this.#freshSecrets();
    // The note is new text (every reader of the history sees it); the content is not re-scanned,
    // so an item that now holds a vault value can still be deleted.
    if (opts.note) this.refuseSecretsIn('the note', opts.note);
    const cur = await this.#row(id, scopes);
    if (cur.deleted) return this.#itemById(id, scopes);
    const last = await this.#verifiedVersion(cur, cur.version);
    await this.#change((db) =>
      this.#advance(db, cur, opts.expectedVersion ?? cur.version, 'delete', contentOf(last), opts, true),
    );
    return this.#itemById(id, scopes);
  }

  /** Brings back a deleted item with the content it had. */
  async restore(id: string, scopes: readonly Scope[], opts: ChangeOptions): Promise<Item> {
    await this.#freshSecrets();
    const cur = await this.#row(id, scopes);
    if (!cur.deleted) return this.#itemById(id, scopes);
    const last = await this.#verifiedVersion(cur, cur.version);
    // A value that reached the vault after this text was written is refused on the way back too.
    this.#refuseSecrets(contentOf(last), opts.note, cur.key);
    await this.#change((db) =>
      this.#advance(db, cur, opts.expectedVersion ?? cur.version, 'restore', contentOf(last), opts),
    );
    return this.#itemById(id, scopes);
  }

  /** Writes the content of an earlier version as a new version. */
  async revert(id: string, scopes: readonly Scope[], toVersion: number, opts: ChangeOptions): Promise<Item> {
    await this.#freshSecrets();
    const cur = await this.#row(id, scopes);
    const old = await this.#verifiedVersion(cur, toVersion);
    this.#refuseSecrets(contentOf(old), opts.note, cur.key);
    if (opts.expectedVersion === undefined) {
      throw new GatehouseError('conflict', `reverting needs the version you last read (now ${cur.version})`, {
        hint: `pass expected_version ${cur.version}`,
      });
    }
    await this.#change((db) => this.#advance(db, cur, opts.expectedVersion!, 'revert', contentOf(old), opts));
    return this.#itemById(id, scopes);
  }

  /** The current, undeleted version of an item by key, in the first of `scopes` that has one (deleted items are not found). */
  async read(kind: KnowledgeKind, scopes: readonly Scope[], key: string): Promise<Item> {
    const k = checkKey(key);
    if (scopes.length === 0) throw notFound(`${kind} ${k}`);
    const rows = (await this.#store.db
      .selectFrom('knowledge_items')
      .selectAll()
      .where('kind', '=', kind)
      .where('key', '=', k)
      .where('scope', 'in', [...scopes])
      .where('deleted', '=', 0)
      .execute()) as ItemRow[];
    const row = scopes.map((s) => rows.find((r) => r.scope === s)).find((r) => r !== undefined);
    if (!row) throw notFound(`${kind} ${k}`);
    return this.#item(row);
  }

  /** Like `read`, but undefined when there is no such item (other errors still throw). */
  async find(kind: KnowledgeKind, scopes: readonly Scope[], key: string): Promise<Item | undefined> {
    return this.read(kind, scopes, key).catch((e: unknown) => {
      if ((e as { code?: string }).code === 'not_found') return undefined;
      throw e;
    });
  }

  /** The item at a key in one scope, deleted or not; undefined when there is none. */
  async lookup(kind: KnowledgeKind, scope: Scope, key: string): Promise<Item | undefined> {
    const row = await this.#at(this.#store.db, kind, scope, checkKey(key));
    return row ? this.#item(row) : undefined;
  }

  /** The current version of an item by id, if it is in one of `scopes`. */
  async get(id: string, scopes: readonly Scope[]): Promise<Item> {
    return this.#itemById(id, scopes);
  }

  /** Items of a kind in these scopes (not deleted unless asked), newest first; each checked against its signed version. */
  async list(
    kind: KnowledgeKind,
    scopes: readonly Scope[],
    opts: { prefix?: string; includeDeleted?: boolean; limit?: number } = {},
  ): Promise<Item[]> {
    if (scopes.length === 0) return [];
    let q = this.#store.db
      .selectFrom('knowledge_items')
      .selectAll()
      .where('kind', '=', kind)
      .where('scope', 'in', [...scopes]);
    if (!opts.includeDeleted) q = q.where('deleted', '=', 0);
    if (opts.prefix) q = q.where(sql<boolean>`substr(key, 1, ${opts.prefix.length}) = ${opts.prefix}`);
    const rows = (await q
      .orderBy('updated_at', 'desc')
      .orderBy('id')
      .limit(Math.min(opts.limit ?? MAX_LIST, MAX_LIST))
      .execute()) as ItemRow[];
    return this.#checked(rows, 'a list');
  }

  /**
   * Rows checked against their signed newest versions in one query; a row that fails its check is
   * left out, loudly (`where` names what it was left out of).
   */
  async #checked(rows: readonly ItemRow[], where: string): Promise<Item[]> {
    const versions = await this.#newestVersions(rows.map((r) => r.id));
    return rows.flatMap((r) => {
      try {
        return [checkedItem(this.#key, r, versions.get(r.id))];
      } catch (e) {
        log.error(`a knowledge item failed its integrity check and was left out of ${where}`, { item: r.id, err: e });
        return [];
      }
    });
  }

  /**
   * The current, undeleted items of a kind in these scopes whose current version links to
   * `toKey`. INVARIANT: only items in the caller's scopes are returned (an unreadable scope's
   * links, or their number, never show).
   */
  async backlinks(kind: KnowledgeKind, scopes: readonly Scope[], toKey: string): Promise<Item[]> {
    if (scopes.length === 0) return [];
    const rows = (await this.#store.db
      .selectFrom('knowledge_items as i')
      .innerJoin('knowledge_links as l', 'l.item_id', 'i.id')
      .selectAll('i')
      .where('l.to_key', '=', toKey)
      .where('i.kind', '=', kind)
      .where('i.deleted', '=', 0)
      .where('i.scope', 'in', [...scopes])
      .orderBy('i.scope')
      .orderBy('i.key')
      .limit(MAX_LIST)
      .execute()) as ItemRow[];
    // The links table is not signed: an item counts only when its verified version names the link.
    return (await this.#checked(rows, 'backlinks')).filter((i) => {
      const links = (i.meta as { links?: unknown } | undefined)?.links;
      return Array.isArray(links) && links.includes(toKey);
    });
  }

  /**
   * Every current, undeleted item of a kind in one scope, in pages (for whole-scope work such as
   * a namespace's lint), each checked against its signed version.
   */
  async *all(kind: KnowledgeKind, scope: Scope): AsyncGenerator<Item> {
    let after = 0;
    for (;;) {
      const rows = (await this.#store.db
        .selectFrom('knowledge_items')
        .selectAll()
        .where('kind', '=', kind)
        .where('scope', '=', scope)
        .where('deleted', '=', 0)
        .where('n', '>', after)
        .orderBy('n')
        .limit(MAX_LIST)
        .execute()) as ItemRow[];
      if (rows.length === 0) return;
      yield* await this.#checked(rows, 'a whole-scope read');
      after = Number(rows.at(-1)!.n);
    }
  }

  /** Every version of an item, oldest first. */
  async history(id: string, scopes: readonly Scope[]): Promise<VersionInfo[]> {
    const cur = await this.#row(id, scopes);
    const rows = (await this.#store.db
      .selectFrom('knowledge_versions')
      .selectAll()
      .where('item_id', '=', cur.id)
      .orderBy('version')
      .execute()) as VersionRow[];
    return rows.map((v) => {
      checkVersion(this.#key, cur, v);
      const meta = contentOf(v).meta;
      return {
        ...provenanceOf(v),
        op: v.op as VersionOp,
        ...(v.note ? { note: v.note } : {}),
        ...(meta ? { meta } : {}),
      };
    });
  }

  /**
   * The newest version of an item whose meta has `field` equal to `value` (a skill version by its
   * manifest digest), found by the database rather than by reading every version; undefined when
   * none. `value` is a plain token (hex, an id): it is matched inside the canonical JSON.
   */
  async versionWithMeta(
    id: string,
    scopes: readonly Scope[],
    field: string,
    value: string,
    opts: { skipDeletes?: boolean } = {},
  ): Promise<number | undefined> {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(field) || !/^[A-Za-z0-9_.:-]{1,200}$/.test(value)) return undefined;
    const cur = await this.#row(id, scopes);
    let q = this.#store.db
      .selectFrom('knowledge_versions')
      .select(['version', 'meta', 'op'])
      .where('item_id', '=', cur.id)
      .where('meta', 'like', `%"${field}":"${value}"%`);
    if (opts.skipDeletes) q = q.where('op', '!=', 'delete');
    const rows = (await q.orderBy('version', 'desc').limit(20).execute()) as { version: number; meta: string }[];
    // The LIKE narrows; the parsed meta decides (and the version is checked when it is read).
    return rows.find((r) => (JSON.parse(r.meta) as Record<string, unknown>)[field] === value)?.version;
  }

  /** The content of one version of an item. */
  async readVersion(id: string, scopes: readonly Scope[], version: number): Promise<ItemContent & VersionInfo> {
    const cur = await this.#row(id, scopes);
    const v = await this.#verifiedVersion(cur, version);
    return { ...contentOf(v), ...provenanceOf(v), op: v.op as VersionOp, ...(v.note ? { note: v.note } : {}) };
  }

  /**
   * Full-text search over the current, undeleted items of a kind in these scopes: every word must
   * match. The stores find the matches (FTS5, tsvector) within the scopes, most recently created first, at most
   * MAX_CANDIDATES; ranking and snippets are computed here from each match's own text only (title
   * above tags and summary above body, shorter texts first), so both stores rank alike and nothing
   * about other scopes can move the order: SQLite's bm25 weighs a word by how common it is across
   * every scope, and an agent could learn from the order whether another scope holds a word.
   * INVARIANT: a hit is returned only after its row checks against its signed version.
   */
  async search(
    kind: KnowledgeKind,
    scopes: readonly Scope[],
    query: string,
    opts: { limit?: number } = {},
  ): Promise<SearchHit[]> {
    const words = queryWords(query);
    if (scopes.length === 0) return [];
    const limit = Math.max(1, Math.min(opts.limit ?? 10, MAX_HITS));
    const inScopes = sql.join([...scopes]);
    const rows =
      this.#store.dialect === 'sqlite'
        ? await sql<ItemRow>`
            SELECT i.* FROM knowledge_fts JOIN knowledge_items i ON i.n = knowledge_fts.rowid
            WHERE knowledge_fts MATCH ${ftsMatch(words)}
              AND i.kind = ${kind} AND i.deleted = 0 AND i.scope IN (${inScopes})
            ORDER BY knowledge_fts.rowid DESC
            LIMIT ${MAX_CANDIDATES}`.execute(this.#store.db)
        : await sql<ItemRow>`
            SELECT i.* FROM knowledge_items i
            WHERE i.tsv @@ plainto_tsquery('simple', ${websearchText(words)})
              AND i.kind = ${kind} AND i.deleted = 0 AND i.scope IN (${inScopes})
            ORDER BY i.n DESC
            LIMIT ${MAX_CANDIDATES}`.execute(this.#store.db);
    const score = ranker(words);
    const ranked = rows.rows
      .map((r) => ({ r, score: score(r) }))
      .sort(
        (a, b) =>
          b.score - a.score ||
          (a.r.updated_at < b.r.updated_at ? 1 : a.r.updated_at > b.r.updated_at ? -1 : 0) ||
          // Then by place, not by id: ids are random, and both stores must order ties alike.
          (a.r.scope + '\u0000' + a.r.key < b.r.scope + '\u0000' + b.r.key ? -1 : 1),
      );
    const hits: SearchHit[] = [];
    // Checked in batches of `limit`: one query for the versions of a batch, the next batch only
    // when some failed their check.
    for (let at = 0; at < ranked.length && hits.length < limit; at += limit) {
      const batch = ranked.slice(at, at + limit).map((x) => x.r);
      const versions = await this.#newestVersions(batch.map((r) => r.id));
      for (const r of batch) {
        if (hits.length >= limit) break;
        try {
          checkedItem(this.#key, r, versions.get(r.id));
        } catch (e) {
          log.error('a knowledge item failed its integrity check and was left out of a search', { item: r.id, err: e });
          continue;
        }
        hits.push({
          id: r.id,
          kind: r.kind as KnowledgeKind,
          scope: r.scope,
          key: r.key,
          title: r.title,
          snippet: snippet(r.body, words),
          updatedAt: r.updated_at,
        });
      }
    }
    return hits;
  }

  /** Every scope that holds items of a kind (operators only: they may read every scope). */
  async scopes(kind: KnowledgeKind): Promise<Scope[]> {
    const rows = (await this.#store.db
      .selectFrom('knowledge_items')
      .select('scope')
      .distinct()
      .where('kind', '=', kind)
      .orderBy('scope')
      .execute()) as { scope: string }[];
    return rows.map((r) => r.scope);
  }

  /**
   * Removes an item and all its versions for good (operators only; the tools never offer it), and
   * the files no remaining version refers to.
   */
  async purge(id: string): Promise<void> {
    await writeTransaction(this.#store, async (db) => {
      const gone = await db.deleteFrom('knowledge_items').where('id', '=', id).executeTakeFirst();
      if (Number(gone.numDeletedRows) === 0) throw notFound(`item ${id}`);
      await db.deleteFrom('knowledge_versions').where('item_id', '=', id).execute();
      await db.deleteFrom('knowledge_links').where('item_id', '=', id).execute();
      await this.#dropUnreferencedFiles(db);
    });
    this.#emit();
  }

  /**
   * A stored file's bytes by SHA-256. INVARIANT: the bytes are hashed again on every read; bytes
   * that no longer hash to their address are `integrity_failed`, never served.
   */
  async file(sha256: string): Promise<Buffer> {
    const row = (await this.#store.db
      .selectFrom('knowledge_files')
      .select(['data'])
      .where('sha256', '=', sha256)
      .executeTakeFirst()) as { data: Uint8Array } | undefined;
    if (!row) throw notFound(`file ${sha256}`);
    const data = Buffer.from(row.data);
    if (createHash('sha256').update(data).digest('hex') !== sha256)
      throw new GatehouseError('integrity_failed', `the stored file ${sha256} was changed outside Gatehouse`, {
        hint: 'an operator should restore the store from a backup',
      });
    return data;
  }

  /** Brings the secret scan up to date before text is checked with `refuseSecretsIn`. */
  freshSecrets(): Promise<void> {
    return this.#freshSecrets();
  }

  /**
   * Refuses text that holds a secret with `secret_detected` (for what a kind stores beside an
   * item's own text: a skill's other files). `where` names it in the error, never the value.
   */
  refuseSecretsIn(where: string, text: string): void {
    const found = this.#secretScan(text);
    if (found) {
      throw new GatehouseError('secret_detected', `${where} holds a secret (${found}); nothing was stored`, {
        hint: 'store the secret in the vault and write a {{vault:VAULT/ITEM.FIELD}} handle in its place',
      });
    }
  }

  // ---- internals ----

  /** INVARIANT: every text that is stored, the item's key (its path) included, is scanned first. */
  #refuseSecrets(c: ItemContent, note: string | undefined, key: string): void {
    const found = this.#secretScan(
      [key, c.title, c.summary, c.tags.join(' '), c.body, c.meta ? canonicalJson(c.meta) : '', note ?? ''].join('\n'),
    );
    if (found) {
      throw new GatehouseError('secret_detected', `the text holds a secret (${found}); nothing was stored`, {
        hint: 'store the secret in the vault and write a {{vault:VAULT/ITEM.FIELD}} handle in its place',
      });
    }
  }

  async #putFiles(db: UntypedDb, files: readonly Buffer[] | undefined): Promise<void> {
    if (!files?.length) return;
    const at = nowIso();
    const unique = new Map(files.map((f) => [createHash('sha256').update(f).digest('hex'), f]));
    for (const [sha256, data] of unique) {
      await db
        .insertInto('knowledge_files')
        .values({ sha256, bytes: data.length, data, created_at: at })
        .onConflict((oc) => oc.column('sha256').doNothing())
        .execute();
    }
  }

  /**
   * Deletes the files no version refers to: a version refers to its manifest (meta.digest), and a
   * manifest to its files (meta.files lists their hashes, so this never parses stored bytes).
   */
  async #dropUnreferencedFiles(db: UntypedDb): Promise<void> {
    const rows = (await db.selectFrom('knowledge_versions').select('meta').where('meta', '!=', '{}').execute()) as {
      meta: string;
    }[];
    const keep = new Set<string>();
    for (const r of rows) {
      const m = JSON.parse(r.meta) as { digest?: unknown; files?: unknown };
      if (typeof m.digest === 'string') keep.add(m.digest);
      if (Array.isArray(m.files)) for (const f of m.files) if (typeof f === 'string') keep.add(f);
    }
    const all = (await db.selectFrom('knowledge_files').select('sha256').execute()) as { sha256: string }[];
    const drop = all.map((r) => r.sha256).filter((h) => !keep.has(h));
    for (let i = 0; i < drop.length; i += 500)
      await db
        .deleteFrom('knowledge_files')
        .where('sha256', 'in', drop.slice(i, i + 500))
        .execute();
  }

  /** Runs a change in one write transaction; a concurrent creation of the same key is a conflict. */
  async #change<T>(fn: (db: UntypedDb) => Promise<T>): Promise<T> {
    try {
      const out = await writeTransaction(this.#store, fn);
      this.#emit();
      return out;
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new GatehouseError('conflict', 'another change to the same item got there first; nothing was written', {
          hint: 'read it again and retry with its current version',
        });
      }
      throw e;
    }
  }

  #stale(what: string, expected: number, current: number): GatehouseError {
    return new GatehouseError('conflict', `${what} is at version ${current}, not ${expected}; nothing was written`, {
      hint: `read it again (version ${current}) and retry with that expected_version`,
    });
  }

  /** INVARIANT: a scope never holds more than MAX_ITEMS_PER_SCOPE items of a kind (checked inside the write transaction). */
  async #withinQuota(db: UntypedDb, kind: KnowledgeKind, scope: Scope): Promise<void> {
    const max = this.#maxItems[kind];
    const row = (await db
      .selectFrom('knowledge_items')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('kind', '=', kind)
      .where('scope', '=', scope)
      .executeTakeFirst()) as { n: number | string | bigint } | undefined;
    if (Number(row?.n ?? 0) >= max) {
      throw new GatehouseError('limit_exceeded', `this ${kind} scope already holds ${max} items, its limit`, {
        hint: 'delete what is no longer needed (an operator purges deleted items with `gatehouse memory purge`), or update an existing item',
      });
    }
  }

  /** Inserts a new item at version 1 with its first version; returns its id. */
  async #create(
    db: UntypedDb,
    kind: KnowledgeKind,
    scope: Scope,
    key: string,
    c: ItemContent,
    opts: ChangeOptions,
  ): Promise<string> {
    const id = `kn_${randomBytes(12).toString('base64url')}`;
    const at = nowIso();
    await db
      .insertInto('knowledge_items')
      .values({
        id,
        kind,
        scope,
        key,
        version: 1,
        deleted: 0,
        ...columns(c),
        created_at: at,
        updated_at: at,
        updated_by: opts.author.name,
      })
      .execute();
    await this.#insertVersion(db, { id, kind, scope, key }, 1, 'write', c, opts, at);
    await this.#syncLinks(db, id, c);
    return id;
  }

  /** Writes version cur.version + 1, only if the item is still at `expected`. */
  async #advance(
    db: UntypedDb,
    cur: ItemRow,
    expected: number,
    op: VersionOp,
    c: ItemContent,
    opts: ChangeOptions,
    deleted = false,
  ): Promise<void> {
    if (cur.version !== expected) throw this.#stale(`${cur.kind} ${cur.key}`, expected, cur.version);
    const at = nowIso();
    const next = cur.version + 1;
    const r = await db
      .updateTable('knowledge_items')
      .set({ version: next, deleted: deleted ? 1 : 0, ...columns(c), updated_at: at, updated_by: opts.author.name })
      .where('n', '=', cur.n)
      .where('version', '=', expected)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      const now = (await db
        .selectFrom('knowledge_items')
        .select('version')
        .where('n', '=', cur.n)
        .executeTakeFirst()) as { version: number } | undefined;
      throw this.#stale(`${cur.kind} ${cur.key}`, expected, now?.version ?? cur.version);
    }
    await this.#insertVersion(db, cur, next, op, c, opts, at);
    await this.#syncLinks(db, cur.id, c);
  }

  /**
   * The item's links, as its current version names them (`meta.links`: target keys such as a
   * wiki page's `ns:slug`), replaced in the transaction that writes the version.
   */
  async #syncLinks(db: UntypedDb, id: string, c: ItemContent): Promise<void> {
    const links = (c.meta as { links?: unknown } | undefined)?.links;
    await db.deleteFrom('knowledge_links').where('item_id', '=', id).execute();
    if (!Array.isArray(links)) return;
    const keys = [...new Set(links.filter((l): l is string => typeof l === 'string' && l.length <= MAX_LINK_CHARS))];
    if (keys.length)
      await db
        .insertInto('knowledge_links')
        .values(keys.map((to_key) => ({ item_id: id, to_key })))
        .execute();
  }

  async #insertVersion(
    db: UntypedDb,
    item: { id: string; kind: string; scope: string; key: string },
    version: number,
    op: VersionOp,
    c: ItemContent,
    opts: ChangeOptions,
    at: string,
  ): Promise<void> {
    const row: Omit<VersionRow, 'mac'> = {
      item_id: item.id,
      version,
      op,
      ...columns(c),
      sha256: sha256Of(c),
      author_token_id: opts.author.tokenId ?? null,
      author: opts.author.name,
      trust: opts.author.trust,
      note: opts.note ?? null,
      created_at: at,
    };
    await db
      .insertInto('knowledge_versions')
      .values({ ...row, mac: signVersion(this.#key, item, row) })
      .execute();
  }

  /** The item at (kind, scope, key), deleted or not, inside a change's transaction. */
  async #at(db: UntypedDb, kind: string, scope: Scope, key: string): Promise<ItemRow | undefined> {
    return (await db
      .selectFrom('knowledge_items')
      .selectAll()
      .where('kind', '=', kind)
      .where('scope', '=', scope)
      .where('key', '=', key)
      .executeTakeFirst()) as ItemRow | undefined;
  }

  async #row(id: string, scopes: readonly Scope[]): Promise<ItemRow> {
    if (scopes.length === 0) throw notFound(`item ${id}`);
    const row = (await this.#store.db
      .selectFrom('knowledge_items')
      .selectAll()
      .where('id', '=', id)
      .where('scope', 'in', [...scopes])
      .executeTakeFirst()) as ItemRow | undefined;
    if (!row) throw notFound(`item ${id}`);
    return row;
  }

  async #itemById(id: string, scopes: readonly Scope[]): Promise<Item> {
    return this.#item(await this.#row(id, scopes));
  }

  /** One version of an item the caller has read, checked against its signature. */
  async #verifiedVersion(item: ItemRow, version: number): Promise<VersionRow> {
    const v = (await this.#store.db
      .selectFrom('knowledge_versions')
      .selectAll()
      .where('item_id', '=', item.id)
      .where('version', '=', version)
      .executeTakeFirst()) as VersionRow | undefined;
    if (!v) throw notFound(`version ${version} of item ${item.id}`);
    checkVersion(this.#key, item, v);
    return v;
  }

  /**
   * The current item, checked against its signed newest version: the row must be at that version
   * (an item set back to an older version in SQL is refused), deleted exactly when that version is
   * a delete (undeleted in SQL: refused), and hold its content.
   */
  async #item(row: ItemRow): Promise<Item> {
    return checkedItem(this.#key, row, (await this.#newestVersions([row.id])).get(row.id));
  }

  /** The newest version row of each item, in one query. */
  async #newestVersions(ids: readonly string[]): Promise<Map<string, VersionRow>> {
    if (ids.length === 0) return new Map();
    const rows = (
      await sql<VersionRow>`
        SELECT v.* FROM knowledge_versions v
        JOIN (SELECT item_id, max(version) AS mv FROM knowledge_versions
              WHERE item_id IN (${sql.join([...ids])}) GROUP BY item_id) m
          ON v.item_id = m.item_id AND v.version = m.mv`.execute(this.#store.db)
    ).rows;
    return new Map(rows.map((v) => [v.item_id, v]));
  }
}
