import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * The vault. Sealed bytes are stored as base64 text (portable across SQLite and PostgreSQL).
 * INVARIANT: no column holds a plaintext credential. `vault_fields.ciphertext` is
 * XChaCha20-Poly1305 under the vault's data key with AD = vault id | item id | field name;
 * `vaults.wrapped_key` and `vault_keyring.wrapped` are keys sealed under the master key.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  // Master-key check value (id 'check', with the passphrase KDF salt/params when one is used) and
  // the internal named keys ('internal:<purpose>'), each sealed under the master key.
  await db.schema
    .createTable('vault_keyring')
    .addColumn('id', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('wrapped', 'text', (c) => c.notNull())
    .addColumn('nonce', 'varchar(64)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('kdf', 'text')
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('vaults')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('key_nonce', 'varchar(64)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('vault_items')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('vault_id', 'varchar(40)', (c) => c.notNull().references('vaults.id').onDelete('cascade'))
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .addUniqueConstraint('vault_items_vault_name', ['vault_id', 'name'])
    .execute();

  await db.schema
    .createTable('vault_fields')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('item_id', 'varchar(40)', (c) => c.notNull().references('vault_items.id').onDelete('cascade'))
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('nonce', 'varchar(64)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .addUniqueConstraint('vault_fields_item_name', ['item_id', 'name'])
    .execute();

  // kind: 'target' (exact target name) or 'host' (exact host or '*.example.com' glob).
  await db.schema
    .createTable('vault_bindings')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('item_id', 'varchar(40)', (c) => c.notNull().references('vault_items.id').onDelete('cascade'))
    .addColumn('kind', 'varchar(10)', (c) => c.notNull())
    .addColumn('pattern', 'varchar(255)', (c) => c.notNull())
    .addUniqueConstraint('vault_bindings_item_kind_pattern', ['item_id', 'kind', 'pattern'])
    .execute();
  await db.schema.createIndex('vault_bindings_item').on('vault_bindings').column('item_id').execute();
}
