import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI (`npm test` builds first). End-to-end tests drive exactly what users run. */
export const CLI = fileURLToPath(new URL('../../dist/src/bundle/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  // A large maxBuffer: a whole audit log as JSON lines is far past spawnSync's 1 MiB default.
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env,
    input,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Creates a token through the CLI and returns its text. */
export function createToken(env: NodeJS.ProcessEnv, name: string, grants: string[], extra: string[] = []): string {
  const r = cli(['token', 'create', '--name', name, ...grants.flatMap((g) => ['--grant', g]), ...extra], env);
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Starts `gatehouse serve` on a free port and resolves with its base URL once it listens. */
export async function startServe(
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; proc: ChildProcess; output: () => string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    const check = () => {
      const m = /listening on (http:\/\/[0-9.:[\]]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
  });
  return {
    url,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** One audit record as `gatehouse audit tail --json` prints it (the fields tests look at). */
export interface AuditLine {
  seq: number;
  phase: string;
  tool: string | null;
  tokenName: string | null;
  outcome: string | null;
  approver: string | null;
  decision: string | null;
  rule: string | null;
  detail: Record<string, unknown> | null;
}

/** The newest audit record's seq now: the records a test makes next come after it. */
export function auditSeq(env: NodeJS.ProcessEnv): number {
  const r = cli(['audit', 'tail', '-n', '1', '--json'], env);
  if (r.code !== 0) throw new Error(`audit tail failed: ${r.stdout}${r.stderr}`);
  const line = r.stdout.trim();
  return line === '' ? 0 : (JSON.parse(line) as { seq: number }).seq;
}

/**
 * Every audit record appended after `seq` (oldest first): a test's assertions look only at the
 * records it made, never at what earlier tests left in the same log.
 */
export function auditAfter(env: NodeJS.ProcessEnv, seq: number): AuditLine[] {
  const r = cli(['audit', 'tail', '-n', '2000', '--json'], env);
  if (r.code !== 0) throw new Error(`audit tail failed: ${r.stderr}`);
  const all = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);
  if (all.length > 0 && all[0].seq > seq + 1)
    throw new Error(`more than 2000 records since #${seq}: the tail does not reach back that far`);
  return all.filter((x) => x.seq > seq);
}
