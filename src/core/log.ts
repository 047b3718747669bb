/**
 * Structured, leveled logging to stderr. stdout belongs to the MCP protocol in `gatehouse mcp`,
 * so nothing in server code writes there. Each line is one JSON object.
 *
 * A scrubber can be installed (the vault installs one) so that every line an operator sees is
 * cleaned of secret values and well-known secret shapes before it is written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

let scrub: (line: string) => string = (l) => l;
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

/** Installs the function every log line passes through before it is written. */
export function setLogScrubber(fn: (line: string) => string): void {
  scrub = fn;
}

/** Redirects log output (tests capture it to check that no secret reaches a log line). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

function envLevel(): LogLevel {
  const v = (process.env.GATEHOUSE_LOG_LEVEL ?? 'info').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'info';
}

function serializeError(e: unknown): unknown {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: unknown }).code };
  return e;
}

export function createLogger(base: Record<string, unknown> = {}, level: LogLevel = envLevel()): Logger {
  const min = ORDER[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = k === 'err' ? serializeError(v) : v;
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ t: rec.t, level: lvl, msg, note: 'unserializable fields dropped' });
    }
    sink(scrub(line));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, level),
  };
}

export const log: Logger = createLogger();
