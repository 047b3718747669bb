/**
 * `gatehouse run --mask` (issue 20 item 7): masked output hides a canary printed by the program.
 *
 * End to end on a real terminal: the built CLI runs under a pseudo-terminal of the test's own
 * (util-linux script(1)), and what reaches that terminal is every byte the person would see. The
 * sandboxed program prints a vault value and keys of every preset (one split by a colour code),
 * and checks its terminal: it is a TTY, has the outer window size and follows a resize, shows
 * colours, and takes raw mode (one key read without Enter). Also: stdout as a pipe (no pty) with
 * the profile's mask_output, and refusals when masking cannot be set up (nothing runs).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskedByParent, MASKED_ENV } from '../../src/cli/masked-run.js';
import { run as runCmd } from '../../src/cli/commands/run.js';
import { validateProfile } from '../../src/sandbox/index.js';
import { ANTHROPIC, AWS_ID, AWS_SECRET, BEARER, GITHUB, OPENAI, hiddenParts } from '../helpers/canaries.js';
import { CLI, assertBuilt, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { CI, requires } from '../helpers/requires.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const VAULT_CANARY = 'vault-canary-Xq7Lm2Pz9Kd4Wr8';
/** Parts of each secret that must never reach the terminal. */
const HIDDEN = hiddenParts(VAULT_CANARY);

/** No 8-byte window of any hidden part shows, with or without the escape sequences taken out. */
function expectNoCanary(bytes: string): void {
  const plain = bytes.replace(/\x1b\[[\x20-\x3f]*[\x40-\x7e]/g, '');
  for (const t of [bytes, plain])
    for (const h of HIDDEN)
      for (let i = 0; i + 8 <= h.length; i++) expect(t, `shows ${h.slice(i, i + 8)}`).not.toContain(h.slice(i, i + 8));
}

/** The program: prints every canary (one split by a colour code), then probes its terminal. */
const PRINTS = [
  `echo "vault value: ${VAULT_CANARY}"`,
  `echo "ANTHROPIC_API_KEY=${ANTHROPIC}"`,
  `echo "OPENAI_API_KEY=${OPENAI}"`,
  `echo "aws_access_key_id = ${AWS_ID}"`,
  `echo "aws_secret_access_key = ${AWS_SECRET}"`,
  `echo "GITHUB_TOKEN=${GITHUB}" >&2`,
  `echo "Authorization: Bearer ${BEARER}"`,
  `printf 'split: ${ANTHROPIC.slice(0, 21)}\\033[1m${ANTHROPIC.slice(21)}\\033[0m\\n'`,
].join('; ');

/** A loud skip on a laptop, a failure under CI=true (as test/helpers/requires.ts does for its parts). */
function needsScript(): boolean {
  if (SCRIPT) return true;
  const why = 'script(1) from util-linux is not installed (apt-get install bsdutils)';
  if (CI) throw new Error(`[masked terminal] CI=true and a required part is missing: ${why}`);
  console.warn(`\n*** [masked terminal] SKIPPING: ${why}. Under CI=true this fails the run. ***\n`);
  return false;
}

describe('the masked run: profile option and the inner run mark', () => {
  it('takes mask_output (or maskOutput) in a sandbox profile; off by default', () => {
    const ws = tmpdir();
    expect(validateProfile({ workspace: ws }).maskOutput).toBe(false);
    expect(validateProfile({ workspace: ws, mask_output: true }).maskOutput).toBe(true);
    expect(validateProfile({ workspace: ws, maskOutput: true }).maskOutput).toBe(true);
    expect(() => validateProfile({ workspace: ws, maskOutput: true, mask_output: false })).toThrow(/disagree/);
    expect(() => validateProfile({ workspace: ws, mask_output: 'yes' })).toThrow(/mask_output/);
  });

  it('believes the inner-run mark only from its parent or grandparent', () => {
    expect(maskedByParent({})).toBe(false);
    expect(maskedByParent({ [MASKED_ENV]: String(process.ppid) })).toBe(true);
    expect(maskedByParent({ [MASKED_ENV]: String(process.pid) })).toBe(false);
    expect(maskedByParent({ [MASKED_ENV]: '1; rm -rf /' })).toBe(false);
    expect(maskedByParent({ [MASKED_ENV]: '999999999' })).toBe(false);
  });

  it('refuses to run unmasked when masking cannot be set up (here: no built CLI beside the sources)', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d) => (err += d));
    const marker = join(mkdtempSync(join(tmpdir(), 'gh-mask-refuse-')), 'ran');
    const home = tempHome();
    try {
      const code = await runCmd(['--mask', '--', '/bin/sh', '-c', `touch ${marker}`], {
        stdout,
        stderr,
        stdin: new PassThrough(),
        env: home.env,
      });
      expect(code).not.toBe(0);
      expect(err).toMatch(/--mask needs the built gatehouse CLI/);
      expect(existsSync(marker)).toBe(false);
    } finally {
      home.cleanup();
    }
  });
});

