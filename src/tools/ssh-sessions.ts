import { z } from 'zod';
import type { Action } from '../gate/index.js';
import type { Foreground } from '../ssh/index.js';
import { APPROVAL_ID_ROLE, approvalIdField, boundInputs, clip } from './common.js';
import { refuseWhilePersonHolds, sshTarget } from './ssh-target.js';
import { defineTool, type ToolContext } from './types.js';

const sessionId = z.string().min(8).max(100).describe('A session id from ssh_session_open');

/** Every session call re-checks the owner: a session id is a name, not a capability. */
function sessions(ctx: ToolContext) {
  return ctx.ports.ssh.sessions();
}

export const sshSessionOpenTool = defineTool({
  name: 'ssh_session_open',
  title: 'Open an interactive SSH session',
  description:
    "Opens an interactive bash shell (a PTY) on an SSH target for work that needs state across commands; the target user's login shell must be bash. Opening needs a person's approval unless policy allows it; say why in `reason`. " +
    'Gatehouse resets the shell first: no line editing, history expansion, aliases, traps or prompt hooks. Every line you send is judged like an ssh_exec command, and lines that change how later lines run ' +
    '(aliases, functions, prompts, bind, complete, shell options, traps, history, exec, source) need approval. Sessions close when idle too long or when your token is revoked; the full transcript is audited. Returns the session id.',
  inputSchema: z
    .object({
      target: z.string().min(1).max(100),
      reason: z.string().min(1).max(1000).describe('Why you need an interactive session'),
      approval_id: approvalIdField,
    })
    .strict(),
  inputRoles: { target: 'target', reason: 'bound', approval_id: APPROVAL_ID_ROLE },
  outputSchema: z.object({ id: z.string(), target: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(input, ctx) {
    const allow = ctx.ports.ssh.sessionOpen === 'allow';
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'ssh_session_open',
        target: input.target,
        fixedVerdict: allow
          ? {
              decision: 'allow',
              rule: 'config.ssh.session_open',
              reason: 'configuration allows sessions without approval',
              matched: '',
            }
          : {
              decision: 'approve',
              rule: 'session.open',
              reason: `interactive session on ${input.target}: ${clip(input.reason, 200)}`,
              matched: input.reason,
            },
        bound: boundInputs({ reason: input.reason }),
        summary: `open session on ${input.target}: ${clip(input.reason, 200)}`,
        client: ctx.client,
      },
      async () => {
        await refuseWhilePersonHolds(ctx.ports.ssh, ctx.principal, input.target);
        const { spec, creds } = await sshTarget(ctx.ports.targets, input.target);
        const { id } = await (await sessions(ctx)).open(spec, creds, { owner: ctx.principal.tokenId });
        return { id, target: input.target };
      },
      { approvalContext: ctx.approvalContext, approvalId: input.approval_id },
    );
  },
});

