/**
 * `gatehouse run [--profile NAME] [--mask] -- CMD ...`: runs any program (an agent CLI, say) inside
 * a sandbox profile with the terminal passed through, so it cannot read Gatehouse's own home, store
 * or keys. The program's exit code is propagated (128+N when it died of signal N).
 *
 * With --mask (or the profile's mask_output) this process masks the program's output and runs
 * the sandbox from a second `gatehouse run` on a pseudo-terminal (../masked-run.ts).
 */
import { gatehouseHome, isGatehouseError } from '../../core/index.js';
import { resolveProfile, runSandboxed } from '../../sandbox/index.js';
// The server's light face: the configuration without the runtime (a faster start for a terminal program).
import { loadConfig } from '../../server/light.js';
import { EXIT, type CommandRunner } from '../context.js';
import { maskedByParent, maskScrubber, prepareMaskedRun } from '../masked-run.js';
import { startModelGateway, type ModelGateway } from '../model-gateway.js';

const USAGE =
  'usage: gatehouse run [--profile NAME] [--mask] [--model-gateway [--server http://127.0.0.1:PORT] [--token NAME | --max-tokens-per-day N]] -- CMD [ARGS...]\n' +
  "  --mask:          secrets in the program's output (vault values, API keys, tokens) are masked before they\n" +
  '                   reach the terminal; the program stays on a terminal (also: profile mask_output: true)\n' +
  '  --model-gateway: the program reaches model APIs only through Gatehouse (targets added with --preset);\n' +
  '                   it holds a run token in ANTHROPIC_*/OPENAI_* variables, never the real key\n' +
  '  --token NAME:     hold the existing token NAME instead (its secret from GATEHOUSE_HOME/agent-tokens/NAME.token,\n' +
  '                   as `gatehouse connect … --new NAME` writes it): usage, budget and reports stay under one name\n';

export const run: CommandRunner = async (args, ctx) => {
  let profileName: string | undefined;
  let modelGateway = false;
  let server: string | undefined;
  let maxTokens: number | undefined;
  let tokenName: string | undefined;
  let mask = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '--profile' && args[i + 1] !== undefined) {
      profileName = args[++i] as string;
    } else if (a.startsWith('--profile=')) {
      profileName = a.slice('--profile='.length);
    } else if (a === '--mask') {
      mask = true;
    } else if (a === '--model-gateway') {
      modelGateway = true;
    } else if (a === '--server' && args[i + 1] !== undefined) {
      server = args[++i] as string;
    } else if (a === '--token' && args[i + 1] !== undefined) {
      tokenName = args[++i] as string;
    } else if (a === '--max-tokens-per-day' && /^\d{1,15}$/.test(args[i + 1] ?? '') && Number(args[i + 1]) > 0) {
      maxTokens = Number(args[++i]);
    } else {
      ctx.stderr.write(USAGE);
      return EXIT.usage;
    }
  }
  const argv = args.slice(i);
  if (
    argv.length === 0 ||
    ((server !== undefined || maxTokens !== undefined || tokenName !== undefined) && !modelGateway) ||
    // A named token's budget is the token's own (`gatehouse usage budget NAME`), not one run's.
    (tokenName !== undefined && maxTokens !== undefined)
  ) {
    ctx.stderr.write(USAGE);
    return EXIT.usage;
  }
  let gateway: ModelGateway | undefined;
  try {
    const home = gatehouseHome(ctx.env);
    // Named profiles come from the same configuration the server uses (sandbox.profiles).
    const config = loadConfig(ctx.env.GATEHOUSE_CONFIG ?? home.configFile, ctx.env.GATEHOUSE_CONFIG !== undefined);
    const profile = resolveProfile(
      profileName ?? config.sandbox.profile,
      { profiles: config.sandbox.profiles },
      { workspace: process.cwd(), home: home.home },
    );
    // INVARIANT: masking asked for is masking done or nothing run. Only the inner run that a
    // masking supervisor started (checked by pid) runs unmasked here: its output is already masked.
    if ((mask || profile.maskOutput) && !maskedByParent(ctx.env)) {
      const masked = prepareMaskedRun(ctx);
      const setup = await maskScrubber(ctx.env, home, config.redaction.patterns);
      ctx.stderr.write(
        `gatehouse run: masking secrets in the program's output (${setup.vaultValues ? 'vault values and key shapes' : 'key shapes; no Gatehouse store here, so no vault values'})\n`,
      );
      return await masked.run(args, setup);
    }
    // The agent's commands inside `run` are not seen one by one, so a profile that takes
    // checkpoints takes one of the workspace before the program starts. INVARIANT: asked for and
    // not taken means not run (the error reaches the catch below).
    if (profile.checkpoints.auto || profile.checkpoints.softDelete) {
      const { openCheckpoints } = await import('../../checkpoints/index.js');
      const cp = openCheckpoints(home.home, profile.workspace, profile.checkpoints).create({
        trigger: 'run',
        reason: `before gatehouse run ${argv[0]}`,
        command: argv.join(' '),
      });
      ctx.stderr.write(
        `gatehouse run: checkpoint ${cp.id} of ${profile.workspace} (${cp.files} files); undo the run with \`gatehouse checkpoint rollback ${cp.id}\`\n`,
      );
    }
    if (modelGateway) {
      gateway = await startModelGateway(ctx.env, {
        ...(server !== undefined ? { server } : {}),
        ...(maxTokens !== undefined ? { maxTokensPerDay: maxTokens } : {}),
        ...(tokenName !== undefined ? { token: tokenName } : {}),
      });
      profile.env = { ...profile.env, ...gateway.env };
      profile.network = {
        allow: [...(profile.network === 'none' ? [] : profile.network.allow), ...gateway.allow],
      };
      ctx.stderr.write(
        `gatehouse run: model traffic goes through Gatehouse (${gateway.targets.join(', ')}); the program holds a run token, revoked when it exits\n`,
      );
    }
    const r = await runSandboxed(profile, {
      argv,
      stdio: 'inherit',
      hiddenPaths: [home.home, home.masterKeyFile, home.databaseFile, home.configFile],
    });
    if (r.limit) ctx.stderr.write(`gatehouse run: ${r.limitMessage ?? r.limit}\n`);
    if (r.sandbox === 'none') ctx.stderr.write('gatehouse run: ran WITHOUT a sandbox (allowUnsandboxed)\n');
    if (r.exitCode !== null) return r.exitCode;
    return r.signal === 'SIGKILL' ? 137 : EXIT.failure;
  } catch (e) {
    if (isGatehouseError(e)) {
      ctx.stderr.write(`gatehouse run: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
      return e.code === 'not_found' || e.code === 'config_invalid' || e.code === 'usage' ? EXIT.usage : EXIT.failure;
    }
    throw e;
  } finally {
    await gateway?.close();
  }
};
