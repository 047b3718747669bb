import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../core/index.js';
import type { DlpCounts } from '../dlp/index.js';
import type { AuditFields, Principal } from '../gate/index.js';
import type { HttpTargetConfig, Target } from '../targets/index.js';
import type { HttpTargetSpec } from '../upstream/index.js';
import type { ModelUsage, UsageMeter } from '../usage/index.js';
import type { GatePort, TargetsPort, TrafficPort } from './ports.js';

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

/** A request body as DLP meets it, on either door. */
export interface OutgoingBody {
  /** What the agent sent, as read: text from api_request, bytes from /gateway; undefined when none was read. */
  body: string | Buffer | undefined;
  /** The body, or part of it, was not read as text (binary, an undecodable coding, or it streams unread). */
  unread: boolean;
  /** The request's Content-Encoding (asked only when DLP is on). */
  contentEncoding: () => string | undefined;
}

/** What issue 20 made of one call before it was sent. */
export interface TrafficCheck {
  /** DLP's text, to send in place of the agent's body; absent when DLP is off or there was no body. */
  body?: string;
  /** What DLP replaced, per pattern and `vault-or-key` (for the audit record); absent when nothing was. */
  dlp?: DlpCounts;
  /** A model target's meter: `observe` is the upstream's `observeBody`, `finish` runs once the answer ended. */
  meter?: Pick<UsageMeter, 'observe' | 'finish'>;
}

/**
 * Issue 20 on one call to an HTTP target, once the gate allowed it and before anything of it is
 * sent or any vault handle filled: DLP on the body (a target with `dlp`), then the token's budget
 * and a usage meter (a model preset). The one path to both for `api_request` and `/gateway`, so
 * the two doors cannot drift apart. A target with neither gets undefined and nothing is loaded.
 *
 * INVARIANTS, enforced here for both doors:
 * - DLP scans the agent's own text before vault handles are filled: a handle's filled value is
 *   never scanned, redacted away or counted (a handle bound to the target is the one way a secret
 *   is meant to leave).
 * - A body DLP cannot read as UTF-8 text (read partly or not at all, content-coded, not UTF-8) is
 *   refused, never sent unscanned (nor re-encoded lossily, which would corrupt binary parts).
 * - A `refuse` pattern refuses the call before anything is sent (`denied`, naming the pattern only).
 * - A spent budget refuses the call with `limit_exceeded` before anything is sent.
 */
/**
 * Whether vault handles in a request body to this target are filled. Not for a model API: a
 * prompt is text about anything (a coding agent's prompt quotes source that mentions
 * `{{vault:…}}`), and a secret has no business in a prompt sent to a third party, which may repeat
 * it. INVARIANT: in a model target's body a handle is literal text, never filled and never refused.
 */
export function fillsBodyHandles(config: Pick<HttpTargetConfig, 'model'>): boolean {
  return config.model === undefined;
}

export async function beforeSend(
  traffic: TrafficPort,
  principal: Principal,
  target: string,
  config: HttpTargetConfig,
  out: OutgoingBody,
): Promise<TrafficCheck | undefined> {
  if (!config.dlp && config.model === undefined) return undefined;
  const check: TrafficCheck = {};
  if (config.dlp) {
    const b = out.body;
    const text = b === undefined || typeof b === 'string' ? b : isUtf8(b) ? b.toString('utf8') : undefined;
    const readable = text !== undefined && !out.unread && !out.contentEncoding();
    if (!readable && (b !== undefined || out.unread))
      throw new GatehouseError(
        'denied',
        `target ${target} scans request bodies (DLP), and this one is not plain text`,
        {
          hint: 'send the body uncompressed, as UTF-8 text (JSON)',
        },
      );
    if (readable) {
      const scanned = traffic.dlp().scan(text);
      check.body = scanned.text;
      if (Object.keys(scanned.counts).length > 0) check.dlp = scanned.counts;
    }
  }
  // A model API: the token's daily budget first, then a tap that reads counts as the answer passes.
  if (config.model !== undefined)
    check.meter = await (await traffic.usage()).meter(principal.tokenId, target, config.model);
  return check;
}

/** What the audit record of a call to an HTTP target adds: usage and DLP counts (never a value). */
export interface TrafficCounts {
  usage?: ModelUsage;
  dlp?: DlpCounts;
}

/** Once the answer ended (on either door): the meter's counts recorded in the ledger, and what the audit record adds. */
export async function afterSend(traffic: TrafficCheck | undefined): Promise<TrafficCounts> {
  if (!traffic) return {};
  const usage = await traffic.meter?.finish();
  return { ...(usage ? { usage } : {}), ...(traffic.dlp ? { dlp: traffic.dlp } : {}) };
}

/** The audit record's fields for a call to an HTTP target: its status, and usage and DLP counts (never a value). */
export function targetCallAudit(r: TrafficCounts & { status: number }): AuditFields {
  if (!r.usage && !r.dlp) return { status: r.status };
  return { status: r.status, detail: { ...(r.usage ? { usage: r.usage } : {}), ...(r.dlp ? { dlp: r.dlp } : {}) } };
}
