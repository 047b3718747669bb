import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { GatehouseError } from '../../src/core/index.js';
import { main } from '../../src/cli/main.js';
import { planTargetCommand } from '../../src/cli/commands/target.js';
import {
  checkSshHost,
  validateHttpConfig,
  validateSshConfig,
  type HttpTargetConfig,
  type SshTargetConfig,
} from '../../src/targets/index.js';
import { tempHome } from '../helpers/home.js';

/*
 * Issue 13.12: `target add` with an IPv6 zone id printed a raw TypeError. Every input to the
 * target validators and to `target add/update` either validates or throws a GatehouseError.
 */
const SEED = Number(process.env.GUARD_PROP_SEED ?? 4242);
const ZONE_URLS = [
  'http://[fe80::1%25eth0]:8080/',
  'https://[fe80::1%eth0]/',
  'http://[fe80::1%25]/',
  'http://[::1%251]/v1',
];
const ZONE_HOSTS = ['fe80::1%eth0', '[fe80::1%25eth0]', 'fe80::1%25eth0', '[fe80::1%eth0]', '%'];

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  return main(args, { stdout, stderr, stdin: Readable.from([]), env }).then((code) => ({ code, out, err }));
}

const isTyped = (e: unknown) => e instanceof GatehouseError && (e.code === 'invalid_input' || e.code === 'usage');

describe('target add with an IPv6 zone id (issue 13.12)', () => {
  let home: ReturnType<typeof tempHome>;
  beforeEach(() => {
    home = tempHome();
  });
  afterEach(() => home.cleanup());

  it('--base-url http://[fe80::1%25eth0]:8080/ is a typed invalid_input naming the zone id, not a raw TypeError', async () => {
    for (const url of ZONE_URLS) {
      const r = await run(
        ['target', 'add', 'http', 'api', '--base-url', url, '--auth', 'bearer', '--secret', 'vault:ops/api.token'],
        home.env,
      );
      expect(r.code, url).toBe(1);
      expect(r.err).toMatch(/^error \[invalid_input\]: base URL .* has an IPv6 zone id\nhint: .*link-local/);
      expect(r.err).not.toMatch(/TypeError|\n\s+at /);
    }
  });

  it('--host fe80::1%eth0 is a typed invalid_input naming the zone id', async () => {
    for (const host of ZONE_HOSTS) {
      const r = await run(
        ['target', 'add', 'ssh', 'db', '--host', host, '--user', 'deploy', '--key', 'vault:ops/ssh.key'],
        home.env,
      );
      expect(r.code, host).toBe(1);
      expect(r.err).toMatch(/^error \[invalid_input\]: invalid --host .*IPv6 zone id/);
    }
  });

  it('update checks the same flags before anything is opened', async () => {
    await expect(planTargetCommand(['update', 'api', '--base-url', ZONE_URLS[0]])).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(planTargetCommand(['update', 'db', '--host', ZONE_HOSTS[0]])).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(planTargetCommand(['update', 'db', '--port', '0x16'])).rejects.toMatchObject({ code: 'usage' });
  });

  it('hosts: names and addresses pass (IPv6 stored without brackets); malformed ones are refused', () => {
    expect(checkSshHost('db1.example.com')).toBe('db1.example.com');
    expect(checkSshHost('10.0.0.5')).toBe('10.0.0.5');
    expect(checkSshHost('[2001:DB8::5]')).toBe('2001:db8::5');
    expect(checkSshHost('::1')).toBe('::1');
    for (const bad of [
      '[::1',
      '::1]',
      ':::::',
      '-db',
      'db-.example',
      'a..b',
      'db_1',
      'db 1',
      '',
      'x'.repeat(254),
      'ex\u0430mple.com',
    ]) {
      expect(() => checkSshHost(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});

describe('every input to the target validators validates or throws a GatehouseError (fuzzed, fixed seed)', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.constantFrom(
      ...ZONE_URLS,
      ...ZONE_HOSTS,
      'http://',
      'https://[',
      'http://[::1]/',
      'http://a@b/',
      'vault:',
      'vault:a/b.c',
      'SHA256:',
      '\ud800',
      '%',
      '[]',
      'http://%/',
    ),
  );
  const anyValue = fc.oneof(
    text,
    fc.constant(null),
    fc.constant(undefined),
    fc.integer(),
    fc.boolean(),
    fc.object({ maxDepth: 1 }),
    fc.array(fc.string(), { maxLength: 2 }),
  );
  const auth = fc.oneof(
    fc.constantFrom(
      { kind: 'bearer' },
      { kind: 'basic' },
      { kind: 'none' },
      { kind: 'header', name: 'X-Api-Key' },
      { kind: 'query', name: 'key' },
    ),
    fc.record({ kind: anyValue, name: anyValue }),
    anyValue,
  );

  it('validateHttpConfig', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('api'), text),
        fc.record({
          baseUrl: fc.oneof(text, anyValue),
          auth,
          secret: fc.oneof(fc.constant('vault:ops/api.token'), fc.constant(null), anyValue),
          allowPrivate: fc.oneof(fc.boolean(), anyValue),
          followRedirects: fc.oneof(fc.boolean(), anyValue),
        }),
        async (name, config) => {
          try {
            await validateHttpConfig(name, config as unknown as HttpTargetConfig);
          } catch (e) {
            expect(isTyped(e), `${(e as Error)?.name}: ${(e as Error)?.message}`).toBe(true);
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('validateSshConfig', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          host: fc.oneof(text, anyValue),
          port: fc.oneof(fc.integer({ min: -1, max: 70000 }), anyValue),
          user: fc.oneof(fc.constant('deploy'), text, anyValue),
          key: fc.oneof(fc.constant('vault:ops/ssh.key'), text, anyValue),
          passphrase: fc.oneof(fc.constant(null), text, anyValue),
          hostKey: fc.oneof(fc.constant(null), fc.constant('SHA256:' + 'A'.repeat(43)), text, anyValue),
        }),
        async (config) => {
          try {
            await validateSshConfig(config as unknown as SshTargetConfig);
          } catch (e) {
            expect(isTyped(e), `${(e as Error)?.name}: ${(e as Error)?.message}`).toBe(true);
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('target add/update argument lists', async () => {
    const flag = fc.constantFrom(
      '--base-url',
      '--auth',
      '--secret',
      '--host',
      '--port',
      '--user',
      '--key',
      '--passphrase',
      '--host-key',
      '--description',
      '--allow-private',
      '--no-follow-redirects',
      '--bogus',
      '--',
    );
    const word = fc.oneof(
      flag,
      text,
      fc.constantFrom('http', 'ssh', 'api', 'bearer', 'header:X-Key', 'query:', 'header:', 'vault:ops/a.b'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('add', 'update'), fc.array(word, { maxLength: 12 }), async (sub, rest) => {
        try {
          await planTargetCommand([sub, ...rest]);
        } catch (e) {
          expect(isTyped(e), `${(e as Error)?.name}: ${(e as Error)?.message}`).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});
