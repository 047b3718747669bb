/**
 * Public types of the SSH executor. Nothing here knows about the store or the vault: a target is
 * plain data, and credentials arrive through a callback the caller supplies (the lead fills it
 * from the vault), so this module never holds a key longer than one connection attempt.
 */
import type { CommandOutput, OutputScrub } from '../core/index.js';

/** One SSH target. `hostKey` is the pinned 'SHA256:…' fingerprint; without it nothing connects. */
export interface SshTargetSpec {
  name: string;
  host: string;
  port: number;
  user: string;
  hostKey?: string;
}

export interface SshCredentials {
  /** OpenSSH / PEM private key text. */
  privateKey: string;
  passphrase?: string;
}

/** Called each time a connection is opened; the key is used for the handshake and then dropped. */
export type CredentialProvider = () => Promise<SshCredentials>;

export type Scrubber = (s: string) => string;

export interface ExecOptions {
  /** Shell command line, run by the remote user's login shell (assumed POSIX: sh, bash, dash, zsh). */
  command: string;
  /** Wall-clock limit for the command once it runs. Default 60 s. */
  timeoutS?: number;
  /** Working directory; the command runs only if `cd` succeeds. */
  cwd?: string;
  /** Environment variables, exported in the command prefix (names must be shell identifiers). */
  env?: Record<string, string>;
  /** Written to the command's stdin, then EOF. Without it stdin is closed at once. */
  stdin?: string | Buffer;
  /** Aborting stops the remote command (or takes the call out of the queue). */
  signal?: AbortSignal;
  /** Cap per stream (stdout, stderr) in bytes. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Called with total output bytes so far, at most every `progressIntervalMs`. */
  onProgress?: (bytesSoFar: number) => void;
  progressIntervalMs?: number;
  /**
   * Scrubs stdout and stderr, then cuts each at `maxOutputBytes` (the call's scrubbing). Without
   * it the output is returned as read (for callers that have nothing to hide).
   */
  output?: OutputScrub;
}

export interface ExecResult extends CommandOutput {
  timedOut?: boolean;
  cancelled?: boolean;
}

export interface ReadFileResult {
  content: Buffer;
  truncated: boolean;
  /** Size the server reported (0 for files like /proc entries whose size is unknown). */
  size: number;
}

export interface WriteFileResult {
  bytesWritten: number;
}
