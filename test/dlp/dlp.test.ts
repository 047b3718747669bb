/**
 * DLP on the way out: vault values and their encodings are always replaced (the operator
 * redactor), card numbers only when they pass Luhn's check, configured presets and custom regexes
 * redact or refuse per pattern; counts per pattern, never a value in a refusal.
 */
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/core/index.js';
import { DEFAULT_DLP_PATTERNS, DlpScanner, luhn } from '../../src/dlp/index.js';
import { Redactor } from '../../src/vault/index.js';

const VAULT_VALUE = 'pa55-canary-3f9e1d2c7b';

function scanner(patterns = DEFAULT_DLP_PATTERNS) {
  const r = new Redactor({ audience: 'operator' });
  r.add(VAULT_VALUE);
  return new DlpScanner(patterns, (t) => r.scrub(t));
}

describe('DLP scanner', () => {
  it('checks card numbers with Luhn', () => {
    expect(luhn('4242 4242 4242 4242')).toBe(true);
    expect(luhn('4242-4242-4242-4241')).toBe(false);
    expect(luhn('1234')).toBe(false);
  });

  it('always replaces vault values and their encodings; cards only when Luhn agrees', () => {
    const body = JSON.stringify({
      messages: [
        {
          role: 'user',
          content: `key ${VAULT_VALUE}, b64 ${Buffer.from(VAULT_VALUE).toString('base64')}, card 4242 4242 4242 4242, order 4242 4242 4242 4241`,
        },
      ],
    });
    const { text, counts } = scanner().scan(body);
    expect(text).not.toContain(VAULT_VALUE);
    expect(text).not.toContain(Buffer.from(VAULT_VALUE).toString('base64'));
    expect(text).not.toContain('4242 4242 4242 4242');
    expect(text).toContain('[REDACTED:card]');
    expect(text).toContain('4242 4242 4242 4241');
    expect(counts).toEqual({ 'vault-or-key': 2, card: 1 });
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it('presets and custom regexes redact (with show_prefix) or refuse, naming only the pattern', () => {
    const s = scanner([
      { name: 'email', preset: 'email', action: 'redact' },
      { name: 'phone', preset: 'phone', action: 'redact' },
      { name: 'ticket', regex: 'TICKET-[0-9]{6}', action: 'redact', show_prefix: 7 },
    ]);
    const { text, counts } = s.scan('mail ann@example.com, call +1 415-555-0134, see TICKET-123456; id 12345');
    expect(text).toBe('mail [REDACTED:email], call [REDACTED:phone], see TICKET-***; id 12345');
    expect(counts).toEqual({ email: 1, phone: 1, ticket: 1 });
    const strict = scanner([{ name: 'employee-id', regex: 'EMP[0-9]{5}', action: 'refuse' }]);
    let err: unknown;
    try {
      strict.scan('who is EMP12345?');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).code).toBe('denied');
    expect((err as GatehouseError).message).toContain('employee-id');
    expect((err as GatehouseError).message).not.toContain('EMP12345');
    // What the redactor replaced is not told back in a refusal (it would say whether a string the
    // agent chose is a vault value); the configured pattern's count is.
    const withVault = (() => {
      try {
        strict.scan(`EMP12345 ${VAULT_VALUE}`);
      } catch (e) {
        return e as GatehouseError;
      }
    })();
    expect(withVault?.details).toEqual({ dlp: { 'employee-id': 1 } });
    expect(strict.scan('nothing here').counts).toEqual({});
  });

  it('refuses a configuration with a broken regex or neither preset nor regex', () => {
    expect(() => scanner([{ name: 'x', regex: '(', action: 'redact' }])).toThrow(/not a valid regex/);
    expect(() => scanner([{ name: 'x', action: 'redact' }])).toThrow(/needs preset or regex/);
  });
});
