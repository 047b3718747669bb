/**
 * TickBatch (src/upstream/exchange-stages.ts): small chunks of one tick go on together at the end
 * of that tick, in order; big chunks pass straight; `end` sends what waits first; a batch whose
 * exchange failed is dropped. The stage is internal to the upstream module, so it is imported
 * from its file.
 */
import { describe, expect, it } from 'vitest';
import { TICK_BATCH_MAX, TickBatch, type BodyPath } from '../../src/upstream/exchange-stages.js';

function sink(): BodyPath & { got: string[]; ended: boolean } {
  const s = {
    got: [] as string[],
    ended: false,
    data: (c: Buffer) => void s.got.push(c.toString('latin1')),
    end: () => void (s.ended = true),
  };
  return s;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('TickBatch', () => {
  it('joins the small chunks of one tick and sends them at its end, in order', async () => {
    const out = sink();
    const b = new TickBatch(
      out,
      () => true,
      () => true,
    );
    b.data(Buffer.from('a'));
    b.data(Buffer.from('b'));
    b.data(Buffer.from('c'));
    expect(out.got).toEqual([]);
    await Promise.resolve();
    expect(out.got).toEqual(['abc']);
    b.data(Buffer.from('d'));
    await tick();
    expect(out.got).toEqual(['abc', 'd']);
  });

  it('passes chunks straight on while not batching (the head’s tick) and big chunks always', () => {
    const out = sink();
    let batching = false;
    const b = new TickBatch(
      out,
      () => batching,
      () => true,
    );
    b.data(Buffer.from('head-tick'));
    expect(out.got).toEqual(['head-tick']);
    batching = true;
    const big = Buffer.alloc(TICK_BATCH_MAX, 0x62);
    b.data(big);
    expect(out.got).toHaveLength(2);
  });

  it('a big chunk after small ones goes after them, never ahead; a full batch goes at once', async () => {
    const out = sink();
    const b = new TickBatch(
      out,
      () => true,
      () => true,
    );
    b.data(Buffer.from('x'));
    b.data(Buffer.alloc(TICK_BATCH_MAX, 0x79));
    expect(out.got).toHaveLength(1);
    expect(out.got[0]!.startsWith('xy')).toBe(true);
    expect(out.got[0]!.length).toBe(TICK_BATCH_MAX + 1);
    await tick();
    expect(out.got).toHaveLength(1);
  });

  it('end sends what waits, then ends', () => {
    const out = sink();
    const b = new TickBatch(
      out,
      () => true,
      () => true,
    );
    b.data(Buffer.from('last'));
    b.end();
    expect(out.got).toEqual(['last']);
    expect(out.ended).toBe(true);
  });

  it('drops a batch whose exchange failed before the end of the tick', async () => {
    const out = sink();
    let live = true;
    const b = new TickBatch(
      out,
      () => true,
      () => live,
    );
    b.data(Buffer.from('after-failure'));
    live = false;
    await tick();
    expect(out.got).toEqual([]);
  });
});
