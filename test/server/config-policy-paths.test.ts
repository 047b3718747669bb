import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.js';
import { tempHome } from '../helpers/home.js';

// Issue 21.9: `guard.policy_files` with a relative path resolved against the server's working
// directory, so a file an agent could write there (named like a built-in policy) replaced the
// policy. Relative paths now mean relative to the configuration file.
describe('configuration: relative policy file paths', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  it('resolves guard.policy_files against the configuration file, never the working directory', () => {
    const confDir = join(home.dir, 'etc');
    mkdirSync(confDir, { recursive: true });
    const file = join(confDir, 'config.yaml');
    writeFileSync(file, 'guard:\n  policy_files: [policies/ops.yaml, /abs/other.yaml, ../shared.yaml]\n');
    const cfg = loadConfig(file, true);
    expect(cfg.guard.policy_files).toEqual([
      join(confDir, 'policies/ops.yaml'),
      '/abs/other.yaml',
      join(home.dir, 'shared.yaml'),
    ]);
    expect(cfg.guard.policy_files.some((p) => p.startsWith(process.cwd() + '/policies'))).toBe(false);
  });
});
