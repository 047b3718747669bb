/**
 * Issue 21 items 6 and 4, the session side: output is scrubbed once as a stream and then sliced
 * (no `since`/`limit` split lets a vault value out), and the transcript never drops what ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SshSessionManager,
  type SessionRecord,
  type SessionTranscript,
  type SshTargetSpec,
} from '../../src/ssh/index.js';
import { OutputPipeline, lineScrubber } from '../../src/ssh/session-output.js';
import { Redactor } from '../../src/vault/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh session output'));
const SECRET = 'Zq7-vault-CANARY-91xK';
// Printed by the remote side from two halves, so the command text itself never holds the secret.
const PRINT_SECRET = "printf '%s%s\\n' 'Zq7-vault-' 'CANARY-91xK'";

function redactor(): Redactor {
  const r = new Redactor({ audience: 'agent' });
  r.add(SECRET);
  return r;
}

describe.skipIf(skip)('session output and transcript (real sshd, bash login shell)', () => {
  let sshd: SshdHandle;
  let spec: SshTargetSpec;
  const rd = redactor();
  let sm: SshSessionManager;

  beforeAll(async () => {
    sshd = await startSshd({ loginShell: 'bash' });
    spec = sshd.spec('box');
    sm = new SshSessionManager({ createScrubber: () => rd.createScrubber() });
  });
  afterAll(async () => {
    sm?.closeAll();
    await sshd?.dispose();
  });

  // `scrub` is the whole-string scrubber the tool passes today; `createScrubber` the stream one.
  it.each(['scrub', 'createScrubber'] as const)(
    'a secret printed by the remote side never comes back, whatever since/limit splits the reads (%s)',
    async (kind) => {
      const opts =
        kind === 'scrub' ? { scrub: (x: string) => rd.scrub(x) } : { createScrubber: () => rd.createScrubber() };
      const { id } = await sm.open(spec, sshd.credentials, { owner: 'o1', ...opts });
      const r = await sm.send(
        id,
        'o1',
        `for i in 1 2 3; do printf 'line %s: '  $i; ${PRINT_SECRET}; done; printf 'tail \\033[1m%s\\033[0m%s\\n' 'Zq7-vault-' 'CANARY-91xK'; echo DONE-$((1+1))`,
        { waitFor: 'DONE-2', timeoutS: 10 },
      );
      expect(r.matched).toBe(true);
      expect(r.output).not.toContain(SECRET);
      expect(r.output.match(/\[REDACTED\]/g)?.length).toBe(4);
      const total = sm.read(id, 'o1', { since: 0 }).next;
      for (let limit = 1; limit <= total; limit++) {
        for (const start of [0, 1, 2, 3, 5, 8, 13]) {
          let joined = '';
          for (let since = start; since < total;) {
            const page = sm.read(id, 'o1', { since, limit });
            expect(page.output).not.toContain(SECRET);
            joined += page.output;
            if (page.next === since) break;
            since = page.next;
          }
          // Read slice by slice and put back together, the output still holds no secret.
          expect(joined).not.toContain(SECRET);
          expect(joined).not.toContain('CANARY-91xK');
        }
      }
      sm.close(id, 'o1');
    },
  );

  it.each(['scrub', 'createScrubber'] as const)(
    'waitFor is matched against scrubbed output: it never tells whether a secret was printed (%s)',
    async (kind) => {
      const opts =
        kind === 'scrub' ? { scrub: (x: string) => rd.scrub(x) } : { createScrubber: () => rd.createScrubber() };
      const { id } = await sm.open(spec, sshd.credentials, { owner: 'o2', ...opts });
      const r = await sm.send(id, 'o2', `${PRINT_SECRET}; echo DONE-$((1+1))`, { waitFor: SECRET, timeoutS: 1 });
      expect(r.matched).toBe(false);
      expect(r.timedOut).toBe(true);
      expect(r.output).toContain('[REDACTED]');
      sm.close(id, 'o2');
    },
  );

  it('a prompt with no newline after it is released after the quiet period', async () => {
    const { id } = await sm.open(spec, sshd.credentials, { owner: 'o3' });
    // The redactor holds back a tail that could start a secret; quiet releases it.
    const r = await sm.send(id, 'o3', "printf 'Password for deploy: '; read -r x", {
      waitFor: 'Password for deploy: ',
      timeoutS: 10,
    });
    expect(r.matched).toBe(true);
    sm.close(id, 'o3');
  });

  it('inputs and events are scrubbed in the transcript and in the records', async () => {
    const records: SessionRecord[] = [];
    const m = new SshSessionManager({ createScrubber: () => rd.createScrubber(), onRecord: (x) => records.push(x) });
    try {
      const { id } = await m.open(spec, sshd.credentials, { owner: 'o4' });
      await m.send(id, 'o4', `echo ${SECRET} >/dev/null; echo DONE-$((1+1))`, { waitFor: 'DONE-2', timeoutS: 10 });
      expect(JSON.stringify(m.transcript(id))).not.toContain(SECRET);
      expect(JSON.stringify(records)).not.toContain(SECRET);
      expect(records.some((x) => x.dir === 'in' && x.data.includes('echo [REDACTED] >/dev/null'))).toBe(true);
      m.close(id, 'o4');
    } finally {
      m.closeAll();
    }
  });

  it('the transcript keeps a command sent after 200 KB of output, whole, and says how much output it left out', async () => {
    const transcripts: SessionTranscript[] = [];
    const records: SessionRecord[] = [];
    const m = new SshSessionManager({
      transcriptMaxChars: 100_000,
      transcriptMaxCharsPerTurn: 64_000,
      onTranscript: (t) => transcripts.push(t),
      onRecord: (r) => records.push(r),
    });
    try {
      const { id } = await m.open(spec, sshd.credentials, { owner: 'o5' });
      for (let i = 0; i < 2; i++) {
        const big = await m.send(id, 'o5', `head -c 200000 /dev/zero | tr '\\0' x; echo; echo BIG-DONE-$((1+${i}))`, {
          waitFor: `BIG-DONE-${1 + i}`,
          timeoutS: 30,
        });
        expect(big.matched).toBe(true);
      }
      // The shape: a long line padded with spaces, the part that matters at its end.
      const command = `true${' '.repeat(600)}; echo AFTER-$((2+3)) > /dev/null; rm -f /tmp/gh-transcript-probe-file`;
      await m.send(id, 'o5', command, { timeoutS: 0.5 });
      await m.send(id, 'o5', 'echo LAST-$((3+3))', { waitFor: 'LAST-6', timeoutS: 10 });
      // Per-send records arrive as each input is written, before the session closes.
      expect(records.filter((r) => r.dir === 'in').map((r) => r.data)).toContain(command + '\n');
      m.close(id, 'o5');
      const t = transcripts.find((x) => x.id === id)!;
      const inputs = t.entries.filter((e) => e.dir === 'in').map((e) => e.data);
      expect(inputs).toContain(command + '\n');
      expect(inputs).toContain('echo LAST-$((3+3))\n');
      expect(inputs.filter((x) => x.startsWith('head -c 200000'))).toHaveLength(2);
      expect(t.truncated).toBe(true);
      expect(t.outputDroppedChars).toBeGreaterThan(200_000);
      const drops = t.entries.filter((e) => e.dir === 'event' && e.data.startsWith('output not recorded:'));
      expect(drops.length).toBeGreaterThanOrEqual(2);
      const kept = t.entries.filter((e) => e.dir === 'out').reduce((n, e) => n + e.data.length, 0);
      expect(kept).toBeLessThanOrEqual(100_000);
      expect(t.entries.at(-1)).toMatchObject({ dir: 'event', data: 'close: closed by owner' });
      // Records and transcript line up by position.
      for (const r of records) expect(t.entries[r.seq]).toMatchObject({ dir: r.dir, data: r.data });
    } finally {
      m.closeAll();
    }
  });

  it('echo is off by default (output holds only what programs print); echo: true shows the input', async () => {
    const quiet = await sm.open(spec, sshd.credentials, { owner: 'o6' });
    const a = await sm.send(quiet.id, 'o6', 'echo QUIET-$((1+1))', { waitFor: 'QUIET-2', timeoutS: 10 });
    expect(a.output).not.toContain('echo QUIET');
    sm.close(quiet.id, 'o6');
    const loud = await sm.open(spec, sshd.credentials, { owner: 'o6', echo: true });
    const b = await sm.send(loud.id, 'o6', 'echo LOUD-$((1+1))', { waitFor: 'LOUD-2\n', timeoutS: 10 });
    expect(b.output).toContain('echo LOUD-$((1+1))');
    sm.close(loud.id, 'o6');
  });
});

describe('the output pipeline scrubs a stream once, whatever its chunking', () => {
  const text = `a\x1b[31mb\r\nuser=${SECRET}\r\nZq7-vault-\x1b[0mCANARY-91xK and ${SECRET}${SECRET}\r\n$ `;

  it('every split of the stream into two chunks gives the same scrubbed text, never the secret', () => {
    const rd = redactor();
    const whole: string[] = [];
    const ref = new OutputPipeline(
      () => rd.createScrubber(),
      (t) => whole.push(t),
      10_000,
    );
    ref.pushBytes(Buffer.from(text));
    ref.end();
    const expected = whole.join('');
    expect(expected).not.toContain(SECRET);
    expect(expected.match(/\[REDACTED\]/g)?.length).toBe(4);
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got: string[] = [];
      const p = new OutputPipeline(
        () => rd.createScrubber(),
        (t) => got.push(t),
        10_000,
      );
      p.pushBytes(bytes.subarray(0, cut));
      p.pushBytes(bytes.subarray(cut));
      p.end();
      expect(got.join('')).toBe(expected);
    }
  });

  it('byte by byte, and with a release (quiet period) between lines', () => {
    const rd = redactor();
    const got: string[] = [];
    const p = new OutputPipeline(
      () => rd.createScrubber(),
      (t) => got.push(t),
      10_000,
    );
    for (const b of Buffer.from(text)) {
      p.pushBytes(Buffer.from([b]));
      if (b === 0x0a) p.release();
    }
    p.end();
    expect(got.join('')).not.toContain(SECRET);
    expect(got.join('')).toMatch(/\$ $/);
  });

  it('a whole-string scrubber is applied line by line', () => {
    const got: string[] = [];
    const p = new OutputPipeline(
      () => lineScrubber((s) => s.replaceAll('hunter2', '[X]')),
      (t) => got.push(t),
      10_000,
    );
    for (const c of 'pw=hun') p.pushText(c);
    p.pushText('ter2\nnext');
    p.end();
    expect(got.join('')).toBe('pw=[X]\nnext');
  });
});
