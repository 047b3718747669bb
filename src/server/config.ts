import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../core/index.js';

/**
 * `$GATEHOUSE_HOME/config.yaml` (or GATEHOUSE_CONFIG). Every key is optional; defaults are the
 * safe choice. Errors name the file, line and field.
 */
const configSchema = z
  .object({
    server: z
      .object({
        listen: z.string().optional(),
        allowed_origins: z.array(z.string()).default([]),
        // Where the other serve processes on this store reach this one (2025-era session forwarding).
        advertise_url: z.string().url().optional(),
      })
      .strict()
      .default({ allowed_origins: [] }),
    guard: z
      .object({
        policy_files: z.array(z.string()).default([]),
      })
      .strict()
      .default({ policy_files: [] }),
    gate: z
      .object({
        rate_limit: z
          .object({
            per_second: z.number().positive().max(1_000_000).default(200),
            burst: z.number().int().min(1).max(1_000_000).default(1000),
          })
          .strict()
          .default({ per_second: 200, burst: 1000 }),
      })
      .strict()
      .default({ rate_limit: { per_second: 200, burst: 1000 } }),
    approvals: z
      .object({
        ttl_seconds: z.number().int().min(30).max(86_400).default(600),
      })
      .strict()
      .default({ ttl_seconds: 600 }),
    console: z
      .object({
        /**
         * Approving in the console (and changing passkeys, creating enrollment codes) always needs
         * a passkey, even when the table holds none: set it once the team has registered theirs, so
         * a database writer who deletes every passkey row does not turn the requirement off.
         */
        require_passkeys: z.boolean().default(false),
        /**
         * The console's public origin behind a proxy that terminates TLS, e.g.
         * https://gatehouse.example.com (checked at start: https, a host name, no path).
         */
        public_origin: z.string().max(300).optional(),
      })
      .strict()
      .default({ require_passkeys: false }),
    audit: z
      .object({
        /** How often `serve` logs the audit chain's head (for a log shipper to keep); 0 turns it off. */
        head_log_seconds: z.number().int().min(0).max(86_400).default(60),
      })
      .strict()
      .default({ head_log_seconds: 60 }),
    redaction: z
      .object({
        patterns: z
          .array(
            z
              .object({
                name: z.string().min(1),
                pattern: z.string().min(1),
                show_prefix: z.number().int().min(0).max(12).optional(),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({ patterns: [] }),
    dlp: z
      .object({
        /** Patterns scanned in request bodies to targets with DLP on (default: card numbers, redacted). */
        patterns: z
          .array(
            z
              .object({
                name: z.string().min(1).max(60),
                preset: z.enum(['email', 'phone', 'card']).optional(),
                regex: z.string().min(1).max(1000).optional(),
                action: z.enum(['redact', 'refuse']).default('redact'),
                show_prefix: z.number().int().min(0).max(12).optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .default({}),
    ssh: z
      .object({
        max_channels: z.number().int().min(1).max(64).default(8),
        idle_close_seconds: z.number().int().min(5).max(86_400).default(300),
        session_idle_seconds: z.number().int().min(30).max(86_400).default(900),
        /** `approve` (default): opening an interactive session needs a person; `allow`: it does not. */
        session_open: z.enum(['approve', 'allow']).default('approve'),
      })
      .strict()
      .default({ max_channels: 8, idle_close_seconds: 300, session_idle_seconds: 900, session_open: 'approve' }),
    wiki: z
      .object({
        /**
         * Namespaces where a page becomes (or stays, when changed) `active` only with a person's
         * approval, whoever writes it.
         */
        protected: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)).default([]),
      })
      .strict()
      .default({ protected: [] }),
    sandbox: z
      .object({
        profile: z.string().default('default'),
        profiles: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .default({ profile: 'default', profiles: {} }),
  })
  .strict();

export type GatehouseConfig = z.infer<typeof configSchema>;

export function defaultConfig(): GatehouseConfig {
  return configSchema.parse({});
}

export function loadConfig(file: string | undefined, required = false): GatehouseConfig {
  if (!file || !existsSync(file)) {
    if (required && file) throw new GatehouseError('config_invalid', `configuration file ${file} does not exist`);
    return defaultConfig();
  }
  const text = readFileSync(file, 'utf8');
  // The YAML parser is loaded only when there is a file to read.
  const { LineCounter, parseDocument, isNode } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const [e] = doc.errors;
  if (e) {
    const at = e.linePos?.[0];
    throw new GatehouseError('config_invalid', `${file}:${at?.line ?? '?'}: ${e.message.split('\n')[0]}`, {
      hint: 'fix the YAML syntax',
    });
  }
  const r = configSchema.safeParse(doc.toJS() ?? {});
  if (!r.success) {
    // A failed parse has at least one issue; without one the file is still refused, just less precisely.
    const issue = r.error.issues[0];
    const path = issue?.path.map(String) ?? [];
    // Walk back up the path until a node with a position is found.
    let line: number | undefined;
    for (let n = path.length; n >= 0 && line === undefined; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
    }
    const where = path.join('.') || '(top level)';
    throw new GatehouseError('config_invalid', `${file}:${line ?? 1}: ${where}: ${issue?.message ?? 'invalid'}`, {
      hint: 'see "Configuration" in the README for the keys Gatehouse knows',
    });
  }
  // INVARIANT: a relative path in the configuration file means relative to that file, never to
  // the server's working directory (a folder an agent may be able to write to).
  const dir = dirname(resolve(file));
  r.data.guard.policy_files = r.data.guard.policy_files.map((p) => resolve(dir, p));
  return r.data;
}
