import { GatehouseError, truncateText } from '../core/index.js';

/**
 * Destination bindings. An item is usable only where one of its bindings matches:
 * - `target:NAME`  the configured target NAME, exactly (case-sensitive).
 * - `host:PATTERN` the request's host: an exact host name / IP, or `*.example.com`, which matches
 *   any subdomain at any depth (`a.example.com`, `a.b.example.com`) but NOT `example.com` itself.
 *   Hosts compare case-insensitively, without a trailing dot; ports are not part of the pattern.
 * - `command:TARGET:ENV=COMMAND LINE` the env variable ENV of exactly this command line, run on
 *   TARGET (`local` for `exec`) by `ssh_exec`/`exec`. Everything after the first `=` is the
 *   command, byte for byte (no trimming, no normalisation). It is the ONLY kind that fills a shell
 *   context: where the agent controls the code that reads a value (`rev`, `od`, `tr`), no scrubber
 *   can protect it, so the operator pins the one command allowed to read it.
 * INVARIANT: an item with no binding is usable nowhere (fail closed).
 */
export type BindingKind = 'target' | 'host' | 'command';

/** As stored: `pattern` is the text after `KIND:` (for `command`: `TARGET:ENV=COMMAND`). */
export interface Binding {
  kind: BindingKind;
  pattern: string;
}

/** A `command` binding taken apart. */
export interface CommandBinding {
  target: string;
  envName: string;
  command: string;
}

/**
 * The value is going into the environment of a command (`ssh_exec`, `exec`, `POST /ssh/…/exec`).
 * The caller describes the whole action, because anything else in it can change what the bound
 * command does with the secret.
 */
export interface ShellUse {
  /** The exact command line the action runs. */
  command: string;
  /** The env variable this value goes into. */
  envName: string;
  /** True when the action sends anything on stdin (a shell reads its script from there). */
  hasStdin: boolean;
  /** The working directory the action asks for, if any (it picks `./script` and config files). */
  cwd?: string;
  /** Every OTHER variable of the action's env, as the agent wrote it (before any filling). */
  otherEnv: Readonly<Record<string, string>>;
}

export interface Destination {
  target?: string;
  host?: string;
  /** Set exactly when the value fills a command's environment; absent for HTTP and SSH credentials. */
  shell?: ShellUse;
}

const TARGET = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST_PATTERN = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*|\[[0-9a-f:.]+\])$/;
/** The env names tools accept (src/tools/common.ts envField). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/**
 * Command lines: no control, line-separator or bidirectional-override characters (a listing must
 * show exactly what runs) and no blanks at either end (they would be invisible in a listing).
 */
const INVISIBLE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const EDGE_BLANK = /^\s|\s$/;
/** Keeps (item_id, kind, pattern) inside PostgreSQL's b-tree limit for the unique key. */
export const MAX_COMMAND_BYTES = 1024;

const HINT =
  'write target:NAME, host:PATTERN (e.g. host:api.example.com, host:*.example.com) or command:TARGET:ENV=EXACT COMMAND LINE ' +
  "(e.g. command:prod:PGPASSWORD=pg_dump -Fc app; CLI: gatehouse vault bind VAULT/ITEM --command prod --env PGPASSWORD -- 'pg_dump -Fc app')";

function invalid(text: string, why?: string): GatehouseError {
  return new GatehouseError(
    'invalid_input',
    `invalid binding ${JSON.stringify(truncateText(text, 200))}${why ? `: ${why}` : ''}`,
    { hint: HINT },
  );
}

export function parseBinding(text: string): Binding {
  if (typeof text !== 'string') throw invalid(String(text));
  const colon = text.indexOf(':');
  const kind = colon > 0 ? text.slice(0, colon) : '';
  const value = colon > 0 ? text.slice(colon + 1) : '';
  if (kind === 'target' && TARGET.test(value)) return { kind, pattern: value };
  if (kind === 'host') {
    const p = normalizeHost(value);
    if (HOST_PATTERN.test(p)) return { kind, pattern: p };
  }
  if (kind === 'command') {
    const c = splitCommandPattern(value);
    if (typeof c === 'string') throw invalid(text, c);
    return { kind, pattern: value };
  }
  throw invalid(text);
}

/** Builds the stored form of a command binding from its parts (the CLI's `--command/--env/--`). */
export function commandBinding(target: string, envName: string, command: string): Binding {
  return parseBinding(`command:${target}:${envName}=${command}`);
}

