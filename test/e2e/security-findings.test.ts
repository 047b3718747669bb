/**
 * The outside reviews' findings (issues 13 and 21), replayed end to end the way the review ran
 * them: an agent holding a narrow token, the official MCP client over Streamable HTTP, a real
 * sshd whose login shell is bash, a loopback HTTP upstream that echoes what it receives. Each test
 * names the finding; each one failed on the code the review attacked. Where "nothing runs" is the
 * claim, a marker file the command would have created proves it.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootRuntime } from '../../src/server/boot.js';
import { startHttpServer } from '../../src/server/http.js';
import { sshExecRoute } from '../../src/server/routes/ssh.js';
import { tempHome } from '../helpers/home.js';
import { httpClient } from '../helpers/mcp-client.js';
import { secretPrefixes } from '../helpers/output-scrub.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startServer, type TestServer } from '../upstream/servers.js';

/** A strong stored secret (scrubbed everywhere) and a guessable one (never a scrubbing oracle). */
const STRONG = 'Vt4Kq9Zp2Lx7Nw3Rb8Ym5Hc1Sd6Fg0J';
const PIN = '482913';

type Result = { isError?: boolean; content?: unknown; structuredContent?: unknown };
const text = (r: Result) => JSON.stringify(r.content);

describe.skipIf(!(await requires('sshd', 'security findings e2e')))(
  'security findings of the outside reviews, end to end',
  () => {
    const home = tempHome();
    const scratch = mkdtempSync(join(tmpdir(), 'gh-findings-'));
    chmodSync(scratch, 0o777);
    let sshd: SshdHandle;
    let echo: TestServer;
    let url: string;
    let agent: string;
    let close: () => Promise<void>;
    const marker = (name: string) => join(scratch, name);
    const call = async (name: string, args: Record<string, unknown>): Promise<Result> => {
      const { client, close: done } = await httpClient(url, agent, 'modern');
      try {
        return (await client.callTool({ name, arguments: args })) as Result;
      } finally {
        await done();
      }
    };

    beforeAll(async () => {
      sshd = await startSshd({ loginShell: 'bash' });
      echo = await startServer((req, res, body) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, headers: req.headers, body: body.toString('utf8') }));
      });
      // The box's policy lets python3 start (the default approves a program it cannot vouch for), so
      // 21.3 can show that lines typed into python3 are then input to it, not bash lines.
      writeFileSync(
        join(home.dir, 'box-policy.yaml'),
        'version: 1\nname: box-dev\napplies_to:\n  targets: [box]\ncommands:\n  allowlist: [python3]\n',
      );
      writeFileSync(
        join(home.dir, 'config.yaml'),
        `ssh:\n  session_open: allow\nguard:\n  policy_files: [${JSON.stringify(join(home.dir, 'box-policy.yaml'))}]\n`,
      );
      const rt = await bootRuntime({ env: { ...home.env, GATEHOUSE_CONFIG: join(home.dir, 'config.yaml') } });
      await rt.vault.createVault('ops');
      await rt.vault.createVault('payroll');
      await rt.vault.setField('ops/box.key', sshd.privateKey, { bind: ['target:box'] });
      await rt.vault.setField('ops/db.password', STRONG, { bind: ['target:echo'] });
      await rt.vault.setField('ops/card.pin', PIN, { bind: ['target:echo'] });
      // The review's oracle: a PIN in a vault the token is NOT granted.
      await rt.vault.setField('payroll/bank.pin', '731904', { bind: ['target:nowhere'] });
      await rt.vault.seedRedactor({ add: (s) => rt.addSecret(s) });
      await rt.targets.add('ssh', 'box', {
        host: '127.0.0.1',
        port: sshd.port,
        user: sshd.user,
        key: 'vault:ops/box.key',
        passphrase: null,
        hostKey: sshd.hostKeyFingerprint,
      });
      await rt.targets.add('http', 'echo', {
        baseUrl: echo.url,
        auth: { kind: 'none' },
        secret: null,
        allowPrivate: true,
        followRedirects: false,
      });
      agent = (
        await rt.tokens.create({
          name: 'narrow',
          grants: ['tool:*', 'target:box', 'target:echo', 'vault:ops'],
          approvalMode: 'out-of-band',
        })
      ).token;
      const http = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: [sshExecRoute(rt)] });
      url = http.url;
      close = async () => {
        await http.close();
        await rt.close();
      };
    });
    afterAll(async () => {
      await close?.();
      await echo?.close();
      await sshd?.dispose();
      rmSync(scratch, { recursive: true, force: true });
      home.cleanup();
    });

    describe('issue 13', () => {
      it('issue 14: ssh_exec and POST /ssh/:target/exec judge in the ssh context: a program nothing vouches for needs a person', async () => {
        // The exec tool's sandbox context allows the unknown (test/e2e/exec.test.ts runs `sh ./build.sh`);
        // a tool that passed the wrong context to the guard would run this unasked on a host.
        const m = marker('unknown-program');
        const r = await call('ssh_exec', { target: 'box', command: `frobnicate --all; touch ${m}` });
        expect(r.isError).toBe(true);
        expect(text(r)).toMatch(/approval_required.*unknown_command in the ssh context is approve/s);
        const route = await fetch(`${url}/ssh/box/exec`, {
          method: 'POST',
          headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
          body: JSON.stringify({ command: `frobnicate --all; touch ${m}` }),
        });
        expect(JSON.stringify(await route.json())).toMatch(/approval_required.*ssh context/s);
        expect(existsSync(m)).toBe(false);
      });

      it('13.1: ssh_exec stdin is judged: a shell reading `rm -rf ~` from stdin is refused and nothing runs', async () => {
        for (const command of ['sh', 'bash', 'bash -s', 'sh /dev/stdin']) {
          const m = marker(`stdin-${command.replace(/\W/g, '_')}`);
          const r = await call('ssh_exec', { target: 'box', command, stdin: `touch ${m}\nrm -rf ~\n` });
          expect(r.isError, command).toBe(true);
          expect(text(r), command).toMatch(/denied/);
          expect(existsSync(m), command).toBe(false);
        }
        const py = await call('ssh_exec', {
          target: 'box',
          command: 'python3',
          stdin: `open('${marker('py')}', 'w')\n`,
        });
        expect(text(py)).toMatch(/approval_required/);
        expect(existsSync(marker('py'))).toBe(false);
      });

      it('13.1: the same through POST /ssh/:target/exec', async () => {
        const m = marker('route-stdin');
        const res = await fetch(`${url}/ssh/box/exec`, {
          method: 'POST',
          headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
          body: JSON.stringify({ command: 'sh', stdin: `touch ${m}; rm -rf ~\n` }),
        });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('denied');
        expect(existsSync(m)).toBe(false);
      });

      it('13.2: env is judged: BASH_ENV / LD_PRELOAD are refused, and code held in an env value is judged as code', async () => {
        for (const env of [
          { BASH_ENV: '/tmp/x' },
          { LD_PRELOAD: '/tmp/x.so' },
          { SHELLOPTS: 'xtrace' },
          { PS4: '$(id)' },
        ]) {
          const r = await call('ssh_exec', { target: 'box', command: 'bash -c true', env });
          expect(r.isError, JSON.stringify(env)).toBe(true);
          expect(text(r)).toMatch(/denied/);
        }
        const m = marker('trap');
        const trap = await call('ssh_exec', {
          target: 'box',
          command: 'trap "$P" EXIT',
          env: { P: `touch ${m}; rm -rf ~` },
        });
        expect(trap.isError).toBe(true);
        expect(text(trap)).toMatch(/denied/);
        expect(existsSync(m)).toBe(false);
        const path = await call('ssh_exec', { target: 'box', command: 'ls', env: { PATH: '/tmp/evil' } });
        expect(text(path)).toMatch(/approval_required|denied/);
      });

      it('13.5: file_read scrubs before it cuts: a secret straddling max_bytes never shows, at any alignment', async () => {
        const file = join(scratch, 'notes.txt');
        for (let pad = 20; pad <= 20 + STRONG.length + 2; pad++) {
          writeFileSync(file, `${'x'.repeat(pad)}${STRONG}\nmore\n`);
          chmodSync(file, 0o644);
          const r = await call('file_read', { target: 'box', path: file, max_bytes: 40 });
          expect(r.isError, text(r)).toBeFalsy();
          const content = (r.structuredContent as { content: string }).content;
          for (const p of secretPrefixes(STRONG)) expect(content, `pad ${pad}`).not.toContain(p);
        }
      });

      it('13.6: scrubbing is no oracle: a guessed PIN of an ungranted vault comes back exactly like any other guess', async () => {
        const guesses = ['731903', '731904', '731905'];
        const r = await call('api_request', { target: 'echo', method: 'POST', path: '/echo', body: guesses.join(',') });
        const body = (r.structuredContent as { body: { body: string } }).body.body;
        expect(body).toBe(guesses.join(','));
      });

      it('13.6: a guessable value Gatehouse fills is hidden, and so is every same-shaped string the agent sent with it', async () => {
        const r = await call('api_request', {
          target: 'echo',
          method: 'POST',
          path: '/pay',
          headers: { 'x-pin': '{{vault:ops/card.pin}}' },
          body: 'try 482913 or 111111',
        });
        const out = JSON.stringify(r.structuredContent);
        expect(out).not.toContain(PIN);
        expect(out).not.toContain('111111');
        expect(out).toContain('[REDACTED]');
      });

      it('13.6/13.10: a strong stored secret is scrubbed in every encoding, even when it was never filled', async () => {
        const encoded = [
          STRONG,
          [...STRONG].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
          [...STRONG].map((c) => `&#${c.charCodeAt(0)};`).join(''),
          [...Buffer.from(STRONG)].map((b) => `%${b.toString(16)}`).join(''),
          Buffer.from(`user:${STRONG}`)
            .toString('base64')
            .replace(/(.{8})/g, '$1\n'),
        ];
        for (const e of encoded) {
          const r = await call('api_request', { target: 'echo', method: 'POST', path: '/echo', body: e });
          const out = JSON.stringify(r);
          expect(out, e.slice(0, 30)).not.toContain(STRONG);
          expect(out, e.slice(0, 30)).toContain('REDACTED');
        }
      });
    });

    describe('issue 21', () => {
      async function session(): Promise<{ send(input: string): Promise<Result>; close(): Promise<void> }> {
        const { client, close: done } = await httpClient(url, agent, 'modern');
        const opened = (await client.callTool({
          name: 'ssh_session_open',
          arguments: { target: 'box', reason: 'review replay' },
        })) as Result;
        expect(opened.isError, text(opened)).toBeFalsy();
        const id = (opened.structuredContent as { id: string }).id;
        return {
          send: async (input) =>
            (await client.callTool({ name: 'ssh_session_send', arguments: { id, input, timeout_s: 5 } })) as Result,
          close: async () => {
            await client.callTool({ name: 'ssh_session_close', arguments: { id } });
            await done();
          },
        };
      }

      it('21.1: a send that changes how later input runs is not allowed (alias, prompt hooks, bind, complete)', async () => {
        const s = await session();
        try {
          for (const line of [
            `alias ls='touch ${marker('alias')}'`,
            `PS1='$(touch ${marker('ps1')})'`,
            `PROMPT_COMMAND='touch ${marker('pc')}'`,
            `bind '"zz": "touch ${marker('bind')}"'`,
            `complete -C 'touch ${marker('comp')}' ls`,
          ]) {
            const r = await s.send(line);
            expect(r.isError, line).toBe(true);
            expect(text(r), line).toMatch(/approval_required|denied/);
          }
          await s.send('ls /');
          for (const m of ['alias', 'ps1', 'pc', 'bind', 'comp']) expect(existsSync(marker(m)), m).toBe(false);
        } finally {
          await s.close();
        }
      });

      it('21.2: history expansion cannot re-run a command (it is off, and history builtins need approval)', async () => {
        const s = await session();
        try {
          expect(text(await s.send(`history -s 'touch ${marker('hist')}'`))).toMatch(/approval_required|denied/);
          const bang = await s.send('!!');
          expect(bang.isError).toBe(true);
          await s.send(`echo touch ${marker('caret')}`);
          await s.send('^echo ^');
          expect(existsSync(marker('hist'))).toBe(false);
          expect(existsSync(marker('caret'))).toBe(false);
        } finally {
          await s.close();
        }
      });

      it('issue 14: ssh_session_send judges in the session context: a program nothing vouches for needs a person', async () => {
        const s = await session();
        try {
          const r = await s.send(`frobnicate --all; touch ${marker('session-unknown')}`);
          expect(r.isError).toBe(true);
          expect(text(r)).toMatch(/approval_required.*unknown_command in the session context is approve/s);
          expect(existsSync(marker('session-unknown'))).toBe(false);
        } finally {
          await s.close();
        }
      });

      it('21.3: a line typed into another program (python3) is input to it and needs a person, not a bash judgment', async () => {
        const s = await session();
        try {
          const started = await s.send('python3 -q');
          expect(started.isError, text(started)).toBeFalsy();
          const r = await s.send(`__import__('os').system('touch ${marker('py-session')}')`);
          expect(r.isError).toBe(true);
          expect(text(r)).toMatch(/approval_required.*python3/s);
          expect(existsSync(marker('py-session'))).toBe(false);
        } finally {
          await s.close();
        }
      });
    });
  },
);
