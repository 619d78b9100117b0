import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Download, type Page } from 'playwright-core';
import { build } from 'vite';
import { CHROMIUM_BROKER_ENV } from './chromium-server.js';
import { runSharedOnce } from './run-dir.js';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * Browser tests drive Debian's Chromium (chromium-server.ts: `CHROMIUM`) with playwright-core: one Chromium per test
 * run, launched and closed by the run's global setup, each suite in a browser context of its own.
 */
export { CHROMIUM } from './chromium-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots of every page, kept as a CI artifact (gitignored). */
export const RESULTS_DIR = path.join(ROOT, 'test-results');

/**
 * The console built (the same `vite build` as `npm run build`) once per test run and shared by every browser suite
 * and engine (run-dir.ts: `runSharedOnce`): the first caller builds it while the others wait, and the run removes it
 * at its end (global-setup.ts, which also discards it before a watch-mode re-run, so a changed console is built
 * again). Returns its directory.
 */
export function sharedConsoleBuild(timeoutMs = 180_000): Promise<string> {
  return runSharedOnce(
    'console',
    (outDir) => build({ configFile: path.join(ROOT, 'console/vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } }).then(() => undefined),
    timeoutMs,
  );
}

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A fresh page with no cookies: every test signs in from scratch. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * A browser of its own for the suite that calls it: a new context (its own cookies, storage and pages, as a fresh
 * profile had) in the run's Chromium (chromium-server.ts), which the run's global setup launches on the first call and
 * closes at the end of the run. `close()` closes the context and this process's connection, never Chromium itself.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const broker = process.env[CHROMIUM_BROKER_ENV];
  if (!broker) throw new Error(`${CHROMIUM_BROKER_ENV} is not set: test/support/global-setup.ts starts the run's Chromium (run the tests with vitest)`);
  const answer = await fetch(broker);
  const body = await answer.text();
  if (!answer.ok) throw new Error(`the run's Chromium did not start: ${body}`);
  const browser = await chromium.connect(body);
  let context: BrowserContext;
  try {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  } catch (error) {
    await browser.close();
    throw error;
  }
  return {
    context,
    async newPage() {
      await context.clearCookies();
      for (const page of context.pages()) await page.close();
      return context.newPage();
    },
    async close() {
      await context.close();
      await browser.close();
    },
  };
}

/**
 * A download's content. Through a connection to the run's Chromium the file is not on a path of this process
 * (`download.path()` refuses); its stream is.
 */
export async function downloadText(download: Download): Promise<string> {
  return text(await download.createReadStream());
}

/** Errors the page reported: a CSP violation or an uncaught exception fails the test that caused it. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return problems;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's WCAG 2.1 A/AA scan of the page as it is now. Evaluated through the DevTools protocol, so the page's
 * CSP (no inline script) needs no exception for it. Returns the serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate<AxeViolation[]>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`);
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page screenshot as test-results/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS_DIR, `${name}.png`), fullPage: true });
}

/**
 * Waits (up to 5 s) until no finite CSS transition or animation is running: Mantine's modals and notifications fade
 * in and out; spinners, which run forever, are left to run.
 */
async function settled(page: Page): Promise<void> {
  await page
    .waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity), undefined, { timeout: 5_000, polling: 100 })
    .catch(() => undefined);
}

/**
 * A page as a suite reaches it, checked the same way everywhere: loaded, Mantine's transitions settled (modals fade
 * in over 200 ms) so the screenshot and the contrast check see the page as it stays, saved as `test-results/<file>`,
 * no serious or critical axe-core violation (WCAG 2.1 AA), and no CSP or script error seen by `watchPage`.
 */
export async function expectCleanPage(page: Page, problems: readonly string[], file: string, label: string): Promise<void> {
  await page.waitForLoadState('load');
  await page.waitForTimeout(400);
  await settled(page);
  await screenshot(page, file);
  let violations = await seriousViolations(page);
  if (violations.length > 0) {
    // A transition that ran during the scan (a notification fading in, or out when it closes itself) is measured
    // half-transparent: scanned again once it has ended. A real violation is there both times.
    await settled(page);
    violations = await seriousViolations(page);
  }
  expect(violations.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`), label).toEqual([]);
  expect(problems, label).toEqual([]);
}

/** One suite's Chromium and its current page, as every console suite uses them (see `browserPages`). */
export interface SuitePages {
  readonly browser: TestBrowser;
  /** The page `freshPage` opened last. */
  readonly page: Page;
  /** A fresh page with no cookies, a default timeout (10 s unless `timeoutMs`) and its CSP and script errors watched. */
  freshPage(): Promise<Page>;
  /** `expectCleanPage` of the current page (or `other`), saved as `test-results/<prefix>-<name>.png`. */
  checkPage(name: string, other?: Page): Promise<void>;
  /**
   * Closes Chromium now (idempotent). A suite calls it first in its own `afterAll`, before it stops its server:
   * vitest runs `afterAll` hooks last-registered first, so this helper's own hook would run after the server's close,
   * which then waits for the browser's open connections.
   */
  close(): Promise<void>;
}

/**
 * Launches Chromium for the suite that calls it (in its own `beforeAll`, closed in `afterAll`), and gives it the
 * fresh page and the page check every console suite repeated. Call it inside the `describe` block.
 */
export function browserPages(prefix: string, options: { timeoutMs?: number } = {}): SuitePages {
  let browser: TestBrowser | undefined;
  let page: Page | undefined;
  let problems: string[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  const close = async () => {
    const open = browser;
    browser = undefined;
    await open?.close();
  };
  afterAll(close);
  return {
    close,
    get browser() {
      if (!browser) throw new Error('Chromium is not launched yet: use the browser inside a test or a later beforeAll');
      return browser;
    },
    get page() {
      if (!page) throw new Error('no page yet: call freshPage() first');
      return page;
    },
    async freshPage() {
      if (!browser) throw new Error('Chromium is not launched yet');
      page = await browser.newPage();
      // A step that does not happen fails with the locator it waited for, well before the test's own timeout.
      page.setDefaultTimeout(options.timeoutMs ?? 10_000);
      problems = watchPage(page);
      if (process.env.DEBUG_PAGES) page.on('request', (r) => console.log('REQ', r.method(), r.url()));
      return page;
    },
    checkPage(name, other) {
      if (!page && !other) throw new Error('no page yet: call freshPage() first');
      return expectCleanPage(other ?? page!, problems, `${prefix}-${name}`, name);
    },
  };
}
