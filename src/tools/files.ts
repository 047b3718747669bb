import { createHash } from 'node:crypto';
import { z } from 'zod';
import { cutText, TRUNCATION_MARKER } from '../core/index.js';
import { ScrubCap } from '../vault/index.js';
import { APPROVAL_ID_ROLE, approvalIdField, boundInputs } from './common.js';
import { refuseWhilePersonHolds, sshTarget } from './ssh-target.js';
import { defineTool } from './types.js';

const remotePath = z.string().min(1).max(4096).describe('Absolute path on the target');

export const fileReadTool = defineTool({
  name: 'file_read',
  title: 'Read a file on an SSH server',
  description:
    'Reads a file on an SSH target over SFTP. Path rules apply: secrets such as ~/.ssh keys and /etc/shadow are refused. Text comes back as text (secrets scrubbed), other bytes as base64; ' +
    'files over max_bytes are cut with truncated: true.',
  inputSchema: z
    .object({
      target: z.string().min(1).max(100),
      path: remotePath,
      max_bytes: z
        .number()
        .int()
        .min(1)
        .max(16 * 1024 * 1024)
        .optional(),
    })
    .strict(),
  inputRoles: {
    target: 'target',
    path: 'judged',
    max_bytes: { irrelevant: 'how much of the file comes back; reading changes nothing on the server' },
  },
  outputSchema: z.object({
    path: z.string(),
    encoding: z.enum(['utf8', 'base64']),
    content: z.string(),
    size: z.number(),
    truncated: z.boolean(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, ctx) {
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'file_read',
        target: input.target,
        guard: { kind: 'path', op: 'read', path: input.path },
        summary: `read ${input.target}:${input.path}`,
        client: ctx.client,
      },
      async () => {
        await refuseWhilePersonHolds(ctx.ports.ssh, ctx.principal, input.target);
        const { spec, creds } = await sshTarget(ctx.ports.targets, input.target);
        // INVARIANT: scrub, then cut. The file is read a little past max_bytes so a secret that
        // straddles the limit is seen whole; what the scrubber still holds at a cut is dropped.
        const cap = new ScrubCap(ctx.output, input.max_bytes ?? 1024 * 1024);
        const r = await (
          await ctx.ports.ssh.pool()
        ).readFile(spec, creds, input.path, cap.readLimit, { signal: ctx.signal });
        cap.push(r.content);
        const { output, truncated } = cap.finish(!r.truncated);
        const text = new TextDecoder('utf-8', { fatal: false }).decode(output);
        const isText = !text.includes('\uFFFD') && !/[\x00-\x08\x0e-\x1f]/.test(text);
        if (isText) return { path: input.path, encoding: 'utf8' as const, content: text, size: r.size, truncated };
        return {
          path: input.path,
          encoding: 'base64' as const,
          content: output.toString('base64'),
          size: r.size,
          truncated,
        };
      },
    );
  },
});

export const fileWriteTool = defineTool({
  name: 'file_write',
  title: 'Write a file on an SSH server',
  description:
    'Writes a file on an SSH target over SFTP (content is UTF-8 text, or base64 with encoding: "base64"). Path rules apply: writes outside the allowed paths need a person\'s approval, ' +
    'and secret locations are refused.',
  inputSchema: z
    .object({
      target: z.string().min(1).max(100),
      path: remotePath,
      content: z.string().max(16 * 1024 * 1024),
      encoding: z.enum(['utf8', 'base64']).optional(),
      mode: z.number().int().min(0).max(0o7777).optional().describe('File mode, e.g. 420 for 0644'),
      approval_id: approvalIdField,
    })
    .strict(),
  inputRoles: {
    target: 'target',
    path: 'judged',
    content: 'bound',
    encoding: 'bound',
    mode: 'bound',
    approval_id: APPROVAL_ID_ROLE,
  },
  outputSchema: z.object({ path: z.string(), bytesWritten: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler(input, ctx) {
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'file_write',
        target: input.target,
        guard: { kind: 'path', op: 'write', path: input.path },
        // INVARIANT: an approved write runs with exactly the content and mode the person saw.
        bound: boundInputs({
          content: contentDigest(input.content, input.encoding),
          content_preview: input.encoding === 'base64' ? undefined : preview(input.content),
          encoding: input.encoding,
          mode: input.mode === undefined ? undefined : `0${input.mode.toString(8).padStart(3, '0')}`,
        }),
        record: { content: input.content },
        summary: `write ${input.target}:${input.path} (${input.content.length} chars)`,
        client: ctx.client,
      },
      async () => {
        await refuseWhilePersonHolds(ctx.ports.ssh, ctx.principal, input.target);
        const { spec, creds } = await sshTarget(ctx.ports.targets, input.target);
        const content = input.encoding === 'base64' ? Buffer.from(input.content, 'base64') : input.content;
        const r = await (
          await ctx.ports.ssh.pool()
        ).writeFile(spec, creds, input.path, content, input.mode, { signal: ctx.signal });
        return { path: input.path, bytesWritten: r.bytesWritten };
      },
      { approvalContext: ctx.approvalContext, approvalId: input.approval_id },
    );
  },
});

/** What a person is shown of written bytes: their size and SHA-256 (the digest binds to these). */
function contentDigest(content: string, encoding: 'utf8' | 'base64' | undefined): string {
  const bytes = encoding === 'base64' ? Buffer.from(content, 'base64') : Buffer.from(content, 'utf8');
  return `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
}

const PREVIEW_CHARS = 2000;
/** The start of written text a person is shown (cut on a code-point boundary; the digest binds all of it). */
function preview(text: string): string {
  return text.length <= PREVIEW_CHARS ? text : `${cutText(text, PREVIEW_CHARS)}${TRUNCATION_MARKER}`;
}
