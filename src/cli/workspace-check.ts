import { gatehouseHome } from '../core/index.js';
import { resolveProfile, workspaceCheck, type ProbeCheck } from '../sandbox/index.js';
import { loadConfig } from '../server/index.js';

/** The configured profile's workspace (or, with none configured, this folder, as `exec` would use). */
export function configuredWorkspace(env: NodeJS.ProcessEnv): ProbeCheck {
  try {
    const paths = gatehouseHome(env);
    const config = loadConfig(env.GATEHOUSE_CONFIG ?? paths.configFile, env.GATEHOUSE_CONFIG !== undefined);
    return workspaceCheck(
      resolveProfile(config.sandbox.profile, { profiles: config.sandbox.profiles }, { home: paths.home }),
    );
  } catch (e) {
    const err = e as { message?: string; hint?: string };
    return {
      name: 'workspace',
      status: 'fail',
      detail: `the sandbox profile cannot be read: ${err.message ?? String(e)}`,
      ...(err.hint ? { fix: err.hint } : {}),
    };
  }
}
