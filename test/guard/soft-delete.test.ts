/**
 * Soft delete in the sandbox (GuardContext.reversibleDeletes): `rm` there is allowed because the
 * sandbox port checkpoints the workspace first. The coupling is the invariant: every command
 * whose verdict the flag changes must be one the checkpoint trigger (workspaceChange) sees as
 * deleting, or a delete would run allowed and unprotected. Catastrophes, run-time paths, paths
 * outside the write roots and every other context keep their verdicts.
 */
import { describe, expect, it } from 'vitest';
import { loadBashParser, loadGuard, workspaceChange } from '../../src/guard/index.js';

const guard = await loadGuard();
const parser = await loadBashParser();
const soft = { context: 'sandbox' as const, reversibleDeletes: true };

/** Forms of deleting that the guard reaches through wrappers, shells, stdin, functions and substitutions. */
const CORPUS = [
  'rm notes.txt',
  'rm -rf build dist',
  'rm -r -f ./src',
  '/bin/rm x',
  'command rm x',
  'exec rm x',
  'nice -n 5 timeout 10 rm x',
  'env A=1 rm x',
  'sudo rm x',
  "bash -c 'rm -rf src'",
  "sh -c 'cd src && rm *.o'",
  'echo x; rm y && ls',
  'f() { rm -rf out; }; f',
  'echo $(rm x)',
  'x=$(rm -v a); echo $x',
  "eval 'rm a'",
  'ls | xargs rm',
  'find . -name "*.o" -exec rm {} +',
  "sh <<'EOF'\nrm -rf build\nEOF",
  "echo 'rm -rf build' | sh",
  'bash -s <<< "rm a"',
  'time rm x',
  'unlink f',
  'rmdir empty',
  'rm -- -weird-name',
  'true || rm x',
  'if true; then rm x; fi',
  'for f in a b; do rm "$f"; done',
  '(cd sub && rm x)',
  'rm -rf $DIR',
  'rm -rf /',
  'rm /etc/passwd',
  'rm -rf ~',
];

describe('soft delete in the sandbox', () => {
  it('allows rm in the sandbox as fs.rm-soft, and only there', () => {
    expect(guard.checkCommand('rm -rf build', soft)).toMatchObject({ decision: 'allow', rule: 'fs.rm-soft' });
    expect(guard.checkCommand('rm -rf build', { context: 'sandbox' })).toMatchObject({ decision: 'approve' });
    expect(guard.checkCommand('rm -rf build', { context: 'ssh', reversibleDeletes: true })).toMatchObject({
      decision: 'approve',
    });
    expect(guard.checkCommand('rm -rf build', { context: 'session', reversibleDeletes: true }).decision).not.toBe(
      'allow',
    );
  });

  it('keeps catastrophes, run-time paths and paths outside the write roots', () => {
    expect(guard.checkCommand('rm -rf /', soft).decision).toBe('deny');
    expect(guard.checkCommand('rm -rf ~', soft).decision).toBe('deny');
    expect(guard.checkCommand('rm -rf $DIR', soft).decision).toBe('approve');
    expect(guard.checkCommand('rm /etc/passwd', soft).decision).not.toBe('allow');
    // Another risky program in the same line still decides.
    expect(guard.checkCommand('rm x; git push --force', soft).decision).toBe('approve');
  });

  it.each(CORPUS)('%s: a verdict the flag changes is one the checkpoint trigger sees as deleting', (cmd) => {
    const plain = guard.checkCommand(cmd, { context: 'sandbox' });
    const lowered = guard.checkCommand(cmd, soft);
    if (lowered.decision !== plain.decision) expect(workspaceChange(parser, cmd).deletes).toBe(true);
  });

  it('the corpus exercises the lowering (not a test that cannot fail)', () => {
    const changed = CORPUS.filter(
      (c) => guard.checkCommand(c, soft).decision !== guard.checkCommand(c, { context: 'sandbox' }).decision,
    );
    expect(changed.length).toBeGreaterThan(15);
  });
});
