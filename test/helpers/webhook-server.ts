/**
 * An in-process `gatehouse serve` with the webhook routes, one GitHub endpoint `gh` whose secret
 * is in the vault, an agent token granted it and an outsider token that is not, and a sender that
 * signs the way GitHub does (HMAC-SHA256 of the raw body in X-Hub-Signature-256).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { bootRuntime, startHttpServer, webhookRoutes } from '../../src/server/index.js';
import { tempHome } from './home.js';

export interface WebhookServer {
  rt: Awaited<ReturnType<typeof bootRuntime>>;
  home: ReturnType<typeof tempHome>;
  url: string;
  /** The endpoint's ingest URL. */
  ingest: string;
  agent: string;
  outsider: string;
  /** Posts `body` signed as GitHub signs, with a fresh delivery id; `headers` add or override. */
  github(body: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function webhookServer(opts: {
  secret: string;
  env?: NodeJS.ProcessEnv;
  extraGrants?: string[];
  setup?: (rt: WebhookServer['rt']) => Promise<void>;
  endpoint?: Record<string, unknown>;
}): Promise<WebhookServer> {
  const home = tempHome();
  Object.assign(home.env, opts.env ?? {});
  const rt = await bootRuntime({ env: home.env });
  try {
    await rt.vault.createVault('hooks');
    await rt.vault.setField('hooks/gh.secret', opts.secret);
    await opts.setup?.(rt);
    const { urlKey } = await rt.webhookEndpoints.add('gh', {
      provider: 'github',
      secrets: [{ ref: 'vault:hooks/gh.secret', addedAt: new Date().toISOString() }],
      ...opts.endpoint,
    });
    const grants = ['tool:webhook_poll', 'tool:webhook_ack', ...(opts.extraGrants ?? [])];
    const agent = (await rt.tokens.create({ name: 'agent', grants: [...grants, 'webhook:gh'] })).token;
    const outsider = (await rt.tokens.create({ name: 'outsider', grants })).token;
    const http = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: webhookRoutes(rt) });
    const ingest = `${http.url}/webhooks/in/${urlKey}`;
    return {
      rt,
      home,
      url: http.url,
      ingest,
      agent,
      outsider,
      github: (body, headers = {}) =>
        fetch(ingest, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'issues',
            'x-github-delivery': randomUUID(),
            'x-hub-signature-256': `sha256=${createHmac('sha256', opts.secret).update(body).digest('hex')}`,
            ...headers,
          },
          body,
        }),
      close: async () => {
        await http.close();
        await rt.close();
        home.cleanup();
      },
    };
  } catch (e) {
    await rt.close();
    home.cleanup();
    throw e;
  }
}
