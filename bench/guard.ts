import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGuard, MAX_COMMAND_BYTES } from '../src/guard/index.js';
import { loadBashParser } from '../src/guard/parser.js';

/**
 * Guard decision latency: median and p99 µs per decision over the labelled corpus (several
 * rounds), and the time on the largest accepted input (64 KiB) and on a 1 MB input (rejected
 * unparsed, raw-scanned). Target: median < 50 µs.
 *
 * The headline figures are UNCACHED: the engine is loaded with its decision cache off, so every
 * timed call parses and analyses. The exact-match decision cache is timed separately
 * (`cached_*`), on a second engine, for what a repeated command costs.
 */

/**
 * Warm-up passes over the corpus before timing. One pass left much of the guard unoptimised
 * (V8 had not yet compiled the rule code it runs less often) and compiler threads busy during the
 * timed rounds, so the median and p99 measured JIT warm-up on top of the guard. A long-running
 * server runs optimised code; ten passes (~6,500 decisions) get there.
 */
const WARMUP_ROUNDS = 10;
function findCorpus(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(d, 'test', 'guard', 'corpus.jsonl');
    if (existsSync(p)) return p;
    d = dirname(d);
  }
  throw new Error('test/guard/corpus.jsonl not found');
}

function pct(sorted: number[], p: number): number {
  const v = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (v === undefined) throw new Error('bench: no samples');
  return v;
}

function timeUs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1000;
}

export async function benchGuard(): Promise<Record<string, unknown>> {
  const g = await loadGuard({ decisionCache: 0 });
  const cmds = readFileSync(findCorpus(), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
  for (let w = 0; w < WARMUP_ROUNDS; w++) for (const c of cmds) g.checkCommand(c); // warm-up (JIT, regex caches)
  const samples: number[] = [];
  const rounds = 5;
  // Per command, the fastest of the rounds: on a shared machine most slow samples are the process
  // being descheduled or a GC pause, not the guard; this figure is steadier between runs.
  const best = cmds.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    cmds.forEach((c, i) => {
      const us = timeUs(() => g.checkCommand(c));
      samples.push(us);
      if (us < (best[i] ?? Infinity)) best[i] = us;
    });
  }
  samples.sort((a, b) => a - b);
  best.sort((a, b) => a - b);
  // Baseline in the same run: tree-sitter parse + tree.delete() alone, no analysis.
  const parser = await loadBashParser();
  const parseOnly: number[] = [];
  for (let r = 0; r < rounds; r++) for (const c of cmds) parseOnly.push(timeUs(() => parser.parse(c)?.delete()));
  parseOnly.sort((a, b) => a - b);
  // Repeated commands through the exact-match decision cache (default engine settings).
  const cachedEngine = await loadGuard();
  for (let w = 0; w < WARMUP_ROUNDS; w++) for (const c of cmds) cachedEngine.checkCommand(c);
  const cached: number[] = [];
  for (let r = 0; r < rounds; r++) for (const c of cmds) cached.push(timeUs(() => cachedEngine.checkCommand(c)));
  cached.sort((a, b) => a - b);

  const unit = 'ls -la src && git status; grep -rn TODO src | head -n 5 > /tmp/x.txt\n';
  const largestScript = unit.repeat(Math.floor((MAX_COMMAND_BYTES - 16) / unit.length));
  const largestArgs = 'echo ' + 'ab '.repeat(Math.floor((MAX_COMMAND_BYTES - 16) / 3));
  const oneMb = 'echo ' + 'a'.repeat(1024 * 1024);
  const timeMs = (s: string): { ms: number; decision: string } => {
    const ts: number[] = [];
    let decision = '';
    g.checkCommand(s); // warm-up: the first large input also pays for JIT and heap growth
    for (let i = 0; i < 5; i++)
      ts.push(
        timeUs(() => {
          decision = g.checkCommand(s).decision;
        }) / 1000,
      );
    ts.sort((a, b) => a - b);
    return { ms: Number(pct(ts, 50).toFixed(2)), decision }; // ts[2] of 5
  };
  const out = {
    corpus_commands: cmds.length,
    warmup_rounds: WARMUP_ROUNDS,
    decisions_timed: samples.length,
    median_us: Number(pct(samples, 50).toFixed(1)),
    p90_us: Number(pct(samples, 90).toFixed(1)),
    p99_us: Number(pct(samples, 99).toFixed(1)),
    max_us: Number(pct(samples, 100).toFixed(1)),
    target_median_us: 50,
    best_of_rounds_median_us: Number(pct(best, 50).toFixed(1)),
    best_of_rounds_p99_us: Number(pct(best, 99).toFixed(1)),
    parse_only_median_us: Number(pct(parseOnly, 50).toFixed(1)),
    parse_only_p99_us: Number(pct(parseOnly, 99).toFixed(1)),
    cached_median_us: Number(pct(cached, 50).toFixed(1)),
    cached_p99_us: Number(pct(cached, 99).toFixed(1)),
    largest_accepted_bytes: Buffer.byteLength(largestScript),
    largest_script_64k: timeMs(largestScript),
    largest_args_64k: timeMs(largestArgs),
    oversize_1mb_rejected: timeMs(oneMb),
  };
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void benchGuard().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
