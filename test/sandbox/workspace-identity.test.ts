/**
 * Issue 18 item 6: `exec` from a client's project folder. As root, the sandbox runs as the
 * workspace's owner (an ordinary user's project, even under a private 0700 directory) or as uid
 * 65534 for a root-owned one, never as uid 0; a workspace the sandbox user cannot reach is refused
 * with a typed error naming the directory in the way and what to change, and `doctor` says the same.
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSandboxed, sandboxIdentity, validateProfile, workspaceCheck } from '../../src/sandbox/index.js';
import { requires } from '../helpers/requires.js';

// A uid with no account: an ordinary user as far as the file system and setpriv are concerned.
const USER = 4242;

describe.skipIf(!(await requires(['bwrap', 'root'], 'sandbox workspace identity')))(
  'the sandbox user for a workspace (Gatehouse as root)',
  () => {
    let base: string;
    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), 'gh-ws-identity-'));
      chmodSync(base, 0o755); // mkdtemp makes it private; the cases below choose their own
    });
    afterAll(() => rmSync(base, { recursive: true, force: true }));

    const profile = (workspace: string) => validateProfile({ name: 'project', workspace, limits: { wallSeconds: 30 } });

    it("an ordinary user's project under their private (0700) home: runs as that user, and can write there", async () => {
      const home = join(base, 'home-user');
      const project = join(home, 'project');
      mkdirSync(project, { recursive: true });
      chownSync(home, USER, USER);
      chownSync(project, USER, USER);
      chmodSync(home, 0o700);
      expect(sandboxIdentity(project)).toEqual({ uid: USER, gid: USER, as: 'owner' });
      const r = await runSandboxed(profile(project), { command: 'touch built && echo done' });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('done\n');
      expect(statSync(join(project, 'built')).uid).toBe(USER);
      expect(workspaceCheck(profile(project))).toMatchObject({ status: 'ok' });
    });

    it('a root-owned project runs as uid 65534, never as root', async () => {
      const project = join(base, 'root-project');
      mkdirSync(project);
      chmodSync(project, 0o777);
      expect(sandboxIdentity(project)).toEqual({ uid: 65534, gid: 65534, as: 'nobody' });
      const r = await runSandboxed(profile(project), { command: 'touch made && echo ok' });
      expect(r.exitCode).toBe(0);
      expect(statSync(join(project, 'made')).uid).toBe(65534);
    });

    it('a root-owned project under a private root directory: a typed refusal naming the directory and the fix', async () => {
      const secret = join(base, 'root-private');
      const project = join(secret, 'project');
      mkdirSync(project, { recursive: true });
      chmodSync(secret, 0o700);
      const err = await runSandboxed(profile(project), { command: 'touch nope' }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'sandbox_unavailable',
        message: expect.stringContaining(`cannot enter ${secret} (mode 0700, owner uid 0)`),
        hint: expect.stringMatching(/give the project to an ordinary user.*chmod o\+x/),
      });
      expect(() => statSync(join(project, 'nope'))).toThrow();
      expect(workspaceCheck(profile(project))).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining(secret),
        fix: expect.stringContaining('ordinary user'),
      });
    });
  },
);
