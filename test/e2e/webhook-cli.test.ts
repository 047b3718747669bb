/**
 * `gatehouse webhook` through the built CLI: an endpoint's URL key and a generated secret are
 * printed once, at creation, and never again (list, show, their JSON, the audit log); secrets must
 * be vault references; an unsigned endpoint needs an allowlist and is announced loudly; rotation
 * keeps the old secret until it retires; every change is an audit record. `webhook test` sends a
 * signed sample to a running `gatehouse serve` and the event shows up in `webhook events`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, auditAfter, auditSeq, cli, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';

const PROVIDER_SECRET = 'whsec_c3RyaXBlLWNhbmFyeS1zZWNyZXQtdmFsdWU=';

const URL_RE = /\/webhooks\/in\/([A-Za-z0-9_-]+)/;

interface ShowJson {
  name: string;
  config: {
    provider: string;
    secrets: { ref: string; addedAt: string; retireAt?: string }[];
    events: string[];
    allowFrom: string[];
    instructions?: { version: number; text: string };
  };
  stats: { ready: number; leased: number; dead: number };
}

describe('gatehouse webhook (operators)', () => {
  const home = tempHome();
  const run = (args: string[], input?: string) => cli(['webhook', ...args], home.env, input);
  const show = (name: string) => {
    const r = run(['show', name, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ShowJson;
  };
  let secret = '';
  let urlKey = '';

  beforeAll(() => {
    assertBuilt();
    expect(cli(['vault', 'create', 'ops'], home.env).code).toBe(0);
    expect(cli(['vault', 'set', 'ops/stripe.signing'], home.env, PROVIDER_SECRET).code).toBe(0);
  });
  afterAll(() => home.cleanup());

  it('adds a github endpoint with a generated secret: URL and secret printed once, and audited', () => {
    const seq = auditSeq(home.env);
    const r = run([
      'add',
      'gh-main',
      '--provider',
      'github',
      '--generate-secret',
      '--events',
      'push,ping',
      '--public-url',
      'https://hooks.example.com/',
      '--description',
      'main repository',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const m = URL_RE.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    urlKey = m![1]!;
    expect(urlKey).toHaveLength(22);
    expect(r.stdout).toContain(`https://hooks.example.com/webhooks/in/${urlKey}`);
    expect(r.stdout).toMatch(/shown once/);
    expect(r.stdout).toContain('rotate-url gh-main');
    expect(r.stdout).toContain('application/json');
    const secrets = r.stdout.match(/\b[0-9a-f]{64}\b/g) ?? [];
    expect(secrets, 'the generated secret, printed exactly once').toHaveLength(1);
    secret = secrets[0]!;
    expect(r.stdout).toMatch(/vault:webhooks\/gh-main\.secret-\d{14}/);
    expect(r.stdout.split(urlKey)).toHaveLength(2);

    const records = auditAfter(home.env, seq).filter((a) => a.tool === 'webhook_admin');
    expect(records.map((a) => a.outcome)).toEqual(['add']);
    expect(JSON.stringify(records)).not.toContain(secret);
    expect(JSON.stringify(records)).not.toContain(urlKey);
  });

  it('never shows the secret value or the URL key again (list, show, JSON, audit)', () => {
    const outputs = [
      run(['list']),
      run(['list', '--json']),
      run(['show', 'gh-main']),
      run(['show', 'gh-main', '--json']),
      run(['events', 'gh-main']),
      cli(['audit', 'tail', '-n', '100', '--json'], home.env),
    ];
    for (const o of outputs) {
      expect(o.code, o.stderr).toBe(0);
      expect(o.stdout + o.stderr).not.toContain(secret);
      expect(o.stdout + o.stderr).not.toContain(urlKey);
    }
    expect(outputs[0]!.stdout).toMatch(/gh-main\s+github\s+0\s+0\s+0/);
    expect(outputs[2]!.stdout).toMatch(/vault:webhooks\/gh-main\.secret-\d{14}/);
    expect(outputs[2]!.stdout).toContain('push, ping');
    const s = show('gh-main');
    expect(s.config.provider).toBe('github');
    expect(s.config.secrets).toHaveLength(1);
    expect(s.config.events).toEqual(['push', 'ping']);
  });

  it('refuses an unsigned endpoint without --allow-from, and warns loudly about one with it', () => {
    const bad = run(['add', 'plain', '--provider', 'unsigned']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error \[invalid_input\].*--allow-from/);
    expect(bad.stderr).toMatch(/hint: /);
    expect(run(['list']).stdout).not.toContain('plain');

    const ok = run(['add', 'plain', '--provider', 'unsigned', '--allow-from', '127.0.0.1,192.0.2.0/24']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/WARNING: .*UNSIGNED.*NOT VERIFIED/);
    expect(show('plain').config.allowFrom).toEqual(['127.0.0.1', '192.0.2.0/24']);
    expect(run(['add', 'plain2', '--provider', 'unsigned', '--allow-from', '1.2.3.4', '--generate-secret']).code).toBe(
      2,
    );
  });

  it('takes a secret only as a vault reference to a field that exists', () => {
    const plain = run(['add', 'st', '--provider', 'stripe', '--secret', PROVIDER_SECRET]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('must be a vault reference');
    expect(plain.stderr).not.toContain(PROVIDER_SECRET);
    const missing = run(['add', 'st', '--provider', 'stripe', '--secret', 'vault:ops/stripe.nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not_found.*no such vault field/);
    expect(run(['list']).stdout).not.toMatch(/^st\s/m);

    const ok = run(['add', 'st', '--provider', 'stripe', '--secret', 'vault:ops/stripe.signing']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain(PROVIDER_SECRET);
    expect(show('st').config.secrets.map((s) => s.ref)).toEqual(['vault:ops/stripe.signing']);
  });

  it('refuses bad input with usage errors before anything is stored', () => {
    expect(run(['frobnicate']).code).toBe(2);
    expect(run(['add', 'x', '--provider', 'nope', '--generate-secret']).code).toBe(2);
    expect(run(['add', 'x', '--provider', 'custom', '--generate-secret']).stderr).toContain('--custom-scheme');
    expect(run(['add', 'x', '--provider', 'github', '--generate-secret', '--retention', 'soon']).code).toBe(2);
    expect(run(['add', 'Bad Name', '--provider', 'github', '--generate-secret']).code).toBe(1);
    expect(run(['list', '--yes']).code).toBe(2);
    expect(run(['add', 'gh-main', '--provider', 'github', '--generate-secret']).stderr).toContain('already exists');
    const listed = run(['list']).stdout;
    expect(listed).not.toMatch(/^x\s/m);
  });

  it('rotates a secret: the old one gets a retirement time, the new one is added', () => {
    const seq = auditSeq(home.env);
    const before = show('gh-main').config.secrets;
    const r = run(['rotate-secret', 'gh-main', '--generate-secret', '--retire-after', '2h']);
    expect(r.code, r.stderr).toBe(0);
    const fresh = r.stdout.match(/\b[0-9a-f]{64}\b/g) ?? [];
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).not.toBe(secret);
    expect(r.stdout).toMatch(/keeps working until \S+ \(in 2h\)/);
    const after = show('gh-main').config.secrets;
    expect(after).toHaveLength(2);
    expect(after[0]!.ref).toBe(before[0]!.ref);
    const retire = Date.parse(after[0]!.retireAt!);
    expect(retire).toBeGreaterThan(Date.now() + 3_600_000);
    expect(retire).toBeLessThan(Date.now() + 3 * 3_600_000);
    expect(after[1]!.retireAt).toBeUndefined();
    expect(after[1]!.ref).not.toBe(after[0]!.ref);
    const showText = run(['show', 'gh-main']).stdout;
    expect(showText).not.toContain(fresh[0]);
    expect(showText).toMatch(/retiring at/);
    expect(run(['rotate-secret', 'gh-main']).code, 'needs a secret').toBe(2);
    expect(
      auditAfter(home.env, seq)
        .filter((a) => a.tool === 'webhook_admin')
        .map((a) => a.outcome),
    ).toEqual(['rotate-secret']);
  });

  it('updates settings and instructions (each file a new version), and clears lists', () => {
    const seq = auditSeq(home.env);
    const file = join(home.dir, 'instructions.txt');
    writeFileSync(file, 'Only act on pushes to main.\n');
    const r = run(['update', 'gh-main', '--events', 'push', '--instructions-file', file, '--tolerance', '10m']);
    expect(r.code, r.stderr).toBe(0);
    let s = show('gh-main');
    expect(s.config.events).toEqual(['push']);
    expect(s.config.instructions).toMatchObject({ version: 1, text: 'Only act on pushes to main.\n' });
    expect(run(['update', 'gh-main', '--instructions-file', file, '--clear-events']).code).toBe(0);
    s = show('gh-main');
    expect(s.config.events).toEqual([]);
    expect(s.config.instructions!.version).toBe(2);
    expect(run(['update', 'gh-main']).code, 'nothing to change').toBe(2);
    expect(run(['update', 'gh-main', '--events', 'a', '--clear-events']).code).toBe(2);
    const sec = run(['update', 'gh-main', '--secret', 'vault:ops/stripe.signing']);
    expect(sec.code).toBe(2);
    expect(sec.stderr).toContain('rotate-secret');
    expect(run(['update', 'gh-main', '--legacy-sha1']).code).toBe(0);
    expect(run(['update', 'st', '--legacy-sha1']).code, 'github only').toBe(1);
    expect(
      auditAfter(home.env, seq)
        .filter((a) => a.tool === 'webhook_admin')
        .map((a) => a.outcome),
    ).toEqual(['update', 'update', 'update']);
  });

  it('issues a new URL once and says the old one stopped', () => {
    const r = run(['rotate-url', 'gh-main', '--public-url', 'https://hooks.example.com']);
    expect(r.code, r.stderr).toBe(0);
    const key = URL_RE.exec(r.stdout)![1]!;
    expect(key).toHaveLength(22);
    expect(key).not.toBe(urlKey);
    expect(r.stdout).toMatch(/old URL stopped/);
    expect(run(['show', 'gh-main', '--json']).stdout).not.toContain(key);
  });

  it('removes an endpoint only when confirmed (--yes off a terminal), and audits it', () => {
    const seq = auditSeq(home.env);
    const no = run(['rm', 'plain']);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('--yes');
    expect(run(['list']).stdout).toContain('plain');
    const r = run(['rm', 'plain', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removed webhook endpoint plain and its 0 events/);
    expect(run(['list']).stdout).not.toContain('plain');
    expect(run(['show', 'plain']).code).toBe(1);
    expect(run(['rm', 'plain', '--yes']).stderr).toContain('not_found');
    expect(
      auditAfter(home.env, seq)
        .filter((a) => a.tool === 'webhook_admin')
        .map((a) => a.outcome),
    ).toEqual(['rm']);
  });

  it('says to start the server when `webhook test` cannot connect', () => {
    const r = run(['test', 'gh-main', '--server', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gatehouse serve');
    expect(r.stdout + r.stderr).not.toContain(urlKey);
  });

  it('sends a signed sample to a running server; the event is queued, shown and not replayable while pending', async () => {
    const add = run(['add', 'gh-test', '--provider', 'github', '--generate-secret']);
    expect(add.code, add.stderr).toBe(0);
    const key = URL_RE.exec(add.stdout)![1]!;
    const server = await startServe(home.env);
    try {
      const r = run(['test', 'gh-test', '--server', server.url]);
      expect(r.code, `${r.stdout}\n${r.stderr}\n${server.output()}`).toBe(0);
      expect(r.stdout).toMatch(/^2\d\d /m);
      expect(r.stdout).not.toContain(key);

      const ev = run(['events', 'gh-test', '--json']);
      expect(ev.code, ev.stderr).toBe(0);
      const events = JSON.parse(ev.stdout) as { id: string; state: string; type: string }[];
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ state: 'pending', type: 'ping' });
      expect(run(['events', 'gh-test']).stdout).toMatch(/whe_\S+\s+1\s+pending\s+ping\s+0\/8/);
      expect(run(['list']).stdout).toMatch(/gh-test\s+github\s+1\s+0\s+0/);

      const one = run(['event', events[0]!.id, '--body']);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stdout).toContain('Keep it logically awesome.');
      expect(one.stdout).toContain('x-github-event');

      const replay = run(['replay', events[0]!.id]);
      expect(replay.code).toBe(1);
      expect(replay.stderr).toContain('conflict');
    } finally {
      await server.stop();
    }
  });
});