export const sshSessionSendTool = defineTool({
  name: 'ssh_session_send',
  title: 'Send input to an SSH session',
  description:
    'Sends input (usually one command line) to an open session and returns the output produced since, ANSI stripped and secrets scrubbed. Each line typed at the shell prompt is judged like an ssh_exec command; ' +
    "input sent while another program holds the terminal (python3, vim, less, a nested shell) goes to that program and needs a person's approval. Lines over 4095 bytes are refused. " +
    'With wait_for, waits until the output contains that text (or timeout_s passes). ' +
    'While a person holds the session in the Gatehouse console, sends fail with human_control: wait and poll ssh_session_read until control comes back.',
  inputSchema: z
    .object({
      id: sessionId,
      input: z.string().min(1).max(65_536).describe('Text to type; end with \\n to run a command'),
      wait_for: z.string().min(1).max(1000).optional().describe('Return once the output contains this text'),
      timeout_s: z.number().int().min(1).max(600).optional(),
      approval_id: approvalIdField,
    })
    .strict(),
  inputRoles: {
    id: 'bound',
    input: 'judged',
    wait_for: { irrelevant: 'only decides when the call returns; the input sent is the same' },
    timeout_s: { irrelevant: 'how long to wait for output; the input sent is the same' },
    approval_id: APPROVAL_ID_ROLE,
  },
  outputSchema: z.object({ output: z.string(), matched: z.boolean(), timedOut: z.boolean(), closed: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(input, ctx) {
    const mgr = await sessions(ctx);
    const info = mgr.list(ctx.principal.tokenId).find((s) => s.id === input.id);
    // The whole input is judged as one command text typed at the shell's prompt: the parser sees
    // every line, and the most restrictive verdict among them wins.
    // INVARIANT: the approval binds the session too, so it cannot be spent in another session.
    const action: Action = {
      tool: 'ssh_session_send',
      target: info?.target,
      guard: { kind: 'command', command: input.input, context: 'session', session: true },
      bound: boundInputs({ session: input.id, foreground: 'shell' }),
      summary: `session ${input.id}: ${clip(input.input)}`,
      client: ctx.client,
    };
    let foreground: Foreground = { atShell: true };
    return ctx.gate.run(
      ctx.principal,
      action,
      // INVARIANT: the send is written only while the program the gate decided for still holds
      // the terminal (the manager checks again right before writing).
      async () =>
        mgr.send(input.id, ctx.principal.tokenId, input.input, {
          waitFor: input.wait_for,
          timeoutS: input.timeout_s,
          expect: foreground,
        }),
      {
        approvalContext: ctx.approvalContext,
        approvalId: input.approval_id,
        // Asked of the kernel once the caller is authorized: which program holds the terminal.
        // Input typed while another program (python3, vim, less, a nested shell) holds it is input
        // to that program, not a bash line: a person approves it, seeing which program gets it.
        completeGuardInput: async () => {
          if (!info) return;
          foreground = await mgr.foreground(input.id, ctx.principal.tokenId);
          if (foreground.atShell) return;
          const to = `${foreground.program} (pid ${foreground.pid})`;
          delete action.guard;
          action.fixedVerdict = {
            decision: 'approve',
            rule: 'session.foreground',
            reason: `input to ${to}, not to the shell: ${foreground.reason}`,
            matched: clip(input.input, 200),
          };
          action.bound = boundInputs({
            session: input.id,
            foreground: `${foreground.program}:${foreground.pid}`,
            input: input.input,
          });
          action.summary = `session ${input.id}, input to ${to}: ${clip(input.input)}`;
        },
      },
    );
  },
});

export const sshSessionReadTool = defineTool({
  name: 'ssh_session_read',
  title: "Read an SSH session's output",
  description:
    "Reads a session's buffered output from cursor `since` (default: what no send or read has returned yet; 0 for the whole buffer). Returns the output and the cursor to pass next time. " +
    "`control` is `person` while a person holds the terminal (their output is withheld from you, marked '[person in control, output withheld]'); when they return it, the output carries '[control returned by a person: NOTE]'.",
  inputSchema: z
    .object({
      id: sessionId,
      since: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(1_048_576).optional(),
    })
    .strict(),
  inputRoles: {
    id: 'bound',
    since: { irrelevant: 'which part of the buffered output comes back; reading changes nothing remote' },
    limit: { irrelevant: 'how much of the buffered output comes back; reading changes nothing remote' },
  },
  outputSchema: z.object({
    output: z.string(),
    next: z.number(),
    closed: z.boolean(),
    dropped: z.boolean(),
    control: z.enum(['agent', 'person']),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(input, ctx) {
    const mgr = await sessions(ctx);
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'ssh_session_read',
        bound: boundInputs({ session: input.id }),
        summary: `read session ${input.id}`,
        client: ctx.client,
      },
      async () => mgr.read(input.id, ctx.principal.tokenId, { since: input.since, limit: input.limit }),
    );
  },
});

export const sshSessionSignalTool = defineTool({
  name: 'ssh_session_signal',
  title: 'Signal an SSH session',
  description: "Sends a signal to the session's foreground program: INT (like Ctrl-C), QUIT, TSTP, HUP, TERM or KILL.",
  inputSchema: z.object({ id: sessionId, signal: z.enum(['INT', 'QUIT', 'TSTP', 'HUP', 'TERM', 'KILL']) }).strict(),
  inputRoles: { id: 'bound', signal: 'bound' },
  outputSchema: z.object({ ok: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(input, ctx) {
    const mgr = await sessions(ctx);
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'ssh_session_signal',
        bound: boundInputs({ session: input.id, signal: input.signal }),
        summary: `signal ${input.signal} to session ${input.id}`,
        client: ctx.client,
      },
      async () => {
        mgr.signal(input.id, ctx.principal.tokenId, input.signal);
        return { ok: true };
      },
    );
  },
});

export const sshSessionCloseTool = defineTool({
  name: 'ssh_session_close',
  title: 'Close an SSH session',
  description: 'Closes an interactive session. Its transcript goes to the audit log.',
  inputSchema: z.object({ id: sessionId }).strict(),
  inputRoles: { id: 'bound' },
  outputSchema: z.object({ ok: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(input, ctx) {
    const mgr = await sessions(ctx);
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'ssh_session_close',
        bound: boundInputs({ session: input.id }),
        summary: `close session ${input.id}`,
        client: ctx.client,
      },
      async () => {
        mgr.close(input.id, ctx.principal.tokenId);
        return { ok: true };
      },
    );
  },
});

export const sshSessionHandoffTool = defineTool({
  name: 'ssh_session_handoff',
  title: 'Ask a person to take over an SSH session',
  description:
    'Asks a person to step in on an interactive session: a sudo or 2FA prompt, a judgement you should not make alone. ' +
    'Your message shows on the Gatehouse console (Sessions, and a banner in the approvals inbox) until the session closes or the person dismisses it. ' +
    'It returns at once. A person may take over the terminal: then your sends fail with human_control and what they type and see is withheld from you. ' +
    'Poll ssh_session_read (its `control` says who holds the terminal) until control comes back with their note; tell the person what you asked.',
  inputSchema: z
    .object({
      id: sessionId,
      message: z.string().min(1).max(500).describe('What the person should do, and why'),
    })
    .strict(),
  inputRoles: { id: 'bound', message: 'bound' },
  outputSchema: z.object({ ok: z.boolean(), next: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(input, ctx) {
    const mgr = await sessions(ctx);
    return ctx.gate.run(
      ctx.principal,
      {
        tool: 'ssh_session_handoff',
        bound: boundInputs({ session: input.id, message: input.message }),
        summary: `handoff session ${input.id}: ${input.message}`,
        client: ctx.client,
      },
      async () => {
        mgr.handoff(input.id, ctx.principal.tokenId, input.message);
        return {
          ok: true,
          next: 'A person sees your message in the Gatehouse console and may take over the terminal. Poll ssh_session_read every few seconds: while its control is "person", wait (sends fail with human_control); when control is back it shows their note. Do not type the secret or answer the prompt yourself.',
        };
      },
    );
  },
});
