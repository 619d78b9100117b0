import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { RequestLogger } from './logger.js';
import { lazyChildLogger, loggerOptions } from './logger.js';

// Rule: a request's logger writes exactly the lines Fastify's per-request pino child writes (bindings, redaction,
// a route's own level), and makes that child only when a line is written.
function capture(level = 'info') {
  const lines: string[] = [];
  const parent = pino({ ...(loggerOptions(level) as object), timestamp: false }, { write: (line: string) => void lines.push(line) });
  let children = 0;
  const child = parent.child.bind(parent);
  parent.child = ((...args: Parameters<typeof child>) => (children++, child(...args))) as typeof parent.child;
  return { parent, lines, children: () => children };
}

const request = { method: 'GET', url: '/api/v1/me?token=secret&page=2', ip: '10.0.0.1', headers: { 'user-agent': 'ua', authorization: 'Bearer t' } };
const fields = () => ({ req: request, res: { statusCode: 200 }, responseTime: 1.25, body: { password: 'p', token: 't' } });

describe('the request logger', () => {
  it('writes the child’s bytes, the access line included, and makes no child for it', () => {
    const eager = capture();
    eager.parent.child({ reqId: 'r-1' }, {}).info(fields(), 'request completed');
    eager.parent.child({ reqId: 'r-1' }, {}).warn(fields(), 'refused');
    eager.parent.child({ reqId: 'r-1' }, {}).error(new Error('boom'));
    const lazy = capture();
    const log = lazyChildLogger(lazy.parent, { reqId: 'r-1' }, {}) as unknown as RequestLogger;
    log.infoWithBindings(fields(), 'request completed');
    expect(lazy.children()).toBe(0);
    log.warn(fields(), 'refused');
    log.error(new Error('boom'));
    const stack = (line: string) => line.replace(/"stack":"[^"]*"/, '"stack":…');
    expect(lazy.lines.map(stack)).toEqual(eager.lines.map(stack));
    expect(lazy.lines[0]).toContain('"reqId":"r-1","req":{"method":"GET","url":"/api/v1/me?token=%5Bredacted%5D&page=2"');
    expect(lazy.lines[0]).toContain('"password":"[redacted]"');
  });

  it('makes no child while nothing is written, and follows a route’s own level', () => {
    const lazy = capture();
    const quiet = lazyChildLogger(lazy.parent, { reqId: 'r-2' }, { level: 'warn' }) as unknown as RequestLogger;
    quiet.info(fields(), 'not written');
    quiet.infoWithBindings(fields(), 'request completed');
    quiet.debug('not written');
    expect([lazy.lines, lazy.children(), quiet.level, quiet.isLevelEnabled('info'), quiet.isLevelEnabled('warn')]).toEqual([[], 0, 'warn', false, true]);
    quiet.warn('written');
    expect(lazy.lines.map((l) => JSON.parse(l) as { reqId: string; level: number })).toMatchObject([{ reqId: 'r-2', level: 40 }]);

    const verbose = capture('warn');
    const debugRoute = lazyChildLogger(verbose.parent, { reqId: 'r-3' }, { level: 'debug' }) as unknown as RequestLogger;
    debugRoute.infoWithBindings({ responseTime: 1 }, 'request completed');
    expect(verbose.lines.map((l) => JSON.parse(l) as { reqId: string; msg: string })).toMatchObject([{ reqId: 'r-3', msg: 'request completed' }]);
  });

  it('leaves a logger that is not pino (Fastify’s `logger: false`) as Fastify would', () => {
    const silent = { child: () => silent, info() {}, error() {}, debug() {}, fatal() {}, warn() {}, trace() {}, silent() {}, level: 'silent' };
    expect(lazyChildLogger(silent, { reqId: 'r' }, {})).toBe(silent);
  });
});
