import { describe, expect, it } from 'vitest';
import { BoundedLru } from '../../src/core/index.js';

describe('BoundedLru', () => {
  it('never holds more than its bound, and evicts the oldest insertion while nothing was read', () => {
    const c = new BoundedLru<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) c.set(k, i);
    expect(c.size).toBe(3);
    expect(c.get('a')).toBeUndefined();
    expect([c.get('b'), c.get('c'), c.get('d')]).toEqual([1, 2, 3]);
  });

  it('once full, a hit keeps its key: the least recently used one goes instead', () => {
    const c = new BoundedLru<string, number>(3);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1); // full: a is now the most recent
    c.set('d', 4); // evicts b
    expect(c.get('b')).toBeUndefined();
    expect([c.get('a'), c.get('c'), c.get('d')]).toEqual([1, 3, 4]);
    c.get('c');
    c.get('a');
    c.set('e', 5); // d is the least recently used now
    expect(c.get('d')).toBeUndefined();
    expect(c.size).toBe(3);
  });

  it('setting a key again replaces its value without growing', () => {
    const c = new BoundedLru<string, number>(2);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.size).toBe(1);
    expect(c.get('a')).toBe(2);
  });
});
