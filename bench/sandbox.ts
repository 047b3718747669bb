/**
 * Sandbox start overhead: a full runSandboxed (cgroups when root, prlimit, setpriv, bwrap with the
 * default profile) against a plain spawn of the same command, side by side in the same run.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSandboxed, validateProfile } from '../src/sandbox/index.js';

const RUNS = 30;

function stats(xs: number[]): { median: number; p99: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
  const r = (n: number) => Math.round(n * 100) / 100;
  return { median: r(q(0.5)), p99: r(q(0.99)), min: r(s[0] as number) };
}

function plain(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.resume();
    p.stderr.resume();
    p.on('error', reject);
    p.on('close', () => resolve());
  });
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

export async function benchSandbox(): Promise<Record<string, unknown>> {
  if (!existsSync('/usr/bin/bwrap')) return { skipped: 'bubblewrap not installed' };
  const ws = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  try {
    if (process.getuid?.() === 0) chownSync(ws, 65534, 65534);
    const profile = validateProfile({ name: 'bench', workspace: ws });
    const cases: Record<string, string[]> = {
      '/bin/true': ['/bin/true'],
      "sh -c 'echo hi'": ['/bin/sh', '-c', 'echo hi'],
    };
    const result: Record<string, unknown> = { runs: RUNS, unit: 'ms' };
    for (const [name, argv] of Object.entries(cases)) {
      const direct = stats(await time(() => plain(argv)));
      const sandboxed = stats(await time(() => runSandboxed(profile, { argv })));
      result[name] = {
        direct,
        sandboxed,
        overheadMedianMs: Math.round((sandboxed.median - direct.median) * 100) / 100,
      };
    }
    return result;
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void benchSandbox().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
