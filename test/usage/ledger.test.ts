/**
 * The usage ledger on a real store: counts add up per token, target and day; a budget refuses once
 * spent; a budget row changed without the master key refuses every call (fail closed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootRuntime, type Runtime } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';

describe('usage ledger', () => {
  const home = tempHome();
  let rt: Runtime;
  beforeAll(async () => {
    rt = await bootRuntime({ env: home.env });
  });
  afterAll(async () => {
    await rt?.close();
    home.cleanup();
  });

  it('adds counts, and a spent budget refuses with limit_exceeded', async () => {
    const l = await rt.usage();
    await l.checkBudget('tok_a'); // no budget: never refused
    await l.setBudget('tok_a', 100);
    await l.record('tok_a', 'anthropic', { input: 40, output: 10, cacheRead: 0, cacheWrite: 0 });
    await l.record('tok_a', 'anthropic', { input: 30, output: 10, cacheRead: 5, cacheWrite: 0 });
    const [row] = await l.rows({ tokenId: 'tok_a' });
    expect(row).toMatchObject({ target: 'anthropic', input: 70, output: 20, cacheRead: 5, calls: 2 });
    await l.checkBudget('tok_a');
    await l.record('tok_a', 'openai', { input: 5, output: 0, cacheRead: 0, cacheWrite: 0 });
    await expect(l.checkBudget('tok_a')).rejects.toMatchObject({ code: 'limit_exceeded' });
    await l.setBudget('tok_a', null);
    await l.checkBudget('tok_a');
  });

  it('a budget row changed without the master key refuses every call', async () => {
    const l = await rt.usage();
    await l.setBudget('tok_b', 10);
    await rt.store.db
      .updateTable('token_budgets')
      .set({ max_tokens_per_day: 1_000_000 })
      .where('token_id', '=', 'tok_b')
      .execute();
    expect(await l.budget('tok_b')).toBe(0);
    await expect(l.checkBudget('tok_b')).rejects.toMatchObject({ code: 'limit_exceeded' });
  });
});
