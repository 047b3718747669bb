import { createHash, randomBytes } from 'node:crypto';
import { GatehouseError, log, rowMac, rowMacValid, type MacField } from '../core/index.js';
import { nowIso, writeTransaction, type Store } from '../store/index.js';
import { INTEGRITY_KEY, openSealed, sealBytes } from '../vault/index.js';
import { checkEndpointName, DEFAULTS, validateConfig, type Endpoint, type EndpointConfig } from './endpoint.js';

interface Row {
  name: string;
  url_key_hash: string;
  url_key_sealed: string;
  config: string;
  created_at: string;
  updated_at: string;
  mac?: string | null;
}

/** What the repository needs from the keyring (a `Keyring` is one). */
export interface EndpointKeys {
  internalKey(purpose: string): Promise<Buffer>;
}

const ENDPOINT_MAC = 'webhook-endpoint/v1';
/** The internal key the URL keys are sealed under (only `webhook test` opens one). */
const URL_KEY_PURPOSE = 'webhook-url-keys';

/**
 * What an endpoint's signature covers: its name, the hash of its URL key and its whole
 * configuration (secret references, scheme, limits, instructions), exactly as stored.
 */
const macFields = (r: Row): MacField[] => [
  r.name,
  r.url_key_hash,
  r.url_key_sealed,
  r.config,
  r.created_at,
  r.updated_at,
];

/** SHA-256 (hex) of a URL key: what ingest looks an endpoint up by. */
export function urlKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A URL key is 128 random bits in base64url (22 characters). */
export const URL_KEY = /^[A-Za-z0-9_-]{22}$/;

