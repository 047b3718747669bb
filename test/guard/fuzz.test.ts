import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadGuard, MAX_COMMAND_BYTES, type GuardEngine } from '../../src/guard/index.js';
import { PROP_SEED, PROP_TIMEOUT } from './prop-seed.js';

vi.setConfig({ testTimeout: PROP_TIMEOUT });

/** Random bytes and deep nesting never crash, hang or produce allow for dangerous payloads. */
let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
});

const VERDICTS = ['allow', 'approve', 'deny', 'redirect'];

describe('guard fuzz', () => {
  it('random strings never throw and always return a well-formed decision', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const d = g.checkCommand(s);
        expect(VERDICTS).toContain(d.decision);
        expect(typeof d.rule).toBe('string');
      }),
      { seed: PROP_SEED, numRuns: 1500 },
    );
  });

  it('random shell-ish token soup never throws; with rm -rf / appended it is never allowed', () => {
    const tok = fc.constantFrom(
      'ls',
      'echo',
      '$(',
      ')',
      '`',
      '"',
      "'",
      '|',
      '&&',
      ';',
      '\n',
      '{',
      '}',
      '(',
      '<<EOF',
      'EOF',
      '$x',
      '${',
      '\\',
      ' ',
      '#',
      '<(',
      '>',
      '*',
      'sudo',
      'bash -c',
    );
    fc.assert(
      fc.property(fc.array(tok, { maxLength: 40 }), (ts) => {
        const s = ts.join(' ');
        g.checkCommand(s);
        // A trailing backslash joins the next line (bash runs `ls rm -rf /`, harmless): skip it.
        const d = g.checkCommand(`${s.replace(/\\+\s*$/, '')}\nrm -rf /`);
        expect(d.decision).not.toBe('allow');
      }),
      { seed: PROP_SEED, numRuns: 800 },
    );
  });

  it('deep nesting of every kind is bounded and not allowed', () => {
    for (const n of [50, 300, 2000]) {
      const cases = [
        '$('.repeat(n) + 'rm -rf /' + ')'.repeat(n),
        '('.repeat(n) + 'ls' + ')'.repeat(n),
        '{ '.repeat(n) + 'ls; ' + '}; '.repeat(n),
        'echo x && '.repeat(n) + 'rm -rf /',
        'sudo '.repeat(n) + 'rm -rf /',
      ];
      for (const c of cases) {
        const d = g.checkCommand(c);
        expect(VERDICTS).toContain(d.decision);
        if (c.includes('rm -rf /')) expect(d.decision, c.slice(0, 60)).not.toBe('allow');
      }
    }
  });

  it('nested shell strings beyond the re-parse depth fail closed', () => {
    let c = 'ls';
    for (let i = 0; i < 8; i++) c = `bash -c '${c.replace(/'/g, `'\\''`)}'`;
    expect(g.checkCommand(c).decision).not.toBe('allow');
  });

  it('oversized input is not parsed and not allowed; the largest accepted input is', () => {
    const big = 'echo ' + 'a'.repeat(MAX_COMMAND_BYTES);
    expect(g.checkCommand(big)).toMatchObject({ decision: 'approve', rule: 'limits.input-too-large' });
    expect(g.checkCommand(big + '; rm -rf /').decision).toBe('deny');
    const largest = 'echo ' + 'a '.repeat((MAX_COMMAND_BYTES - 10) / 2);
    expect(VERDICTS).toContain(g.checkCommand(largest).decision);
  });
});
