/**
 * Issue 13 item 6: redaction never tells an agent whether a string it chose equals a secret.
 * Agent-facing redactors leave guessable values alone (scrubbing one could only confirm a guess);
 * operator-facing ones scrub everything; strong values are scrubbed by both. A guessable value
 * filled into one action is hidden by that action's overlay together with every same-shaped
 * string the agent sent, so the output has the same shape whether a guess was right.
 */
import { describe, expect, it } from 'vitest';
import { GUESS_WINDOW_MAX, guessWindows, Redactor } from '../../src/vault/index.js';

const PIN = '493817';
const SEASON = 'Summer2024!';
const STRONG = 'vX9q-Lm4T7pZ2wKr8sNb3YhC';

/** What an upstream that echoes a request would send back. */
const echo = (guesses: readonly string[]) =>
  `{"echo":[${guesses.map((g) => JSON.stringify(g)).join(',')}],"q":"${guesses.map(encodeURIComponent).join('&')}","b64":"${Buffer.from(guesses.join(':')).toString('base64')}"}`;

/**
 * The "shape" of an output: its length and where it was hidden. Guesses have one length, and so
 * do their encodings, so two answers with the same shape differ only inside the guesses' own
 * visible encodings, which the agent already knows.
 */
const shapeOf = (out: string) => ({
  length: out.length,
  hidden: [...out.matchAll(/\[REDACTED\]/g)].map((m) => m.index),
});

describe('finding 13.6: no oracle for guessable values', () => {
  for (const secret of [PIN, SEASON]) {
    it(`an agent redactor seeded with ${JSON.stringify(secret)} answers the same whether a guess is right or wrong`, () => {
      const r = new Redactor({ audience: 'agent' });
      expect(r.add(secret)).toBe(false);
      const wrong = secret === PIN ? '493818' : 'Summer2025!';
      // The outputs are the input unchanged in both cases: nothing tells the guesses apart.
      expect(r.scrub(echo([wrong]))).toBe(echo([wrong]));
      expect(r.scrub(echo([secret]))).toBe(echo([secret]));
      const s = r.createScrubber();
      expect(Buffer.concat([s.push(`seq: ${secret}\n`), s.end()]).toString()).toBe(`seq: ${secret}\n`);
    });

    it(`an operator redactor scrubs ${JSON.stringify(secret)} (agents never read its channels)`, () => {
      const r = new Redactor({ audience: 'operator' });
      expect(r.add(secret)).toBe(true);
      expect(r.scrub(`audit: ${secret}`)).toBe('audit: [REDACTED]');
    });
  }

  it('a strong value is scrubbed by both audiences, in every channel', () => {
    for (const audience of ['agent', 'operator'] as const) {
      const r = new Redactor({ audience });
      expect(r.add(STRONG)).toBe(true);
      expect(r.scrub(`x ${STRONG} y`)).toBe('x [REDACTED] y');
      const s = r.createScrubber();
      expect(
        Buffer.concat([s.push(`x ${STRONG.slice(0, 9)}`), s.push(`${STRONG.slice(9)} y`), s.end()]).toString(),
      ).toBe('x [REDACTED] y');
    }
  });

  it('the ten-request PIN attack of the review learns nothing: every echo comes back as sent', () => {
    const r = new Redactor({ audience: 'agent' });
    r.add(PIN);
    const answers = Array.from({ length: 10 }, (_, i) => String(493812 + i)).map(
      (g) => r.scrub(echo([g])) === echo([g]),
    );
    expect(answers.every(Boolean)).toBe(true);
  });
});

describe('finding 13.6: a guessable value filled into one action (guessWindows + overlay)', () => {
  /** One action: Gatehouse fills PIN; the agent's own text carries `guesses`; the upstream echoes both. */
  function action(guesses: string[]): string {
    const r = new Redactor({ audience: 'agent' });
    r.add(STRONG);
    const agentTexts = [
      `{"pin":"{{vault:ops/atm.pin}}","guesses":${JSON.stringify(guesses)}}`,
      `q=${guesses.join(',')}`,
    ];
    const windows = guessWindows(PIN, agentTexts, GUESS_WINDOW_MAX);
    if (windows === 'too_many') throw new Error('refused');
    const overlay = r.withExtra([PIN, ...windows]);
    return overlay.scrub(`filled: ${PIN} ${echo(guesses)}`);
  }

  it('the filled value never comes back raw', () => {
    expect(action(['000000'])).not.toContain(PIN);
  });

  it('the output is identical in shape whether one of N guesses equals the value', () => {
    const others = ['112233', '908172', '555001', '271828'];
    const withHit = action([...others.slice(0, 2), PIN, ...others.slice(2)]);
    const withoutHit = action([...others.slice(0, 2), '493818', ...others.slice(2)]);
    expect(withHit).not.toContain(PIN);
    expect(withoutHit).not.toContain('493818');
    expect(shapeOf(withHit)).toEqual(shapeOf(withoutHit));
    expect(shapeOf(withHit).hidden.length).toBeGreaterThan(5);
    for (const o of others) {
      expect(withHit).not.toContain(o);
      expect(withoutHit).not.toContain(o);
    }
  });

  it('guesses sent escaped or encoded are windows too (the agent cannot send a form the overlay did not see)', () => {
    const texts = [
      '\\u0034\\u0039\\u0033\\u0038\\u0031\\u0038',
      '%34%39%33%38%31%37',
      '&#52;&#57;&#51;&#56;&#49;&#54;',
    ];
    const w = guessWindows(PIN, texts, GUESS_WINDOW_MAX);
    expect(w).not.toBe('too_many');
    expect(w).toEqual(expect.arrayContaining(['493818', '493817', '493816']));
  });

  it('too many same-shaped strings is a refusal that depends only on shapes', () => {
    const digits = Array.from({ length: 400 }, (_, i) => String(100000 + i * 7)).join(' ');
    expect(guessWindows(PIN, [digits], GUESS_WINDOW_MAX)).toBe('too_many');
    expect(guessWindows('000001', [digits], GUESS_WINDOW_MAX)).toBe('too_many');
    expect(guessWindows(PIN, ['no digits here at all'], GUESS_WINDOW_MAX)).toEqual([]);
  });

  it('the base redactor is unchanged by an overlay', () => {
    const r = new Redactor({ audience: 'agent' });
    r.withExtra([PIN]);
    expect(r.scrub(`x ${PIN}`)).toBe(`x ${PIN}`);
  });

  it('an overlay sees secrets added to its base later', () => {
    const r = new Redactor({ audience: 'agent' });
    const o = r.withExtra([PIN]);
    expect(o.scrub(`${PIN} ${STRONG}`)).toBe(`[REDACTED] ${STRONG}`);
    r.add(STRONG);
    expect(o.scrub(`${PIN} ${STRONG}`)).toBe('[REDACTED] [REDACTED]');
  });
});
