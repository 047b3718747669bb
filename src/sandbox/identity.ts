import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { GatehouseError } from '../core/index.js';
import { SANDBOX_GID, SANDBOX_UID } from './plan.js';

/** The host user a sandbox runs as when Gatehouse runs as root. */
export interface SandboxIdentity {
  uid: number;
  gid: number;
  /** `owner`: the workspace's own (non-root) owner; `nobody`: uid 65534, for a root-owned workspace. */
  as: 'owner' | 'nobody';
}

/**
 * Who a root Gatehouse runs a sandbox as, for this workspace.
 *
 * Why: the sandbox must never be host uid 0, and uid 65534 cannot enter a project that lives under
 * a private (0700) home or temp directory, nor write to a project it does not own. A workspace
 * owned by an ordinary user is that user's project: the sandbox runs as that user, who can reach and
 * write it, and sees nothing more of the host than uid 65534 would (only the workspace and the
 * read-only system paths are mounted; credentials under /etc are masked for every uid).
 * A workspace owned by root gets uid 65534.
 * INVARIANT: the answer is never uid 0.
 */
export function sandboxIdentity(workspace: string): SandboxIdentity {
  const st = statSync(realpathSync(workspace));
  if (st.uid !== 0) return { uid: st.uid, gid: st.gid === 0 ? SANDBOX_GID : st.gid, as: 'owner' };
  return { uid: SANDBOX_UID, gid: SANDBOX_GID, as: 'nobody' };
}

/** The first directory on the way to `path` (itself included) that `uid`/`gid` may not enter, or null. */
export function blockedOnTheWay(
  path: string,
  uid: number,
  gid: number,
): { dir: string; mode: number; owner: number } | null {
  const chain: string[] = [];
  for (let p = realpathSync(path); ; p = dirname(p)) {
    chain.unshift(p);
    if (p === dirname(p)) break;
  }
  for (const dir of chain) {
    const st = statSync(dir);
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return { dir, mode: st.mode & 0o7777, owner: st.uid };
  }
  return null;
}

/**
 * Refuses, with what to change, a workspace the sandbox user cannot reach (bubblewrap would fail
 * with a bare "Can't find source path … Permission denied").
 */
export function checkWorkspaceReachable(workspace: string, id: SandboxIdentity): void {
  const blocked = blockedOnTheWay(workspace, id.uid, id.gid);
  if (!blocked) return;
  const mode = blocked.mode.toString(8).padStart(4, '0');
  throw new GatehouseError(
    'sandbox_unavailable',
    `the sandbox runs as host uid ${id.uid} and cannot enter ${blocked.dir} (mode ${mode}, owner uid ${blocked.owner}) on the way to its workspace ${workspace}`,
    {
      hint:
        id.as === 'nobody'
          ? `the workspace is owned by root, so the sandbox runs as uid ${id.uid}: give the project to an ordinary user (the sandbox then runs as that user), move it out from under ${blocked.dir}, or let others enter that directory (chmod o+x ${blocked.dir}); \`gatehouse sandbox doctor\` checks the configured workspace`
          : `let the workspace's owner (uid ${id.uid}) enter ${blocked.dir}, or move the workspace; \`gatehouse sandbox doctor\` checks the configured workspace`,
      details: { workspace, blocked: blocked.dir, uid: id.uid },
    },
  );
}
