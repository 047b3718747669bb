/**
 * Builds the command line sent in the exec request.
 *
 * Environment: sshd accepts `env` channel requests only for names in its AcceptEnv list (usually
 * just LANG/LC_*), and refuses the rest silently. So variables are sent as an `export K='v'`
 * prefix instead, which any POSIX login shell (sh, dash, bash, zsh, ksh) understands. Names must be
 * shell identifiers; values are single-quoted, so nothing in them is expanded.
 *
 * cwd: `cd -- '<dir>' || exit 1` on its own line, so the command never runs in the wrong
 * directory (a failed cd ends the shell with status 1 and cd's message on stderr), and so the
 * user's command keeps its own structure (a `&&` prefix would only bind to its first pipeline).
 */
import { GatehouseError } from '../core/index.js';

/** POSIX single-quote quoting: 'it'\''s'. Safe for any byte string without NUL. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new GatehouseError('invalid_input', 'a value contains a NUL byte', { hint: 'remove NUL bytes' });
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildCommand(command: string, cwd?: string, env?: Record<string, string>): string {
  if (typeof command !== 'string' || command.trim() === '') {
    throw new GatehouseError('invalid_input', 'command is empty', { hint: 'pass a shell command line' });
  }
  if (command.includes('\0')) throw new GatehouseError('invalid_input', 'command contains a NUL byte', { hint: 'remove NUL bytes' });
  const lines: string[] = [];
  if (env) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(env)) {
      if (!ENV_NAME.test(k)) {
        throw new GatehouseError('invalid_input', `environment variable name "${k.slice(0, 64)}" is not a shell identifier`, {
          hint: 'use letters, digits and underscores, not starting with a digit',
        });
      }
      parts.push(`${k}=${shellQuote(String(v))}`);
    }
    if (parts.length) lines.push(`export ${parts.join(' ')}`);
  }
  if (cwd !== undefined && cwd !== '') lines.push(`cd -- ${shellQuote(cwd)} || exit 1`);
  lines.push(command);
  return lines.join('\n');
}
