import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/core/index.js';

describe('metrics registry (Prometheus text format 0.0.4)', () => {
  it('renders counters by label, with HELP and TYPE, and escapes label values', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('x_total', 'things\nseen', ['kind']);
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    c.inc({ kind: 'we"ird\\\n' });
    expect(await r.render()).toBe(
      [
        '# HELP x_total things\\nseen',
        '# TYPE x_total counter',
        'x_total{kind="a"} 3',
        'x_total{kind="we\\"ird\\\\\\n"} 1',
        '',
      ].join('\n'),
    );
    expect(c.value({ kind: 'a' })).toBe(3);
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', async () => {
    const r = new MetricsRegistry();
    const h = r.histogram('lat_seconds', 'latency', [0.5, 0.1, 1]);
    for (const v of [0.05, 0.2, 0.7, 3]) h.observe(v);
    const text = await r.render();
    expect(text).toContain(
      'lat_seconds_bucket{le="0.1"} 1\nlat_seconds_bucket{le="0.5"} 2\nlat_seconds_bucket{le="1"} 3',
    );
    expect(text).toContain('lat_seconds_bucket{le="+Inf"} 4\nlat_seconds_sum 3.95\nlat_seconds_count 4');
  });

  it('reads gauges at scrape time; one that cannot be read is left out with a note, the rest still answer', async () => {
    const r = new MetricsRegistry();
    let n = 1;
    r.gauge('up_things', 'things', ['state'], () => [{ labels: { state: 'on' }, value: n }]);
    r.gauge('broken', 'a gauge whose source is down', [], () => {
      throw new Error('store unreachable');
    });
    r.counter('after_total', 'still here').inc();
    r.counter('never_total', 'not counted yet');
    n = 7;
    const text = await r.render();
    expect(text).toContain('up_things{state="on"} 7');
    expect(text).toContain('# broken not read: store unreachable');
    expect(text).not.toContain('# TYPE broken');
    expect(text).toContain('after_total 1');
    expect(text).toContain('never_total 0');
  });

  it('refuses bad names, a name twice, and labels other than those declared', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.counter('ok_total', 'x', ['__reserved'])).toThrow(/invalid label name/);
    const c = r.counter('ok_total', 'x', ['tool']);
    expect(() => r.counter('ok_total', 'again')).toThrow(/registered twice/);
    expect(() => c.inc({})).toThrow(/takes labels tool/);
    expect(() => c.inc({ tool: 'a', extra: 'b' })).toThrow(/takes labels tool/);
  });
});
