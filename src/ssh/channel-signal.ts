/**
 * Sends an SSH "signal" channel request. OpenSSH (7.9+) delivers it with killpg() to the session's
 * process group; sshd runs every exec in a new session (setsid), so the shell and everything it
 * started without job control receives it. Older servers ignore the request, which is why callers
 * also close the channel and report the outcome.
 *
 * ssh2's `Channel.signal()` silently does nothing once our side of the channel has been ended
 * (stdin EOF), which exec always does, so this goes to the protocol layer when the public method
 * would be a no-op. Both paths are guarded; failure to signal is not fatal.
 */
import type { ClientChannel } from 'ssh2';

interface ChannelInternals {
  type?: string;
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal(chan: number, sig: string): void } };
}

export function sendChannelSignal(stream: ClientChannel, sig: string): boolean {
  try {
    const ch = stream as unknown as ChannelInternals;
    const state = ch.outgoing?.state;
    if (state !== 'open' && state !== 'eof') return false;
    if (stream.writable && state === 'open') {
      stream.signal(sig);
      return true;
    }
    const proto = ch._client?._protocol;
    if (proto && typeof ch.outgoing?.id === 'number') {
      proto.signal(ch.outgoing.id, sig);
      return true;
    }
  } catch {
    /* connection gone or signal unknown: the channel close that follows still ends the command */
  }
  return false;
}
