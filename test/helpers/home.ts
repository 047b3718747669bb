import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * A home whose sandbox works in a workspace of its own (writable by the sandbox user), and a probe
 * for approvals: `risky(m)` needs approval (`rm -rf` of a path that does not exist, harmless to
 * run) and, when it runs, leaves the marker file `m` in the workspace, so "nothing ran" is checked
 * on the host, not inferred from the text of an error.
 */
export function approvalWorkspace(
  home: { dir: string; env: NodeJS.ProcessEnv },
  tag: string,
  extraConfig = '',
): {
  env: NodeJS.ProcessEnv;
  workspace: string;
  marker(): string;
  risky(m: string): string;
  ran(m: string): boolean;
} {
  const workspace = mkdtempSync(join(tmpdir(), `gh-${tag}-ws-`));
  chmodSync(workspace, 0o777);
  const config = join(home.dir, 'config.yaml');
  writeFileSync(
    config,
    `sandbox:\n  profile: work\n  profiles:\n    work:\n      workspace: ${workspace}\n${extraConfig}`,
  );
  let n = 0;
  return {
    env: { ...home.env, GATEHOUSE_CONFIG: config },
    workspace,
    marker: () => `${tag}-ran-${process.pid}-${++n}`,
    risky: (m) => `rm -rf /tmp/gatehouse-${tag}-${m}; touch ${m}; echo ${m}`,
    ran: (m) => existsSync(join(workspace, m)),
  };
}
