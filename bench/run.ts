/**
 * `npm run bench`: runs every benchmark and prints one JSON document on stdout. Each section sets
 * Gatehouse's figure beside its direct baseline measured in the same run. Pass section names to
 * run only those: `npm run bench -- guard upstream`.
 */
import { benchFoundation } from './foundation.js';

type Bench = () => Promise<Record<string, unknown>>;

const SECTIONS: Record<string, () => Promise<Bench>> = {
  foundation: async () => benchFoundation,
  guard: async () => (await import('./guard.js')).benchGuard,
  vault: async () => (await import('./vault.js')).benchVault,
  upstream: async () => (await import('./upstream.js')).benchUpstream,
  gateway: async () => (await import('./gateway.js')).benchGateway,
  model: async () => (await import('./model.js')).benchModel,
  ssh: async () => (await import('./ssh.js')).benchSsh,
  sandbox: async () => (await import('./sandbox.js')).benchSandbox,
  sqlite: async () => (await import('./sqlite-drivers.js')).benchSqliteDrivers,
  knowledge: async () => (await import('./knowledge.js')).benchKnowledge,
  webhooks: async () => (await import('./webhooks.js')).benchWebhooks,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !(w in SECTIONS));
  if (unknown.length) {
    process.stderr.write(
      `unknown bench section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const out: Record<string, unknown> = {
    machine: {
      node: process.version,
      platform: process.platform,
      cpus: (await import('node:os')).cpus().length,
      date: new Date().toISOString(),
    },
  };
  let failed = false;
  for (const name of wanted.length ? wanted : Object.keys(SECTIONS)) {
    const started = performance.now();
    process.stderr.write(`bench: ${name}…\n`);
    try {
      const section = SECTIONS[name];
      if (!section) throw new Error(`unknown bench section ${name}`);
      out[name] = await (await section())();
    } catch (e) {
      failed = true;
      out[name] = { error: String((e as Error)?.stack ?? e) };
    }
    process.stderr.write(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  if (failed) process.exitCode = 1;
}

await main();
