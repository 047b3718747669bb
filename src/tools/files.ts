import { z } from 'zod';
import { approvalIdField } from './common.js';
import { sshTarget } from './ssh-target.js';
import { defineTool } from './types.js';

const remotePath = z.string().min(1).max(4096).describe('Absolute path on the target');

export const fileReadTool = defineTool({
  name: 'file_read',
  title: 'Read a file on an SSH server',
  description:
    'Reads a file on an SSH target over SFTP. Path rules apply: secrets such as ~/.ssh keys and /etc/shadow are refused. Text comes back as text (secrets scrubbed), other bytes as base64; ' +
    'files over max_bytes are cut with truncated: true.',
  inputSchema: z.object({ target: z.string().min(1).max(100), path: remotePath, max_bytes: z.number().int().min(1).max(16 * 1024 * 1024).optional() }).strict(),
  outputSchema: z.object({ path: z.string(), encoding: z.enum(['utf8', 'base64']), content: z.string(), size: z.number(), truncated: z.boolean() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, ctx) {
    const rt = ctx.runtime;
    return rt.gate.run(
      ctx.principal,
      { tool: 'file_read', target: input.target, guard: { kind: 'path', op: 'read', path: input.path }, summary: `read ${input.target}:${input.path}`, client: ctx.client },
      async () => {
        const { spec, creds } = await sshTarget(rt, input.target);
        const r = await (await rt.sshPool()).readFile(spec, creds, input.path, input.max_bytes ?? 1024 * 1024, { signal: ctx.signal });
        const text = new TextDecoder('utf-8', { fatal: false }).decode(r.content);
        const isText = !text.includes('\uFFFD') && !/[\x00-\x08\x0e-\x1f]/.test(text);
        if (isText) return { path: input.path, encoding: 'utf8' as const, content: rt.redactor.scrub(text), size: r.size, truncated: r.truncated };
        const bytes = rt.redactor.createScrubber();
        const scrubbed = Buffer.concat([bytes.push(r.content), bytes.end()]);
        return { path: input.path, encoding: 'base64' as const, content: scrubbed.toString('base64'), size: r.size, truncated: r.truncated };
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
  outputSchema: z.object({ path: z.string(), bytesWritten: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler(input, ctx) {
    const rt = ctx.runtime;
    return rt.gate.run(
      ctx.principal,
      { tool: 'file_write', target: input.target, guard: { kind: 'path', op: 'write', path: input.path }, summary: `write ${input.target}:${input.path} (${input.content.length} chars)`, client: ctx.client },
      async () => {
        const { spec, creds } = await sshTarget(rt, input.target);
        const content = input.encoding === 'base64' ? Buffer.from(input.content, 'base64') : input.content;
        const r = await (await rt.sshPool()).writeFile(spec, creds, input.path, content, input.mode, { signal: ctx.signal });
        return { path: input.path, bytesWritten: r.bytesWritten };
      },
      { channel: ctx.channel, approvalId: input.approval_id },
    );
  },
});