describe.skipIf(!(await requires('bwrap', 'masked terminal')) || !needsScript())('gatehouse run --mask', () => {
  const home = tempHome();
  let env: NodeJS.ProcessEnv;
  let workspace: string;

  beforeAll(() => {
    assertBuilt();
    workspace = mkdtempSync(join(tmpdir(), 'gh-mask-ws-'));
    chmodSync(workspace, 0o777);
    const config = join(home.dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'sandbox:',
        '  profile: plain',
        '  profiles:',
        '    plain:',
        `      workspace: ${workspace}`,
        '    masked:',
        `      workspace: ${workspace}`,
        '      mask_output: true',
        '',
      ].join('\n'),
    );
    env = { ...home.env, GATEHOUSE_CONFIG: config };
    expect(cli(['vault', 'create', 'app'], env).code).toBe(0);
    expect(cli(['vault', 'set', 'app/db.password'], env, VAULT_CANARY).code).toBe(0);
  });

  afterAll(() => {
    home.cleanup();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('masked output hides a canary printed by the program, on a real terminal that keeps colours, size, resizing and raw mode', async () => {
    const signals = mkdtempSync(join(tmpdir(), 'gh-mask-sig-'));
    chmodSync(signals, 0o777);
    const program = [
      'test -t 0 && test -t 1 && test -t 2 && echo TTY-OK',
      'echo "size $(stty size)"',
      "printf '\\033[31mRED\\033[0m\\n'",
      PRINTS,
      'stty raw -echo',
      'echo "modes $(stty -a | tr " " "\\n" | grep -x -e -icanon -e -echo | tr "\\n" " ")"',
      "printf 'READY\\r\\n'",
      'c=$(dd bs=1 count=1 2>/dev/null)',
      'stty sane',
      'echo "got[$c] size $(stty size)"',
      'exit 7',
    ].join('\n');
    // The outer terminal: 33x101, resized to 40x120 when the test says so (a file appears).
    const outer = [
      'stty rows 33 cols 101',
      `(while [ ! -e ${signals}/resize ]; do sleep 0.05; done; stty rows 40 cols 120 </dev/tty; touch ${signals}/resized) &`,
      `exec ${[process.execPath, CLI, 'run', '--mask', '--', '/bin/sh', '-c', program].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`,
    ].join('\n');
    const child = spawn(SCRIPT as string, ['-q', '-e', '-E', 'never', '-c', outer, '/dev/null'], {
      env: { ...env, SHELL: '/bin/sh' },
      cwd: workspace,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let seen = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const until = async (what: () => boolean, label: string) => {
      for (let i = 0; i < 600 && !what(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!what()) throw new Error(`timed out waiting for ${label}:\n${seen}\n${err}`);
    };
    const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    try {
      await until(() => seen.includes('READY'), 'READY');
      writeFileSync(join(signals, 'resize'), '');
      await until(() => readdirSync(signals).includes('resized'), 'the resize');
      // One key, no Enter: only a terminal in raw mode hands it over at once.
      child.stdin.write('q');
      expect(await code).toBe(7);
    } finally {
      child.kill();
      child.stdin.end();
      rmSync(signals, { recursive: true, force: true });
    }
    expectNoCanary(seen);
    expect(seen).toContain('TTY-OK');
    expect(seen).toContain('size 33 101');
    expect(seen).toContain('\x1b[31mRED\x1b[0m');
    expect(seen).toMatch(/modes -icanon -echo/);
    expect(seen).toContain('got[q] size 40 120');
    // Masked, not dropped: the lines are there with their markers.
    expect(seen).toContain('vault value: [REDACTED]');
    expect(seen).toContain('ANTHROPIC_API_KEY=sk-ant-***');
    expect(seen).toContain('GITHUB_TOKEN=ghp_***');
    expect(seen).toMatch(/split: sk-ant-\*\*\*\x1b\[1m\x1b\[0m/);
    expect(seen).toMatch(/masking secrets in the program's output \(vault values and key shapes\)/);
  });

  it("masks a pipe without a pseudo-terminal, by the profile's mask_output alone", () => {
    const r = cli(
      ['run', '--profile', 'masked', '--', '/bin/sh', '-c', `test -t 1 || echo NOT-A-TTY; ${PRINTS}; exit 5`],
      env,
    );
    expect(r.code).toBe(5);
    expect(r.stdout).toContain('NOT-A-TTY');
    expect(r.stdout).toContain('vault value: [REDACTED]');
    expect(r.stderr).toContain('GITHUB_TOKEN=ghp_***');
    expectNoCanary(r.stdout + r.stderr);
    // Unmasked, the same program shows them: the canaries are real.
    const plain = cli(['run', '--', '/bin/sh', '-c', `echo ${VAULT_CANARY}`], env);
    expect(plain.stdout).toContain(VAULT_CANARY);
  });

  it('refuses to run when the vault values cannot be read (a store without its master key)', () => {
    const key = join(env.GATEHOUSE_HOME as string, 'master.key');
    const aside = `${key}.aside`;
    renameSync(key, aside);
    try {
      const marker = `ran-${process.pid}`;
      const r = cli(['run', '--mask', '--', '/bin/sh', '-c', `touch ${marker}; echo ${VAULT_CANARY}`], env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--mask cannot read the vault values to mask, so nothing was run/);
      expect(r.stdout).toBe('');
      expect(existsSync(join(workspace, marker))).toBe(false);
    } finally {
      renameSync(aside, key);
    }
  });
});
