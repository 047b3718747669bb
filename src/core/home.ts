import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { GatehouseError } from './errors.js';

export interface HomePaths {
  /** `$GATEHOUSE_HOME`, default `~/.gatehouse`; mode 0700. */
  home: string;
  /** 32 random bytes, mode 0600; wraps the vault's data keys. */
  masterKeyFile: string;
  /** The embedded SQLite store (WAL). */
  databaseFile: string;
  /** Optional configuration (YAML). */
  configFile: string;
}

export function gatehouseHome(env: NodeJS.ProcessEnv = process.env): HomePaths {
  const home = resolve(env.GATEHOUSE_HOME || join(homedir(), '.gatehouse'));
  return {
    home,
    masterKeyFile: join(home, 'master.key'),
    databaseFile: join(home, 'gatehouse.db'),
    configFile: join(home, 'config.yaml'),
  };
}

/**
 * Creates the home directory with mode 0700, or tightens it if it exists with looser bits.
 * INVARIANT: the directory holding the key file and the store is never group/world accessible.
 */
export function ensureHome(paths: HomePaths): { created: boolean } {
  const created = !existsSync(paths.home);
  if (created) mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  const st = statSync(paths.home);
  if (!st.isDirectory()) {
    throw new GatehouseError('config_invalid', `GATEHOUSE_HOME ${paths.home} is not a directory`, {
      hint: 'point GATEHOUSE_HOME at a directory Gatehouse may own',
    });
  }
  if ((st.mode & 0o077) !== 0) chmodSync(paths.home, 0o700);
  return { created };
}
