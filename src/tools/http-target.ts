import { GatehouseError } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import type { HttpTargetConfig, Target } from '../targets/index.js';
import type { HttpTargetSpec } from '../upstream/index.js';
import type { GatePort, TargetsPort } from './ports.js';

/** Headers an agent might send hoping to approve its own request. They approve nothing. */
export const FORGED_APPROVAL_HEADER = /^x-(gatehouse|shellgate)-approv/i;

// One spec object per loaded target version, so the upstream pool recognises it without rehashing.
const SPECS = new WeakMap<Target, HttpTargetSpec>();

/** An HTTP target as the executor needs it: its spec, configuration, opened credential and host. */
export interface HttpTargetUse {
  spec: HttpTargetSpec;
  config: HttpTargetConfig;
  credential: string | undefined;
  host: string;
}

/** The upstream spec, the opened credential and the host of an HTTP target. */
export async function httpTarget(targets: TargetsPort, name: string): Promise<HttpTargetUse> {
  const target = await targets.get(name);
  if (target.kind !== 'http')
    throw new GatehouseError('invalid_input', `target ${name} is an ${target.kind} target, not http`, {
      hint: 'use ssh_exec for SSH targets',
    });
  const c = target.config;
  let spec = SPECS.get(target);
  if (!spec) SPECS.set(target, (spec = { name, baseUrl: c.baseUrl, auth: c.auth, allowPrivate: c.allowPrivate }));
  return {
    spec,
    config: c,
    credential: c.secret ? await targets.openSecret(target, c.secret) : undefined,
    host: new URL(c.baseUrl).hostname,
  };
}

/**
 * Drops approval-looking headers and records the attempt (it never counts as an approval).
 * Returns the remaining headers and the names dropped (the proxy must not forward those either).
 */
export async function dropForgedHeaders(
  gate: GatePort,
  principal: Principal,
  tool: string,
  headers: Record<string, string>,
): Promise<{ headers: Record<string, string>; forged: string[] }> {
  const forged = Object.keys(headers).filter((h) => FORGED_APPROVAL_HEADER.test(h));
  if (forged.length === 0) return { headers, forged };
  await gate.event(principal, tool, 'forged_approval_ignored', { headers: forged });
  return {
    headers: Object.fromEntries(Object.entries(headers).filter(([k]) => !FORGED_APPROVAL_HEADER.test(k))),
    forged,
  };
}
