import { existsSync, statSync } from 'node:fs';
import { gatehouseHome, isGatehouseError } from '../../core/index.js';
import { openStore, pendingMigrations, pingStore, storeOptionsFromEnv, type Store } from '../../store/index.js';
import { TargetRepository } from '../../targets/index.js';
import { openKeyring, openVault, type Keyring } from '../../vault/index.js';
import { probeSandbox } from '../../sandbox/index.js';
import { configuredWorkspace } from '../workspace-check.js';
import { parse, write } from '../args.js';
import { EXIT, type CommandRunner } from '../context.js';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

function nodeCheck(): Check {
  const [maj, min] = process.versions.node.split('.').map(Number);
  const ok = maj !== undefined && min !== undefined && (maj > 20 || (maj === 20 && min >= 19));
  return ok
    ? { name: 'node', status: 'ok', detail: `Node ${process.versions.node}` }
    : {
        name: 'node',
        status: 'fail',
        detail: `Node ${process.versions.node} is older than 20.19`,
        fix: 'install Node 20.19 or newer',
      };
}

function modeCheck(name: string, path: string, wantMax: number, missing: Check): Check {
  if (!existsSync(path)) return missing;
  const mode = statSync(path).mode & 0o777;
  return (mode & ~wantMax) === 0
    ? { name, status: 'ok', detail: `${path} mode ${mode.toString(8)}` }
    : {
        name,
        status: 'fail',
        detail: `${path} mode ${mode.toString(8)} is readable by others`,
        fix: `chmod ${wantMax.toString(8)} ${path}`,
      };
}

/** Target and vault-binding rows whose signature does not verify (they are refused where used). */
async function integrityCheck(store: Store, keyring: Keyring): Promise<Check> {
  try {
    const targets = await new TargetRepository(store, keyring).listChecked();
    const vault = openVault({ store, keyring });
    const items = (await vault.listItems()).filter((i) => i.rejectedBindings.length > 0);
    vault.close();
    const bad = [
      ...targets.rejected.map((t) => `target ${t.name} (${t.reason})`),
      ...items.map((i) => `${i.vault}/${i.item}: ${i.rejectedBindings.join(' ')}`),
    ];
    return bad.length === 0
      ? {
          name: 'integrity',
          status: 'ok',
          detail: `${targets.targets.length} target(s) and every vault binding carry valid signatures`,
        }
      : {
          name: 'integrity',
          status: 'fail',
          detail: `rows written or changed without the master key are refused: ${bad.join('; ')}`,
          fix: 'remove them (`gatehouse target rm NAME`, `gatehouse vault unbind VAULT/ITEM --bind …`), re-create what you expect, and find out who can write to the database',
        };
  } catch (e) {
    return {
      name: 'integrity',
      status: 'fail',
      detail: isGatehouseError(e) ? e.message : 'cannot check row signatures',
      fix: isGatehouseError(e) ? e.hint : undefined,
    };
  }
}

/** Runs every check; never throws (a failing part is a `fail` line with its fix). */
export async function runChecks(env: NodeJS.ProcessEnv): Promise<Check[]> {
  const paths = gatehouseHome(env);
  const checks: Check[] = [nodeCheck()];
  checks.push(
    modeCheck('home', paths.home, 0o700, {
      name: 'home',
      status: 'warn',
      detail: `${paths.home} does not exist yet`,
      fix: 'run `gatehouse serve` once to create it',
    }),
  );
  checks.push(
    env.GATEHOUSE_MASTER_KEY || env.GATEHOUSE_MASTER_PASSPHRASE
      ? {
          name: 'master key',
          status: 'ok',
          detail: `from ${env.GATEHOUSE_MASTER_KEY ? 'GATEHOUSE_MASTER_KEY' : 'GATEHOUSE_MASTER_PASSPHRASE'}`,
        }
      : modeCheck('master key', paths.masterKeyFile, 0o600, {
          name: 'master key',
          status: 'warn',
          detail: `${paths.masterKeyFile} does not exist yet`,
          fix: 'run `gatehouse serve` once to create it',
        }),
  );
  if (existsSync(paths.home) || env.DATABASE_URL || env.GATEHOUSE_PG_SCHEMA) {
    try {
      // The same store every other command opens; doctor never migrates or writes a keyring.
      const store = await openStore({ ...storeOptionsFromEnv(env, paths), migrate: false, createSchema: false });
      try {
        await pingStore(store);
        const pending = await pendingMigrations(store.db);
        checks.push(
          pending.length === 0
            ? { name: 'store', status: 'ok', detail: `${store.description}, migrated` }
            : {
                name: 'store',
                status: 'warn',
                detail: `${store.description}, ${pending.length} migration(s) pending: ${pending.join(', ')}`,
                fix: 'start `gatehouse serve` once; migrations run on start',
              },
        );
        if (pending.length === 0) {
          try {
            const kr = await openKeyring({
              home: paths.home,
              masterKeyFile: paths.masterKeyFile,
              env,
              store,
              create: false,
              initialize: false,
            });
            try {
              checks.push({
                name: 'keyring',
                status: 'ok',
                detail: `master key ${kr.keyId} (${kr.source}) opens the store's keys`,
              });
              checks.push(await integrityCheck(store, kr));
            } finally {
              kr.close();
            }
          } catch (e) {
            checks.push({
              name: 'keyring',
              status: 'fail',
              detail: isGatehouseError(e) ? e.message : 'cannot open',
              fix: isGatehouseError(e) ? e.hint : undefined,
            });
          }
        }
      } finally {
        await store.close();
      }
    } catch (e) {
      checks.push({
        name: 'store',
        status: 'fail',
        detail: isGatehouseError(e) ? e.message : String(e),
        fix: isGatehouseError(e) ? e.hint : 'check DATABASE_URL / GATEHOUSE_HOME',
      });
    }
  }
  try {
    await import('ssh2');
    checks.push({ name: 'ssh', status: 'ok', detail: 'ssh2 client library loaded (SSH targets available)' });
  } catch {
    checks.push({
      name: 'ssh',
      status: 'fail',
      detail: 'the ssh2 package cannot be loaded',
      fix: 'run npm install again',
    });
  }
  const sandbox = await probeSandbox();
  sandbox.checks.push(configuredWorkspace(env));
  for (const c of sandbox.checks)
    checks.push({ name: `sandbox: ${c.name}`, status: c.status, detail: c.detail, fix: c.fix });
  return checks;
}

export const run: CommandRunner = async (args, ctx) => {
  const { values } = parse(args, { json: { type: 'boolean' } }, { positionals: false });
  const checks = await runChecks(ctx.env);
  if (values.json) write(ctx.stdout, JSON.stringify(checks, null, 2));
  else
    for (const c of checks)
      write(
        ctx.stdout,
        `${c.status.padEnd(4)}  ${c.name}: ${c.detail}${c.fix && c.status !== 'ok' ? `\n      fix: ${c.fix}` : ''}`,
      );
  return checks.some((c) => c.status === 'fail') ? EXIT.failure : EXIT.ok;
};
