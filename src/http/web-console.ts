import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../kernel/app-error.js';
import { KernelErrors } from '../kernel/errors.js';

/**
 * Where `npm run build` puts the console (`vite build` of console/): `<repo>/dist/console`. The same relative path
 * holds from src/http (tsx, tests) and from dist/http (the compiled server).
 */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** The single-page application's entry points: every one answers index.html; the router in the page decides. */
export const CONSOLE_PAGES = ['/login', '/t/:slug/login', '/setup', '/console', '/console/*'] as const;

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};
/** Vite's output names: `<name>-<hash>.<ext>`, no directories, so no path can leave the assets folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|svg|png|woff2|json|map)$/;

/**
 * Serves the hosted sign-in pages and the admin console (a static build, talking only to the public API).
 * Hashed assets are immutable, so they are cached for a year (RFC 8246 `immutable`); index.html names the current
 * hashes, so it is revalidated on every load (`no-cache`) and a new release is picked up at once. The security
 * headers (strict CSP: scripts only from 'self', no inline script) are the server's, set for every response.
 */
export function installWebConsole(app: FastifyInstance, options: { dir?: string } = {}): void {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const assets = path.join(dir, 'assets');
  let index: Buffer | undefined;

  async function page(reply: FastifyReply) {
    index ??= await readFile(path.join(dir, 'index.html')).catch(() => undefined);
    if (!index) {
      throw new AppError(KernelErrors.service_unavailable, { message: 'The console is not built: run `npm run build` (or `npm start`, which builds it).' });
    }
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index);
  }

  const hide = { schema: { hide: true } };
  app.get('/', hide, (_request, reply) => reply.redirect('/console'));
  for (const url of CONSOLE_PAGES) app.get(url, hide, (_request, reply) => page(reply));
  app.get<{ Params: { name: string } }>('/assets/:name', hide, async (request, reply) => {
    const name = request.params.name;
    const match = ASSET_NAME.exec(name);
    const body = match ? await readFile(path.join(assets, name)).catch(() => undefined) : undefined;
    if (!match || !body) throw new AppError(KernelErrors.not_found);
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(TYPES[`.${match[1]}`] ?? 'application/octet-stream')
      .send(body);
  });
}
