import { grantedNames, type Principal } from '../gate/index.js';
import type { ToolPorts } from '../tools/index.js';
import type { Runtime } from './runtime.js';

/** The vault names a principal holds, for handle filling (`['*']` when it holds every vault). */
function grantedVaults(p: Principal): string[] {
  const v = grantedNames(p.grants, 'vault');
  return v === '*' ? ['*'] : v;
}

/**
 * The server's implementation of the tools' ports (src/tools/ports.ts) over one runtime. Each
 * port is the narrowest view of a runtime service a tool needs; the store, keyring, vault and
 * configuration themselves stay here.
 */
export function toolPorts(rt: Runtime): ToolPorts {
  return {
    access: {
      file: async (p, ask) =>
        (await rt.accessPorts()).requests.file({ tokenId: p.tokenId, tokenName: p.tokenName }, ask),
    },
    knowledge: rt.knowledge,
    skills: rt.skills,
    wiki: {
      pages: rt.wiki,
      protectedNamespaces: rt.config.wiki.protected,
      knownHosts: () => rt.knownHosts(),
      freshSecrets: () => rt.refreshVaultSecrets(),
      secretIn: (t) => (rt.redactor.scrub(t) === t ? undefined : 'a vault value or a secret-shaped string'),
    },
    webhooks: { endpoints: rt.webhookEndpoints, queue: rt.webhookQueue },
    targets: {
      get: (name) => rt.targets.get(name),
      openSecret: (target, ref) => rt.openTargetSecret(target, ref),
      list: () => rt.listTargets(),
    },
    handles: {
      async fillText(principal, text, destination) {
        const r = await rt.vault.fillHandles(text, { destination, grantedVaults: grantedVaults(principal) });
        // INVARIANT: a filled value is known to both redactors before anything can echo it.
        for (const s of r.filled) rt.addSecret(s);
        return { text: r.text, filled: r.filled, handles: r.handles.length };
      },
      async fillShellEnv(principal, env, destination, shell) {
        const r = await rt.vault.fillShellEnv(env, { destination, shell, grantedVaults: grantedVaults(principal) });
        for (const s of r.filled) rt.addSecret(s);
        return r;
      },
      search: (principal, query) => rt.vault.search(query, grantedVaults(principal)),
      vaultNames: () => rt.listVaultNames(),
    },
    upstream: () => rt.upstream(),
    traffic: { dlp: () => rt.dlp, usage: () => rt.usage() },
    ssh: {
      pool: () => rt.sshPool(),
      async sessions() {
        const mgr = await rt.sessions();
        // A session of a revoked token is closed by the sweep, which runs once a session can exist.
        rt.watchSessionOwners();
        return mgr;
      },
      listSessions: (principal) => rt.listSessions(principal),
      sessionOpen: rt.config.ssh.session_open,
    },
    sandbox: {
      softDelete() {
        // The raw configuration (validated again by resolveProfile when the command runs, which
        // fails the run if it is wrong): loading the sandbox module here would slow every start.
        const p = (
          rt.config.sandbox.profiles as Record<string, { checkpoints?: { softDelete?: unknown } }> | undefined
        )?.[rt.config.sandbox.profile];
        return p?.checkpoints?.softDelete === true;
      },
      async run(opts) {
        const { resolveProfile, runSandboxed } = await import('../sandbox/index.js');
        const profile = resolveProfile(
          rt.config.sandbox.profile,
          { profiles: rt.config.sandbox.profiles },
          { home: rt.paths.home },
        );
        // INVARIANT: Gatehouse's own home, store, master key and configuration are hidden from every run.
        const hiddenPaths = [rt.paths.home, rt.paths.databaseFile, rt.paths.masterKeyFile, rt.paths.configFile];
        // INVARIANT (src/checkpoints/auto.ts): a checkpoint the profile asks for is taken before the
        // command runs, or the command does not run (the error propagates).
        const cp =
          profile.checkpoints.auto || profile.checkpoints.softDelete
            ? await (
                await import('../checkpoints/index.js')
              ).checkpointBefore(profile.checkpoints, profile.workspace, rt.paths.home, opts.command)
            : undefined;
        const r = await runSandboxed(profile, { ...opts, hiddenPaths });
        return cp === undefined ? r : { ...r, checkpoint: cp.after() };
      },
    },
    tools: () => rt.tools,
  };
}
