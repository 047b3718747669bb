/**
 * Builds the command line sent in the exec request.
 *
 * Environment: sshd accepts `env` channel requests only for names in its AcceptEnv list (usually
 * just LANG/LC_*), and refuses the rest silently. So variables are sent as an `export K='v'`
 * prefix instead, which any POSIX login shell (sh, dash, bash, zsh, ksh) understands. Names must be
 * shell identifiers; values are single-quoted, so nothing in them is expanded.
 *
 * Names on the exec-env list's deny classes (src/core/exec-env.ts) are refused with `denied`, as
 * defence in depth behind the guard, which denies them too.
 *
 * cwd: `cd -- '<dir>' || exit 1` on its own line, so the command never runs in the wrong
 * directory (a failed cd ends the shell with status 1 and cd's message on stderr), and so the
 * user's command keeps its own structure (a `&&` prefix would only bind to its first pipeline).
 */
import { EXEC_ENV_VERDICT, execEnvEntry, truncateText } from '../core/index.js';
import { GatehouseError } from '../core/index.js';

/** POSIX single-quote quoting: 'it'\''s'. Safe for any byte string without NUL. */
export function shellQuote(s: string): string {
  if (s.includes('\0'))
    throw new GatehouseError('invalid_input', 'a value contains a NUL byte', { hint: 'remove NUL bytes' });
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildCommand(command: string, cwd?: string, env?: Record<string, string>): string {
  if (typeof command !== 'string' || command.trim() === '') {
    throw new GatehouseError('invalid_input', 'command is empty', { hint: 'pass a shell command line' });
  }
  if (command.includes('\0'))
    throw new GatehouseError('invalid_input', 'command contains a NUL byte', { hint: 'remove NUL bytes' });
  const lines: string[] = [];
  if (env) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(env)) {
      if (!ENV_NAME.test(k)) {
        throw new GatehouseError(
          'invalid_input',
          `environment variable name "${truncateText(k, 64)}" is not a shell identifier`,
          {
            hint: 'use letters, digits and underscores, not starting with a digit',
          },
        );
      }
      // INVARIANT: a variable the guard always denies (the loader and shell-startup classes of
      // src/core/exec-env.ts: LD_PRELOAD, BASH_ENV, PS4, SHELLOPTS…) never reaches the remote shell,
      // whatever the gate decided. The value is never echoed (it may hold a filled secret).
      const hijack = execEnvEntry(k);
      if (hijack && EXEC_ENV_VERDICT[hijack.class] === 'deny') {
        throw new GatehouseError('denied', `environment variable ${k} is refused: ${hijack.reason}`, {
          hint: 'do not pass loader or shell-startup variables; run the command without it',
          details: { name: k, class: hijack.class },
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
