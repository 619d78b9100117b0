import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

/** Query parameters whose values are secrets or one-time codes: never written to logs. */
const SECRET_PARAMS = /^(token|access_token|refresh_token|id_token|code|password|secret|client_secret|state|nonce|samlresponse|samlrequest|key|api_key)$/i;

/** The URL as logged: the path, and the query string with secret values replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SECRET_PARAMS.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

/**
 * pino options for Fastify: JSON lines, one request id per request, and secrets redacted wherever they
 * could appear (headers, bodies, any object logged with these property names).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.clientSecret',
  '*.privateKey',
  '*.masterKey',
  '*.apiKey',
  '*.code',
  'password',
  'token',
  'secret',
];

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req(request: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip, userAgent: request.headers?.['user-agent'] };
      },
    },
  };
}

type Logger = FastifyBaseLogger & { isLevelEnabled?(level: string): boolean; levels?: { values: Record<string, number> } };
type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger (`request.log`), bound to the request id only when something is logged. Fastify makes a
 * pino child per request, and pino runs the child's bindings through the redaction paths when it is made: ~5 %
 * of a request that logs nothing (BENCHMARKS.md, "the authenticated request, profiled"). Here the child is made
 * on the first enabled log call, with the same bindings and options, so every line is what the child writes.
 */
export class RequestLogger {
  #child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The child Fastify would have made. */
  private get bound(): Logger {
    return (this.#child ??= this.parent.child(this.bindings, this.options) as Logger);
  }

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }
  set level(level: string) {
    this.bound.level = level;
  }

  /** pino's rule: a level is enabled when its value is at least the logger's (a route's `logLevel` replaces the parent's). */
  isLevelEnabled(level: string): boolean {
    if (this.#child) return this.#child.isLevelEnabled?.(level) ?? true;
    if (this.options.level === undefined) return this.parent.isLevelEnabled?.(level) ?? true;
    const values = this.parent.levels?.values ?? {};
    const value = values[level];
    const threshold = values[this.options.level];
    return value !== undefined && threshold !== undefined && value >= threshold;
  }

  /**
   * `info(object, message)` with the request's bindings as the first fields of `object`, written by the parent
   * when that gives the child's line (no child option but the level, the parent's level admits it): the access log line,
   * without a child per request.
   */
  infoWithBindings(object: Record<string, unknown>, message: string): void {
    if (!this.isLevelEnabled('info')) return;
    if (this.#child || Object.keys(this.options).some((k) => k !== 'level') || this.parent.isLevelEnabled?.('info') !== true) this.bound.info(object, message);
    else this.parent.info({ ...this.bindings, ...object }, message);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.bound.child(bindings, options);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  private write(method: LogMethod, args: unknown[]): void {
    if (this.isLevelEnabled(method)) Reflect.apply(this.bound[method], this.bound, args);
  }
}

/** Fastify's `childLoggerFactory`: a RequestLogger over pino; any other logger (tests' `logger: false`) as before. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const parent = logger as Logger;
  if (typeof parent.isLevelEnabled !== 'function') return logger.child(bindings, options);
  return new RequestLogger(parent, bindings, options);
}
