import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/audit.js';
import { EXIT } from '../../src/cli/context.js';
import { bootRuntime } from '../../src/server/boot.js';
import { tempHome } from '../helpers/home.js';

/** Runs `gatehouse audit ARGS` in-process against the test home; returns exit code and output. */
async function audit(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const code = await run(args, { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env });
  return { code, stdout: out };
}

describe('gatehouse audit verify / show / tail', () => {
  const home = tempHome();
  const transcript =
    'prompt$ cat big.log\n' + 'line\n'.repeat(3000) + 'prompt$ true' + ' '.repeat(600) + "; alias ll='rm -rf ~'\n";

  beforeAll(async () => {
    const rt = await bootRuntime({ env: home.env });
    try {
      await rt.audit.append({
        phase: 'attempt',
        tool: 'ssh_exec',
        target: 'web',
        action: 'sh',
        payload: { command: 'sh', stdin: "alias ll='rm -rf ~'\n" },
      });
      await rt.audit.append({
        phase: 'event',
        tool: 'ssh_session',
        target: 'web',
        outcome: 'transcript',
        payload: { transcript },
      });
      await rt.audit.append({
        phase: 'attempt',
        tool: 'exec',
        action: 'echo hidden\x1b[2K\rls -l \u202egnp.exe',
        payload: { command: 'printf "\\x1b]0;pwned\\x07"\x1b]0;pwned\x07\r\n' },
      });
      for (let i = 0; i < 5; i++) await rt.audit.append({ phase: 'event', tool: 'test', action: `n${i}` });
    } finally {
      await rt.close();
    }
  });
  afterAll(() => home.cleanup());

  it('show prints a record with its full payloads, fetched from blobs', async () => {
    const r = await audit(['show', '2'], home.env);
    expect(r.code).toBe(EXIT.ok);
    const sha = createHash('sha256').update(transcript).digest('hex');
    expect(r.stdout).toContain(
      `--- payload transcript (${Buffer.byteLength(transcript)} bytes, blob sha256 ${sha}) ---`,
    );
    expect(r.stdout).toContain(transcript);
    const json = await audit(['show', '1', '--json'], home.env);
    const parsed = JSON.parse(json.stdout) as { id: string; payloadValues: Record<string, { text: string }> };
    expect(parsed.payloadValues.stdin.text).toBe("alias ll='rm -rf ~'\n");
    // By id as well as by seq.
    expect((await audit(['show', parsed.id], home.env)).stdout).toContain("alias ll='rm -rf ~'");
    await expect(audit(['show', '999'], home.env)).rejects.toMatchObject({ code: 'not_found' });
    await expect(audit(['show'], home.env)).rejects.toMatchObject({ code: 'usage' });
  });

  it("show and tail never pass an agent's control characters to the operator's terminal", async () => {
    for (const args of [
      ['show', '3'],
      ['tail', '-n', '20'],
    ]) {
      const r = await audit(args, home.env);
      expect(r.code).toBe(EXIT.ok);
      expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
      expect(r.stdout).toContain('\\u{1b}[2K');
      expect(r.stdout).toContain('\\u{202e}');
    }
    expect((await audit(['show', '3'], home.env)).stdout).toContain('\\u{1b}]0;pwned\\u{7}\\r\n');
  });

  it('verify prints every break and exits non-zero', async () => {
    // Each CLI command appended to the chain the one before it released.
    expect(await audit(['verify'], home.env)).toEqual({
      code: EXIT.ok,
      stdout: 'ok: 8 records in 1 chain, every chain intact\n  chain w1: 8 records, ends at 8\n',
    });
    const rt = await bootRuntime({ env: home.env });
    try {
      await rt.store.db.updateTable('audit_log').set({ action: 'tampered' }).where('seq', 'in', [4, 7]).execute();
      await rt.store.db
        .updateTable('audit_blobs')
        .set({ data: Buffer.from('something else') })
        .execute();
    } finally {
      await rt.close();
    }
    const r = await audit(['verify'], home.env);
    expect(r.code).toBe(EXIT.failure);
    expect(r.stdout).toMatch(/^BROKEN: 3 problems in 8 records:/);
    expect(r.stdout).toMatch(/#2 w1:2 \(au_[^)]+\) has a changed payload transcript/);
    expect(r.stdout).toMatch(/#4 w1:4 \(au_[^)]+\) was changed/);
    expect(r.stdout).toMatch(/#7 w1:7 \(au_[^)]+\) was changed/);
    expect(r.stdout).toContain('chains checked:\n  chain w1: 8 records, ends at 8');
    const json = JSON.parse((await audit(['verify', '--json'], home.env)).stdout) as {
      breakCount: number;
      breaks: { seq: number }[];
    };
    expect(json.breakCount).toBe(3);
    expect(json.breaks.map((b) => b.seq)).toEqual([2, 4, 7]);
    const shown = await audit(['show', '2'], home.env);
    expect(shown.code).toBe(EXIT.failure);
    expect(shown.stdout).toContain('CHANGED: the blob does not match the digest in the record');
  });
});
