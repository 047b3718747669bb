/**
 * SSH exec latency, side by side in one run against one throwaway sshd (test/helpers/sshd.ts):
 *   raw       — ssh2 `exec('true')` on an already open connection (the baseline)
 *   pooled    — SshPool.exec on a warm pool (command building, limiter, capture, result)
 *   fresh     — a new connection (handshake + auth) per command, then exec
 * Target (ARCHITECTURE.md): pooled median under 5 ms above raw.
 */
import ssh2, { type Client } from 'ssh2';
import { SshPool } from '../src/ssh/index.js';
import { summarize as stats } from './stats.js';
import { sshdAvailability, startSshd, type SshdHandle } from '../test/helpers/sshd.js';

function connectRaw(sshd: SshdHandle): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: sshd.privateKey,
      hostVerifier: () => true,
    });
  });
}

function rawExec(c: Client, cmd: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (err, stream) => {
      if (err) return reject(err);
      let code: number | null = null;
      stream.on('data', () => {});
      stream.stderr.on('data', () => {});
      stream.on('exit', (c0: number | null) => (code = c0));
      stream.on('close', () => resolve(code));
      stream.end();
    });
  });
}

async function time(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

export async function benchSsh(): Promise<Record<string, unknown>> {
  const avail = sshdAvailability();
  if (!avail.ok) return { skipped: true, reason: avail.reason };
  const sshd = await startSshd();
  const pool = new SshPool({ idleCloseMs: 0 });
  const spec = sshd.spec('bench');
  const N = Number(process.env.BENCH_SSH_N ?? 60);
  const NF = Number(process.env.BENCH_SSH_FRESH_N ?? 15);
  try {
    const raw = await connectRaw(sshd);
    // Warm both paths.
    for (let i = 0; i < 5; i++) {
      await rawExec(raw, 'true');
      await pool.exec(spec, sshd.credentials, { command: 'true' });
    }
    // Interleave raw and pooled rounds so load on the shared machine hits both alike.
    const rawT: number[] = [];
    const poolT: number[] = [];
    for (let round = 0; round < 3; round++) {
      rawT.push(...(await time(N / 3, () => rawExec(raw, 'true'))));
      poolT.push(...(await time(N / 3, () => pool.exec(spec, sshd.credentials, { command: 'true' }))));
    }
    const freshT = await time(NF, async () => {
      const c = await connectRaw(sshd);
      await rawExec(c, 'true');
      c.end();
    });
    // Parallel throughput through the pool (8 channels).
    const parN = 48;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: parN }, () => pool.exec(spec, sshd.credentials, { command: 'true' })));
    const parMs = performance.now() - t0;
    raw.end();
    const r = stats(rawT);
    const p = stats(poolT);
    return {
      command: 'true',
      user: sshd.user,
      raw_open_connection_ms: r,
      pooled_warm_ms: p,
      fresh_connection_per_command_ms: stats(freshT),
      pooled_added_median_ms: Math.round((p.median_ms - r.median_ms) * 1000) / 1000,
      pooled_added_target_ms: 5,
      pooled_parallel: { calls: parN, total_ms: Math.round(parMs), per_sec: Math.round((parN / parMs) * 1000) },
    };
  } finally {
    await pool.close();
    await sshd.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void benchSsh().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