/** Takes a stored command pattern apart; undefined when it is not one (a row that was never valid). */
export function parseCommandPattern(pattern: string): CommandBinding | undefined {
  const c = splitCommandPattern(pattern);
  return typeof c === 'string' ? undefined : c;
}

/** The parts, or the reason the text is not a command binding. */
function splitCommandPattern(value: string): CommandBinding | string {
  const colon = value.indexOf(':');
  const eq = value.indexOf('=');
  if (colon <= 0 || eq <= colon + 1) return 'write command:TARGET:ENV=COMMAND LINE';
  const target = value.slice(0, colon);
  const envName = value.slice(colon + 1, eq);
  const command = value.slice(eq + 1);
  if (!TARGET.test(target)) return `${JSON.stringify(truncateText(target, 100))} is not a target name`;
  if (!ENV_NAME.test(envName))
    return `${JSON.stringify(truncateText(envName, 100))} is not an environment variable name`;
  if (command.length === 0) return 'the command line is empty';
  if (!command.isWellFormed() || INVISIBLE.test(command) || EDGE_BLANK.test(command)) {
    return 'the command line must be one line without control characters and without leading or trailing blanks (it is compared exactly)';
  }
  if (Buffer.byteLength(command, 'utf8') > MAX_COMMAND_BYTES)
    return `the command line is over ${MAX_COMMAND_BYTES} bytes`;
  return { target, envName, command };
}

export function formatBinding(b: Binding): string {
  return `${b.kind}:${b.pattern}`;
}

function normalizeHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

export function hostMatches(pattern: string, host: string): boolean {
  const h = normalizeHost(host);
  if (!h) return false;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return h === pattern;
}

/**
 * Whether one binding allows the destination. INVARIANT (shell contexts, issue 13.8): in a shell
 * context a value fills only through a command binding for that target whose env name and exact
 * command line equal the action's, and only when the action has no stdin and no cwd;
 * target/host bindings never fill a shell context; anywhere else a command binding fills nothing.
 * (What the action's OTHER env variables may hold is checked by the vault, which can look them up.)
 */
export function bindingMatches(b: Binding, dest: Destination): boolean {
  if (dest.shell) {
    if (b.kind !== 'command') return false;
    const c = parseCommandPattern(b.pattern);
    if (!c || dest.shell.hasStdin || dest.shell.cwd !== undefined) return false;
    return (
      dest.target !== undefined &&
      dest.target === c.target &&
      dest.shell.envName === c.envName &&
      dest.shell.command === c.command
    );
  }
  if (b.kind === 'command') return false;
  if (b.kind === 'target') return dest.target !== undefined && dest.target === b.pattern;
  return dest.host !== undefined && hostMatches(b.pattern, dest.host);
}

export function anyBindingMatches(bs: readonly Binding[], dest: Destination): boolean {
  return bs.some((b) => bindingMatches(b, dest));
}

/**
 * Why no binding allows a shell destination, in words an agent and an operator can act on
 * (names and command lines only: they are configuration, never a secret).
 */
export function shellRefusal(bs: readonly Binding[], dest: Destination & { shell: ShellUse }): string {
  const commands = bs
    .filter((b) => b.kind === 'command')
    .map((b) => parseCommandPattern(b.pattern))
    .filter((c): c is CommandBinding => c !== undefined);
  if (commands.length === 0)
    return "it is not bound for use in a command's environment (only a command:TARGET:ENV=COMMAND binding fills a shell context; target: and host: bindings never do)";
  if (dest.shell.hasStdin)
    return 'a handle never fills the environment of an action that sends stdin (stdin can make the bound command run something else)';
  if (dest.shell.cwd !== undefined)
    return 'a handle never fills the environment of an action that sets cwd (put `cd DIR && ` into the bound command line instead)';
  const forTarget = commands.filter((c) => c.target === dest.target);
  if (forTarget.length === 0)
    return `it is bound for commands on ${[...new Set(commands.map((c) => c.target))].join(', ')}, not on target ${dest.target ?? '(none)'}`;
  const forEnv = forTarget.filter((c) => c.envName === dest.shell.envName);
  if (forEnv.length === 0)
    return `on target ${dest.target} it fills only ${[...new Set(forTarget.map((c) => c.envName))].join(', ')}, not ${dest.shell.envName}`;
  return `this command line is not one it is bound to for ${dest.shell.envName} on target ${dest.target} (the match is exact: bound ${forEnv.map((c) => JSON.stringify(c.command)).join(', ')})`;
}
