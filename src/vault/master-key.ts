import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { GatehouseError } from '../core/index.js';
import { KEY_BYTES } from './seal.js';
import { blake2b } from './blake2b.js';
import { getSodium } from './sodium.js';

/** Where the master key came from. Exactly one source is used; two configured sources is an error. */
export type MasterKeySource = 'file' | 'env' | 'passphrase';

/** Passphrase KDF parameters, stored (not secret) in the keyring's check row. */
export interface KdfParams {
  alg: 'argon2id13';
  ops: number;
  mem: number;
  /** base64 salt */
  salt: string;
}

export function decodeKeyText(text: string, what: string): Uint8Array {
  const t = text.trim();
  let buf: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) buf = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) buf = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!buf || buf.length !== KEY_BYTES) {
    // The message never echoes the text: it may be a mistyped key.
    throw new GatehouseError('key_invalid', `${what} is not a 32-byte key`, {
      hint: 'give 32 random bytes as base64 (44 chars) or hex (64 chars), e.g. `openssl rand -base64 32`',
    });
  }
  return new Uint8Array(buf);
}

/**
 * Reads the key file. INVARIANT: a key file readable or writable by group/others is refused, not
 * silently used (someone else may already hold a copy); the error says how to fix it.
 */
export function readKeyFile(file: string): Uint8Array {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new GatehouseError('key_invalid', `master key file ${file} is missing`, {
      hint: 'restore it from your backup, or set GATEHOUSE_MASTER_KEY / GATEHOUSE_MASTER_PASSPHRASE',
    });
  }
  if (!st.isFile()) throw new GatehouseError('key_invalid', `master key file ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new GatehouseError(
      'key_invalid',
      `master key file ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)})`,
      {
        hint: `run: chmod 600 ${file}  (and consider rotating with \`gatehouse vault rekey\` if others could read it)`,
      },
    );
  }
  const raw = readFileSync(file);
  if (raw.length === KEY_BYTES) return new Uint8Array(raw);
  return decodeKeyText(raw.toString('utf8'), `master key file ${file}`);
}

/** Writes a key file with mode 0600, failing if it exists (so two processes never both create one). */
export function writeKeyFileExclusive(file: string, key: Uint8Array): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function keyFileExists(file: string): boolean {
  return existsSync(file);
}

export async function newKdfParams(): Promise<KdfParams> {
  const s = await getSodium();
  return {
    alg: 'argon2id13',
    ops: s.crypto_pwhash_OPSLIMIT_INTERACTIVE,
    mem: s.crypto_pwhash_MEMLIMIT_INTERACTIVE,
    salt: Buffer.from(s.randombytes_buf(s.crypto_pwhash_SALTBYTES)).toString('base64'),
  };
}

export async function deriveFromPassphrase(passphrase: string, kdf: KdfParams): Promise<Uint8Array> {
  const s = await getSodium();
  if (kdf.alg !== 'argon2id13') throw new GatehouseError('key_invalid', `unknown passphrase KDF ${kdf.alg}`);
  if (passphrase.length < 12) {
    throw new GatehouseError('key_invalid', 'GATEHOUSE_MASTER_PASSPHRASE is too short (under 12 characters)', {
      hint: 'use a long passphrase (several random words)',
    });
  }
  return s.crypto_pwhash(
    KEY_BYTES,
    passphrase,
    Buffer.from(kdf.salt, 'base64'),
    kdf.ops,
    kdf.mem,
    s.crypto_pwhash_ALG_ARGON2ID13,
  );
}

/** A short public fingerprint of a master key (keyed BLAKE2b), shown in errors so operators can tell keys apart. */
export async function keyIdOf(key: Uint8Array): Promise<string> {
  return blake2b(8, 'gatehouse-master-key-id', key).toString('hex');
}

/** Which source the environment selects; two at once is ambiguous and refused. */
export function selectSource(env: NodeJS.ProcessEnv): MasterKeySource {
  const hasKey = !!env.GATEHOUSE_MASTER_KEY;
  const hasPass = !!env.GATEHOUSE_MASTER_PASSPHRASE;
  if (hasKey && hasPass) {
    throw new GatehouseError('key_invalid', 'both GATEHOUSE_MASTER_KEY and GATEHOUSE_MASTER_PASSPHRASE are set', {
      hint: 'set exactly one of them (or neither, to use the key file)',
    });
  }
  return hasKey ? 'env' : hasPass ? 'passphrase' : 'file';
}
