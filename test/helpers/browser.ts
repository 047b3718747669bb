/**
 * A real browser for the console tests: Debian's `chromium` driven by playwright-core, which takes
 * an `executablePath` and downloads nothing (`playwright install` cannot reach its host from
 * here). `.ci/run` installs the package; on a laptop set GATEHOUSE_CHROMIUM to any Chromium.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export function chromiumPath(): string | undefined {
  const given = process.env.GATEHOUSE_CHROMIUM;
  if (given) return existsSync(given) ? given : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

export function chromiumMissing(): string | null {
  return chromiumPath() ? null : 'Chromium is not installed (apt-get install chromium, or set GATEHOUSE_CHROMIUM)';
}

/**
 * Launches headless Chromium. `hostMap` resolves extra names to loopback inside the browser only
 * (a stand-in for a DNS rebinding attacker's name), without touching the machine's resolver.
 */
export async function launchChromium(o: { hostMap?: readonly string[] } = {}): Promise<Browser> {
  const args = [
    // Root in a container has no user namespace sandbox for Chromium; the pages are our own.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--disable-dev-shm-usage',
    '--disable-gpu',
    ...(o.hostMap && o.hostMap.length > 0
      ? [`--host-resolver-rules=${o.hostMap.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`]
      : []),
  ];
  return chromium.launch({ executablePath: chromiumPath()!, args, headless: true });
}

/** What a page reported as Content-Security-Policy violations (init script plus console lines). */
export interface CspWatch {
  violations(): Promise<string[]>;
}

/**
 * Watches a page for CSP violations two ways: the `securitypolicyviolation` DOM event (recorded by
 * an init script, which the browser runs outside the page's CSP) and the console errors Chromium
 * logs for every blocked resource.
 */
export async function watchCsp(context: BrowserContext, page: Page): Promise<CspWatch> {
  const logged: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) logged.push(m.text());
  });
  await context.addInitScript({
    content: `window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  return {
    violations: async () => {
      const seen = await page.evaluate<string[]>('window.__csp || []').catch(() => [] as string[]);
      return [...seen, ...logged];
    },
  };
}

/** Chromium's virtual authenticator on `page` (a passkey that answers with user verification, no real key). */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}
