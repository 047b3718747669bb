/**
 * A small Prometheus registry: counters, histograms and gauges read at scrape time, rendered in
 * the text exposition format (version 0.0.4). One per process; nothing is sent anywhere.
 *
 * INVARIANT (nothing an agent chose becomes a label): label values are Gatehouse's own names
 * (tools, decisions, error codes, route patterns, statuses), never a target, a path, a command or a
 * token, so a scrape leaks nothing and an agent cannot grow the series without bound. Values are
 * still escaped as the format requires.
 */

import { truncateText } from './text.js';

type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkName(name: string, labels: readonly string[]): void {
  if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  for (const l of labels) if (!LABEL.test(l) || l.startsWith('__')) throw new Error(`invalid label name ${l}`);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The values of `names` in `labels`, in order; a missing or extra label is a bug in Gatehouse. */
function valuesOf(metric: string, names: readonly string[], labels: Labels): string[] {
  const keys = Object.keys(labels);
  if (keys.length !== names.length || !names.every((n) => n in labels))
    throw new Error(`metric ${metric} takes labels ${names.join(', ') || '(none)'}, got ${keys.join(', ')}`);
  return names.map((n) => labels[n]!);
}

export class Counter {
  readonly #series = new Map<string, { values: string[]; n: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const values = valuesOf(this.name, this.labelNames, labels);
    const key = values.join('\u0000');
    const s = this.#series.get(key);
    if (s) s.n += by;
    else this.#series.set(key, { values, n: by });
  }

  /** The current value of one series (0 when it has never been counted). */
  value(labels: Labels = {}): number {
    return this.#series.get(valuesOf(this.name, this.labelNames, labels).join('\u0000'))?.n ?? 0;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`];
    // A counter without labels always has its one series: 0 is an answer, absence is not.
    if (this.labelNames.length === 0 && this.#series.size === 0) out.push(`${this.name} 0`);
    for (const s of this.#series.values()) out.push(`${this.name}${labelText(this.labelNames, s.values)} ${num(s.n)}`);
    return out;
  }
}

export class Histogram {
  readonly #series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    readonly labelNames: readonly string[] = [],
  ) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(value: number, labels: Labels = {}): void {
    const values = valuesOf(this.name, this.labelNames, labels);
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    for (const s of this.#series.values()) {
      // Bucket counts are cumulative already: each observation counted in every bucket it fits.
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, `le="${num(b)}"`)} ${s.counts[i]}`),
      );
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}`);
    }
    return out;
  }
}

/** One gauge sample: its labels (in the gauge's label order) and value. */
export interface GaugeSample {
  labels?: Labels;
  value: number;
}

interface Gauge {
  name: string;
  help: string;
  labelNames: readonly string[];
  read(): GaugeSample[] | Promise<GaugeSample[]>;
}

export class MetricsRegistry {
  readonly #metrics: (Counter | Histogram | Gauge)[] = [];
  readonly #names = new Set<string>();

  #add<M extends Counter | Histogram | Gauge>(m: M): M {
    checkName(m.name, m.labelNames);
    if (this.#names.has(m.name)) throw new Error(`metric ${m.name} is registered twice`);
    this.#names.add(m.name);
    this.#metrics.push(m);
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.#add(new Histogram(name, help, buckets, labelNames));
  }

  /** A gauge read when scraped (a count in the store, a pool's size). */
  gauge(
    name: string,
    help: string,
    labelNames: readonly string[],
    read: () => GaugeSample[] | Promise<GaugeSample[]>,
  ): void {
    this.#add({ name, help, labelNames, read });
  }

  /**
   * The text exposition. A gauge that cannot be read (the store is down) is left out with a
   * comment saying so, and the rest is still answered: a scrape shows what it can.
   */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const m of this.#metrics) {
      if (m instanceof Counter || m instanceof Histogram) {
        out.push(...m.render());
        continue;
      }
      let samples: GaugeSample[];
      try {
        samples = await m.read();
      } catch (e) {
        out.push(`# ${m.name} not read: ${escapeHelp(truncateText((e as Error).message ?? String(e), 200))}`);
        continue;
      }
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} gauge`);
      for (const s of samples)
        out.push(`${m.name}${labelText(m.labelNames, valuesOf(m.name, m.labelNames, s.labels ?? {}))} ${num(s.value)}`);
    }
    return out.join('\n') + '\n';
  }
}
