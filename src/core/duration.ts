import { GatehouseError } from './errors.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `30d`, `12h`, `90m`, `45s`, `2w` into milliseconds. */
export function parseDuration(text: string): number {
  const [, count, unit] = /^(\d{1,6})([smhdw])$/.exec(text.trim()) ?? [];
  const unitMs = unit === undefined ? undefined : UNITS[unit];
  if (unitMs === undefined || Number(count) === 0) {
    throw new GatehouseError('invalid_input', `invalid duration ${JSON.stringify(text)}`, {
      hint: 'use a number and a unit: 45s, 90m, 12h, 30d, 2w',
    });
  }
  return Number(count) * unitMs;
}

/**
 * A point in time as people type it: a duration back from `now` (`90m`, `2d`) or an ISO time.
 * Returns the ISO time (what the store compares); a text that is neither is `invalid_input`.
 */
export function pointInTime(text: string, now: number): string {
  const t = /^\d{1,6}[smhdw]$/.test(text.trim()) ? now - parseDuration(text) : Date.parse(text);
  if (Number.isNaN(t))
    throw new GatehouseError('invalid_input', `invalid time ${JSON.stringify(text)}`, {
      hint: 'use a duration back from now (90m, 2d) or an ISO time (2026-12-07T10:00:00Z)',
    });
  return new Date(t).toISOString();
}
