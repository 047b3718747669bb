import type { ApprovalService } from '../approvals/index.js';
import type { AuditEntry } from '../audit/index.js';
import { MetricsRegistry, type Counter } from '../core/index.js';
import { defineRoute, type Route } from './route.js';
import type { Runtime } from './runtime.js';

/** Audit batch sizes (records per transaction). */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];
/** Audit write latency: commit plus the disk flush (seconds). */
const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Outcomes that are not errors: an action that ran, or an event that names what happened. */
const NOT_ERRORS = new Set(['ok', 'step_allowed']);

/**
 * This process's metrics (`GET /metrics`, admin token, Prometheus text format). Counters and
 * histograms are per process (a scraper adds them up across instances); the approval gauges are
 * read from the store, so every process reports the same numbers for them.
 *
 * Every action is counted from its audit record, so the figures are what the audit log holds:
 * an attempt by tool and decision, and an attempt or result whose outcome is an error by its code.
 */
export class GatehouseMetrics {
  readonly registry = new MetricsRegistry();
  readonly #http: Counter;

  constructor(rt: Runtime, approvals: ApprovalService) {
    const r = this.registry;
    this.#http = r.counter(
      'gatehouse_http_requests_total',
      'HTTP requests answered by this process, by route pattern and status code (aborted: the client left first)',
      ['route', 'status'],
    );
    const actions = r.counter(
      'gatehouse_actions_total',
      'actions asked for (audited attempts), by tool and decision (allow, approve, deny, redirect)',
      ['tool', 'decision'],
    );
    const errors = r.counter(
      'gatehouse_errors_total',
      'actions refused or failed, by tool and error code (as the audit record names it)',
      ['tool', 'code'],
    );
    const events = r.counter('gatehouse_audit_records_total', 'audit records appended, by phase', ['phase']);
    const batches = r.histogram(
      'gatehouse_audit_batch_records',
      'records written per audit transaction (group commit)',
      BATCH_BUCKETS,
    );
    const latency = r.histogram(
      'gatehouse_audit_write_seconds',
      'time from an audit batch starting to be written to its records being committed (and, for attempts, on disk)',
      WRITE_BUCKETS,
    );
    const failed = r.counter(
      'gatehouse_audit_write_failures_total',
      'audit batches that could not be written (each refused its actions)',
    );
    rt.audit.setObserver({
      appended: (e: Readonly<AuditEntry>) => {
        events.inc({ phase: e.phase });
        const tool = e.tool ?? 'none';
        if (e.phase === 'attempt') actions.inc({ tool, decision: e.decision ?? 'none' });
        if (e.phase !== 'event' && e.outcome !== undefined && !NOT_ERRORS.has(e.outcome))
          errors.inc({ tool, code: e.outcome });
      },
      written: (records, seconds, ok) => {
        batches.observe(records);
        latency.observe(seconds);
        if (!ok) failed.inc();
      },
    });
    r.gauge(
      'gatehouse_approvals',
      'approvals in the store by state (shared by every process on the store)',
      ['status'],
      async () => {
        const counts = await approvals.countByStatus();
        return Object.entries(counts).map(([status, value]) => ({ labels: { status }, value }));
      },
    );
    r.gauge('gatehouse_ssh_pool_connections', 'SSH connections this process holds, idle or in use', [], async () => [
      { value: (await rt.sshPool.peek())?.size ?? 0 },
    ]);
    r.gauge(
      'gatehouse_upstream_pools',
      'HTTP connection pools this process holds, one per upstream origin',
      [],
      async () => [{ value: (await rt.upstream.peek())?.size ?? 0 }],
    );
    r.gauge('gatehouse_process_resident_memory_bytes', 'resident memory of this process', [], () => [
      { value: process.memoryUsage.rss() },
    ]);
    r.gauge('gatehouse_process_cpu_seconds_total', 'CPU time this process has used (user and system)', [], () => {
      const u = process.cpuUsage();
      return [{ value: (u.user + u.system) / 1e6 }];
    });
    r.gauge('gatehouse_process_uptime_seconds', 'seconds since this process started', [], () => [
      { value: Math.round(process.uptime()) },
    ]);
  }

  /** Counts an answered HTTP request. `route` is the matched pattern (never the raw path). */
  httpRequest(route: string, status: number | 'aborted'): void {
    this.#http.inc({ route, status: String(status) });
  }
}

/** `GET /metrics`: the Prometheus text exposition, for an admin token only (it describes every token's use). */
export function metricsRoute(metrics: GatehouseMetrics): Route<'admin'> {
  return defineRoute({
    method: 'GET',
    path: '/metrics',
    auth: 'admin',
    handler: async (_req, res) => {
      const body = await metrics.registry.render();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    },
  });
}
