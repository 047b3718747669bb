import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway GATEHOUSE_HOME (never the user's ~/.gatehouse). */
export function tempHome(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const home = join(dir, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_HOME: home, GATEHOUSE_LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.GATEHOUSE_TOKEN;
  delete env.GATEHOUSE_MASTER_KEY;
  delete env.GATEHOUSE_MASTER_PASSPHRASE;
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
