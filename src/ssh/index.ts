/**
 * SSH executor: pinned host keys, a pooled exec with limits and real cancellation, interactive
 * PTY sessions and SFTP. Free of store and vault imports: targets are plain specs and credentials
 * arrive through a caller-supplied callback (see types.ts).
 *
 * Usage by the gate (after guard, approval and audit-before):
 *   const pool = new SshPool({ maxChannels: 8, idleCloseMs: 60_000 });
 *   const r = await pool.exec(spec, () => vault.sshKeyFor(target), { command, timeoutS, signal, scrub });
 *   const sessions = new SshSessionManager({ onTranscript: (t) => audit.append(...), onRecord: (r) => audit.append(...) });
 *   const fg = await sessions.foreground(id, owner);          // the shell, or python3 (pid 1234)?
 *   fg.atShell ? guard(input as bash) : askPerson(`input to ${fg.program} (pid ${fg.pid})`);
 *   await sessions.send(id, owner, input, { expect: fg });   // re-checked right before writing
 */
export type {
  SshTargetSpec,
  SshCredentials,
  CredentialProvider,
  Scrubber,
  ExecOptions,
  ExecResult,
  ReadFileResult,
  WriteFileResult,
} from './types.js';
export { fetchHostKeyFingerprint, fingerprintOf, normalizeFingerprint } from './host-key.js';
export { SshPool, type SshPoolOptions, type PoolTargetStats } from './pool.js';
export {
  SshSessionManager,
  type SessionManagerOptions,
  type SessionOpenOptions,
  type SessionInfo,
  type SendOptions,
  type SendResult,
  type ReadResult,
  type SessionSignal,
  type SessionTranscript,
  type TranscriptEntry,
  type SessionRecord,
  type Foreground,
  type ChunkScrubberLike,
  type ScrubberFactory,
  type ScreenView,
  type Person,
  WITHHELD_MARK,
} from './sessions.js';
export { describeForeground } from './session-foreground.js';
export { TTY_LINE_MAX_BYTES } from './session-input.js';
export { splitInputLines, endsWithContinuation } from './split-lines.js';
export { stripAnsi } from './ansi.js';
export { shellQuote, buildCommand } from './command.js';
export type { ConnectOptions } from './connect.js';
