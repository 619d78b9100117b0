import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { runShared } from './run-dir.js';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * Browser tests drive Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) with playwright-core.
 * A missing browser fails the suite loudly: a page suite that skips itself proves nothing.
 */
export const CHROMIUM = process.env.TESSERA_TEST_CHROMIUM ?? '/usr/bin/chromium';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots of every page, kept as a CI artifact (gitignored). */
export const RESULTS_DIR = path.join(ROOT, 'test-results');

/**
 * The console built (the same `vite build` as `npm run build`) once per test run and shared by every browser suite
 * and engine: the first caller builds it while the others wait, and the run removes it at its end (global-setup.ts,
 * which also discards it before a watch-mode re-run, so a changed console is built again). Returns its directory.
 *
 * Processes agree through the file system: `mkdir` of the lock directory is atomic, so exactly one builds; the build
 * goes to a private directory renamed into place when complete, so a waiter never sees half a build.
 */
export async function sharedConsoleBuild(timeoutMs = 180_000): Promise<string> {
  const dir = runShared('console');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path.join(dir, 'index.html'))) return dir;
    let builder = false;
    try {
      mkdirSync(lock);
      builder = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (builder) {
      const partial = mkdtempSync(`${dir}.partial-`);
      try {
        // Another process may have finished between the check above and taking the lock.
        if (existsSync(path.join(dir, 'index.html'))) return dir;
        await build({ configFile: path.join(ROOT, 'console/vite.config.ts'), logLevel: 'warn', build: { outDir: partial, emptyOutDir: true } });
        renameSync(partial, dir);
        return dir;
      } finally {
        rmSync(partial, { recursive: true, force: true });
        rmSync(lock, { recursive: true, force: true });
      }
    }
    // A builder that fails releases the lock: the next pass of this loop builds (and reports its error) here.
    if (Date.now() > deadline) throw new Error(`the console build in ${dir} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A fresh page with no cookies: every test signs in from scratch. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Chromium, headless, with a fresh profile removed afterwards. The network of CI machines is closed: without these
 * flags Chromium keeps trying to reach Google's services (sync, component updates, QUIC probes).
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it (apt-get install -y chromium) or set TESSERA_TEST_CHROMIUM. The browser suites never skip.`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'tessera-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
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
      rmSync(profile, { recursive: true, force: true });
    },
  };
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
 * A page as a suite reaches it, checked the same way everywhere: loaded, Mantine's transitions settled (modals fade
 * in over 200 ms) so the screenshot and the contrast check see the page as it stays, saved as `test-results/<file>`,
 * no serious or critical axe-core violation (WCAG 2.1 AA), and no CSP or script error seen by `watchPage`.
 */
export async function expectCleanPage(page: Page, problems: readonly string[], file: string, label: string): Promise<void> {
  await page.waitForLoadState('load');
  await page.waitForTimeout(400);
  await screenshot(page, file);
  const violations = await seriousViolations(page);
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
