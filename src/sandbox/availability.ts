/** Finding the host programs the sandbox needs (absolute paths, never a PATH the caller controls). */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findProgram(name: string): string | null {
  for (const d of SYSTEM_PATH) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export const HOST_CHAIN_ENV: Readonly<Record<string, string>> = Object.freeze({ PATH: SYSTEM_PATH.join(':') });
