/**
 * The one way a suite says it needs a real part of the machine. On a laptop without it the suite
 * is skipped with a loud warning; under CI=true a missing part FAILS the run (a skipped security
 * test in CI is a test that did not run). Use it for every suite that cannot run without the part:
 *
 *   describe.skipIf(!(await requires('bwrap', 'exec e2e')))('exec tool end to end', () => { … });
 *
 * Parts: `bwrap` (bubblewrap), `sshd` (an OpenSSH server the tests start), `postgres` (a reachable
 * server: test/helpers/pg.ts), `private-postgres` (server binaries to run a server of the test's own:
 * test/helpers/private-pg.ts), `claude-code` (the real Claude Code CLI: test/helpers/claude-code.ts), `root` (cgroup limits, sandbox networking and mounts need it), `zip` (archives for skill import), `chromium` (a real browser for the console: test/helpers/browser.ts).
 */
import { existsSync } from 'node:fs';
import { chromiumMissing } from './browser.js';
import { claudeCodeMissing } from './claude-code.js';
import { probePostgres } from './pg.js';
import { privatePostgresMissing } from './private-pg.js';
import { sshdAvailability } from './sshd.js';

export type Part = 'bwrap' | 'sshd' | 'postgres' | 'private-postgres' | 'claude-code' | 'root' | 'zip' | 'chromium';

export const CI = process.env.CI === 'true';

/** Why a part is missing here, or null when it is present. */
async function missing(part: Part): Promise<string | null> {
  switch (part) {
    case 'bwrap':
      return existsSync('/usr/bin/bwrap') || existsSync('/bin/bwrap')
        ? null
        : 'bubblewrap (bwrap) is not installed (apt-get install bubblewrap)';
    case 'sshd': {
      const a = sshdAvailability();
      return a.ok ? null : (a.reason ?? 'sshd is not available');
    }
    case 'postgres':
      return (await probePostgres()).why ?? null;
    case 'private-postgres':
      return privatePostgresMissing();
    case 'claude-code':
      return claudeCodeMissing();
    case 'zip':
      return existsSync('/usr/bin/zip') || existsSync('/bin/zip') ? null : 'zip is not installed (apt-get install zip)';
    case 'chromium':
      return chromiumMissing();
    case 'root':
      return process.getuid?.() === 0 ? null : 'the tests need root (cgroup v1 limits, slirp4netns networking)';
  }
}

/**
 * True when every part is here. When one is missing: false and a warning on a laptop, a thrown
 * error (the test file fails to load) under CI=true.
 */
export async function requires(part: Part | readonly Part[], area: string): Promise<boolean> {
  for (const p of typeof part === 'string' ? [part] : part) {
    const why = await missing(p);
    if (why === null) continue;
    if (CI) throw new Error(`[${area}] CI=true and a required part is missing: ${p}: ${why}`);
    console.warn(`\n*** [${area}] SKIPPING: ${p} missing: ${why}. Under CI=true this fails the run. ***\n`);
    return false;
  }
  return true;
}
