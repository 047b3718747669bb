import { toGatehouseError } from '../core/index.js';
import { httpTarget, sshTarget } from '../tools/index.js';
import type { Runtime } from './runtime.js';

/** What a connection test found, in words a person reads (never a response body or a secret). */
export interface TargetTestResult {
  ok: boolean;
  detail: string;
  ms: number;
}

/**
 * Tests a target as an agent would reach it, with its credential and checks: an SSH target runs
 * `true` over a connection that must present the pinned host key; an HTTP target answers a HEAD
 * of its base path (the status is reported, nothing of the answer). INVARIANT: the result says
 * only whether and how the target answered; the error text passes the operator-audience scrubber.
 */
export async function testTarget(rt: Runtime, name: string): Promise<TargetTestResult> {
  const started = Date.now();
  const ms = () => Date.now() - started;
  try {
    const t = await rt.targets.get(name);
    if (t.kind === 'ssh') {
      const { spec, creds } = await sshTarget(rt.ports.targets, name);
      const r = await (await rt.ports.ssh.pool()).exec(spec, creds, { command: 'true', timeoutS: 15 });
      return r.exitCode === 0
        ? { ok: true, detail: `connected as ${t.config.user} with the pinned host key and ran a command`, ms: ms() }
        : { ok: false, detail: `connected, but a test command exited ${r.exitCode ?? '?'}`, ms: ms() };
    }
    const use = await httpTarget(rt.ports.targets, name);
    const r = await (
      await rt.ports.upstream()
    ).request(use.spec, use.credential, {
      method: 'HEAD',
      path: '/',
      timeoutMs: 10_000,
      maxResponseBytes: 0,
    });
    return {
      ok: r.status < 500,
      detail: `answered HTTP ${r.status}${r.status === 401 || r.status === 403 ? ' (the credential may be wrong or lack a permission)' : ''}`,
      ms: ms(),
    };
  } catch (e) {
    const err = toGatehouseError(e);
    return { ok: false, detail: rt.redactor.scrub(`${err.code}: ${err.message}`), ms: ms() };
  }
}
