import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

/**
 * Issue 14 item 0: a script the line writes and then runs is judged as the text it holds, in every
 * context. The sandbox allows scripts the guard cannot read (its boundary holds them), so without
 * this a payload the guard denies on its own (`rm -rf ~`) would run there once written to a file.
 */
let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard({ decisionCache: 0 });
});

describe('scripts written and run in the same line', () => {
  it.each([
    "echo 'rm -rf ~' > f; sh f",
    "printf 'rm -rf /\\n' > g && chmod +x g && ./g",
    "cat > x.sh <<'EOF'\nrm -rf ~\nEOF\nbash x.sh",
    "echo 'rm -rf ~' | tee run.sh >/dev/null; bash run.sh",
    "echo ':(){ :|:& };:' > f; source f",
    "echo 'echo ok' > f; echo 'rm -rf ~' >> f; . f",
  ])('%j is deny in the sandbox and on SSH', (line) => {
    for (const context of ['sandbox', 'ssh'] as const)
      expect(g.checkCommand(line, { context }).decision, `${context}: ${line}`).toBe('deny');
  });

  it('a script whose written text the guard does not know is approve even in the sandbox', () => {
    for (const line of [
      'base64 -d <<< cm0gLXJmIH4= > f; sh f',
      'echo "$PAYLOAD" > f; bash f',
      'rev <<< "~ fr- mr" > f; . f',
    ]) {
      expect(g.checkCommand(line, { context: 'sandbox' }).decision, line).not.toBe('allow');
    }
  });

  it('a harmless written script is judged as what it holds', () => {
    expect(g.checkCommand("echo 'ls -la' > f; sh f", { context: 'sandbox' }).decision).toBe('allow');
    expect(g.checkCommand("cat > b.sh <<'EOF'\necho hi\nEOF\nsh b.sh", { context: 'sandbox' }).decision).toBe('allow');
    // On SSH the runner still runs a file the guard vouches for only through the line's own text.
    expect(g.checkCommand("echo 'ls -la' > f; sh f", { context: 'ssh' }).decision).toBe('approve');
  });
});
