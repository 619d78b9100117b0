import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserServer } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), or the one `TESSERA_TEST_CHROMIUM` names.
 * A missing browser fails the browser suites loudly: a page suite that skips itself proves nothing.
 */
export const CHROMIUM = process.env.TESSERA_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where a test process asks for the run's Chromium (global-setup.ts sets it; browser.ts reads it). */
export const CHROMIUM_BROKER_ENV = 'TESSERA_TEST_CHROMIUM_BROKER';

/**
 * Headless, and quiet on a closed network: without these flags Chromium keeps trying to reach Google's services
 * (sync, component updates, QUIC probes).
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface ChromiumBroker {
  /** The broker's address: `GET` answers the run's Chromium's WebSocket endpoint, launching it on the first call. */
  readonly url: string;
  /** Stops the broker and closes the Chromium it launched, if it launched one. */
  close(): Promise<void>;
}

/**
 * One Chromium for a whole test run instead of one per suite and engine (launching one cost about a second of CPU
 * and several seconds of a loaded machine's wall time, ten times per run). The run's global setup owns it: it starts
 * this broker, launches Chromium only when a browser suite first asks (a run of other suites never starts one, and
 * does not need Chromium installed), and closes it in its teardown, which vitest runs when suites fail too. Each suite
 * connects to it and works in its own browser context (cookies, storage and pages of its own), closed with the suite;
 * a test process that dies drops its connection, and Chromium closes that connection's contexts itself. Nothing but
 * the Chromium this broker launched is ever closed here.
 */
export async function startChromiumBroker(): Promise<ChromiumBroker> {
  let launched: Promise<BrowserServer> | undefined;
  const launch = async (): Promise<BrowserServer> => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: install it (apt-get install -y chromium) or set TESSERA_TEST_CHROMIUM. The browser suites never skip.`);
    }
    const { chromium } = await import('playwright-core');
    // Signals are vitest's to handle (its teardown closes this): playwright's own handlers would only close the
    // browser and, for SIGHUP, keep vitest from ending. Playwright still kills the browser if the process exits.
    return chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
  };
  const server = http.createServer((_request, response) => {
    launched ??= launch();
    launched.then(
      (browser) => response.writeHead(200, { 'content-type': 'text/plain' }).end(browser.wsEndpoint()),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      const browser = await launched?.catch(() => undefined);
      await browser?.close();
    },
  };
}
