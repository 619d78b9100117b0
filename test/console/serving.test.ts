import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';

/** How the server serves the console's static build (src/http/web-console.ts): pages, assets, caching, CSP. */
describe.each(engines())('serving the sign-in pages and the console [%s]', (engine) => {
  let t: TestApp;
  let missing: TestApp;
  let dir: string;
  const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="root"></div></body></html>';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tessera-console-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), INDEX);
    writeFileSync(path.join(dir, 'assets', 'index-AbC123.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'secret.txt'), 'not an asset');
    t = await startTestApp(engine, { consoleDir: dir });
    missing = await startTestApp(engine, { consoleDir: path.join(dir, 'nothing-here') });
  });
  afterAll(async () => {
    await t?.close();
    await missing?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('redirects the root to the console', async () => {
    const res = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console');
  });

  it.each(['/login', '/console', '/console/users', '/console/audit/x'])('answers %s with index.html, revalidated on every load, under a CSP without inline script', async (page) => {
    const res = await fetch(`${t.url}${page}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(INDEX);
    const csp = res.headers.get('content-security-policy') ?? '';
    const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(csp)?.[1];
    expect(scriptSrc).toBe("'self'");
    expect(csp).toMatch(/script-src-attr 'none'/);
    expect(csp).toMatch(/frame-ancestors 'self'/);
  });

  it('serves hashed assets for a year, and nothing outside the assets folder', async () => {
    const res = await fetch(`${t.url}/assets/index-AbC123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const probe of ['/assets/missing-1.js', '/assets/..%2Fsecret.txt', '/assets/..%2Findex.html', '/assets/secret.txt', '/assets/%2e%2e%2fsecret.txt']) {
      const refused = await fetch(`${t.url}${probe}`);
      expect(refused.status, probe).toBe(404);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });

  it('leaves the API as it was', async () => {
    const res = await fetch(`${t.url}/api/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('says how to build the console when it is not built', async () => {
    const res = await fetch(`${missing.url}/login`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('service_unavailable');
    expect(body.error.message).toContain('npm run build');
  });
});