function toEndpoint(r: Row): Endpoint {
  return {
    name: r.name,
    config: JSON.parse(r.config) as EndpointConfig,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function notFound(name: string): GatehouseError {
  return new GatehouseError('not_found', `no webhook endpoint ${JSON.stringify(name)}`, {
    hint: 'see `gatehouse webhook list`',
  });
}

/** A new configuration with every default filled in. */
export function withDefaults(c: Partial<EndpointConfig> & Pick<EndpointConfig, 'provider'>): EndpointConfig {
  return {
    description: '',
    secrets: [],
    publicKeys: [],
    allowFrom: [],
    events: [],
    retentionS: DEFAULTS.retentionS,
    dedupeS: DEFAULTS.dedupeS,
    toleranceS: DEFAULTS.toleranceS,
    maxAttempts: DEFAULTS.maxAttempts,
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    sealBody: false,
    legacySha1: false,
    rate: { ...DEFAULTS.rate },
    projection: [],
    ...c,
  };
}

/**
 * Webhook endpoints in the store.
 *
 * INVARIANTS: every row is signed under the store-integrity key when written, and a row whose
 * signature does not verify is never used (ingest refuses its events, `list` names it as
 * rejected): someone who can write to the database without the master key cannot add a secret,
 * drop the signature check or rewrite the instructions agents are given. The URL key is stored only
 * as its hash and sealed; it is shown once, when made.
 */
export class EndpointRepository {
  readonly #store: Store;
  readonly #keys: EndpointKeys;
  readonly #listeners: ((name: string) => void)[] = [];
  /** Ingest's lookups by URL key hash, for up to a second (a change here drops the cache at once). */
  #byKey = new Map<string, { endpoint: Endpoint | null; at: number }>();

  constructor(store: Store, keys: EndpointKeys) {
    this.#store = store;
    this.#keys = keys;
  }

  onChange(fn: (name: string) => void): void {
    this.#listeners.push(fn);
  }

  /** Adds an endpoint; returns it with its URL key (shown once). */
  async add(
    name: string,
    config: Partial<EndpointConfig> & Pick<EndpointConfig, 'provider'>,
  ): Promise<{ endpoint: Endpoint; urlKey: string }> {
    checkEndpointName(name);
    const c = validateConfig(withDefaults(config));
    if (await this.#row(name))
      throw new GatehouseError('conflict', `a webhook endpoint named ${name} already exists`, {
        hint: 'use `gatehouse webhook update`, or pick another name',
      });
    const urlKey = randomBytes(16).toString('base64url');
    const now = nowIso();
    const row: Row = {
      name,
      url_key_hash: urlKeyHash(urlKey),
      url_key_sealed: await this.#sealKey(name, urlKey),
      config: JSON.stringify(c),
      created_at: now,
      updated_at: now,
    };
    await writeTransaction(this.#store, async (db) => {
      await db
        .insertInto('webhook_endpoints')
        .values({ ...row, mac: await this.#sign(row) })
        .execute();
      await db
        .insertInto('webhook_counters')
        .values({ endpoint: name, seq: 0, duplicates: 0 })
        .onConflict((oc) => oc.column('endpoint').doNothing())
        .execute();
    });
    this.#changed(name);
    return { endpoint: toEndpoint(row), urlKey };
  }

  /** Replaces the configuration with `patch(current)` (validated), if nobody changed it meanwhile. */
  async update(name: string, patch: (c: EndpointConfig) => EndpointConfig): Promise<Endpoint> {
    const cur = await this.#verifiedRow(name);
    const c = validateConfig(patch(JSON.parse(cur.config) as EndpointConfig));
    return this.#replace(cur, { config: JSON.stringify(c) });
  }

  /** Issues a new URL key (the old URL stops working at once); returns it (shown once). */
  async newUrlKey(name: string): Promise<{ endpoint: Endpoint; urlKey: string }> {
    const cur = await this.#verifiedRow(name);
    const urlKey = randomBytes(16).toString('base64url');
    const endpoint = await this.#replace(cur, {
      url_key_hash: urlKeyHash(urlKey),
      url_key_sealed: await this.#sealKey(name, urlKey),
    });
    return { endpoint, urlKey };
  }

  async #replace(cur: Row, change: Partial<Row>): Promise<Endpoint> {
    const row: Row = { ...cur, ...change, updated_at: nowIso() };
    if (row.updated_at === cur.updated_at) row.updated_at = new Date(Date.parse(cur.updated_at) + 1).toISOString();
    const r = await this.#store.db
      .updateTable('webhook_endpoints')
      .set({
        url_key_hash: row.url_key_hash,
        url_key_sealed: row.url_key_sealed,
        config: row.config,
        updated_at: row.updated_at,
        mac: await this.#sign(row),
      })
      .where('name', '=', cur.name)
      .where('updated_at', '=', cur.updated_at)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new GatehouseError('conflict', `webhook endpoint ${cur.name} changed while it was being updated`, {
        hint: 'run the command again',
      });
    this.#changed(cur.name);
    return toEndpoint(row);
  }

  /** Removes an endpoint with its events and counters (no signature needed: it is how a forged row goes). */
  async remove(name: string): Promise<void> {
    const n = await writeTransaction(this.#store, async (db) => {
      const r = await db.deleteFrom('webhook_endpoints').where('name', '=', name).executeTakeFirst();
      await db.deleteFrom('webhook_events').where('endpoint', '=', name).execute();
      await db.deleteFrom('webhook_dedupe').where('endpoint', '=', name).execute();
      await db.deleteFrom('webhook_counters').where('endpoint', '=', name).execute();
      return Number(r.numDeletedRows);
    });
    if (n === 0) throw notFound(name);
    this.#changed(name);
  }

  /** The endpoint; `not_found`, or `integrity_failed` when its row does not verify. */
  async get(name: string): Promise<Endpoint> {
    return toEndpoint(await this.#verifiedRow(name));
  }

  /** The endpoint a URL key names (verified), or null: ingest's lookup, cached for up to a second. */
  async byUrlKey(key: string): Promise<Endpoint | null> {
    if (!URL_KEY.test(key)) return null;
    const hash = urlKeyHash(key);
    const hit = this.#byKey.get(hash);
    if (hit && Date.now() - hit.at < 1000) return hit.endpoint;
    const row = (await this.#store.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('url_key_hash', '=', hash)
      .executeTakeFirst()) as Row | undefined;
    let endpoint: Endpoint | null = null;
    if (row) {
      if (rowMacValid(await this.#key(), ENDPOINT_MAC, macFields(row), row.mac)) endpoint = toEndpoint(row);
      else
        log.error('a webhook endpoint row fails its integrity check; its events are refused', { endpoint: row.name });
    }
    if (this.#byKey.size > 1000) this.#byKey.clear();
    this.#byKey.set(hash, { endpoint, at: Date.now() });
    return endpoint;
  }

  /** Every endpoint whose row verifies, and the names of those that do not. */
  async listChecked(): Promise<{ endpoints: Endpoint[]; rejected: string[] }> {
    const rows = (await this.#store.db.selectFrom('webhook_endpoints').selectAll().orderBy('name').execute()) as Row[];
    const out = { endpoints: [] as Endpoint[], rejected: [] as string[] };
    const key = rows.length ? await this.#key() : undefined;
    for (const r of rows) {
      if (key && rowMacValid(key, ENDPOINT_MAC, macFields(r), r.mac)) out.endpoints.push(toEndpoint(r));
      else out.rejected.push(r.name);
    }
    return out;
  }

  async list(): Promise<Endpoint[]> {
    return (await this.listChecked()).endpoints;
  }

  /** The endpoint's URL key, opened from its sealed copy (for `gatehouse webhook test`). */
  async urlKey(name: string): Promise<string> {
    const row = await this.#verifiedRow(name);
    const [nonce, ciphertext] = row.url_key_sealed.split('.');
    const bytes = await openSealed(
      { nonce: nonce ?? '', ciphertext: ciphertext ?? '' },
      `gatehouse:v1|webhook-url|${name}`,
      await this.#keys.internalKey(URL_KEY_PURPOSE),
      'the endpoint URL key',
    );
    return Buffer.from(bytes).toString('utf8');
  }

  async #sealKey(name: string, key: string): Promise<string> {
    const s = await sealBytes(
      Buffer.from(key, 'utf8'),
      `gatehouse:v1|webhook-url|${name}`,
      await this.#keys.internalKey(URL_KEY_PURPOSE),
    );
    return `${s.nonce}.${s.ciphertext}`;
  }

  async #row(name: string): Promise<Row | undefined> {
    return (await this.#store.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst()) as Row | undefined;
  }

  async #verifiedRow(name: string): Promise<Row> {
    const row = await this.#row(name);
    if (!row) throw notFound(name);
    if (!rowMacValid(await this.#key(), ENDPOINT_MAC, macFields(row), row.mac))
      throw new GatehouseError(
        'integrity_failed',
        `webhook endpoint ${JSON.stringify(name)} failed its integrity check: its row was written or changed without the master key`,
        {
          hint: `remove it with \`gatehouse webhook rm ${name}\` and add it again; find out who can write to the database`,
          details: { endpoint: name },
        },
      );
    return row;
  }

  #key(): Promise<Buffer> {
    return this.#keys.internalKey(INTEGRITY_KEY);
  }

  async #sign(r: Row): Promise<string> {
    return rowMac(await this.#key(), ENDPOINT_MAC, macFields(r));
  }

  #changed(name: string): void {
    this.#byKey.clear();
    for (const fn of this.#listeners) fn(name);
  }
}
