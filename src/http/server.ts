import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import pino from 'pino';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import './auth.js';
import { AppError } from '../kernel/app-error.js';
import { KernelErrors } from '../kernel/errors.js';
import { installErrorHandling } from './error-handler.js';
import { lazyChildLogger, loggerOptions, RequestLogger } from './logger.js';
import { installOpenApi } from './openapi.js';
import { securityHeaders } from './security-headers.js';
import { responseSerializerCompiler } from './serializer.js';

export interface HttpOptions {
  readonly logLevel: string;
  readonly bodyLimit: number;
  readonly trustProxy: boolean | number | string[];
  readonly publicUrl: string;
  readonly version: string;
  /** Replaces the logger options (tests capture logs through a stream). */
  readonly logger?: FastifyServerOptions['logger'];
  /** Called for each request a per-route limit refuses (the metrics count them). */
  readonly onRateLimited?: () => void;
  /** Runs on the bare instance before any route is declared (the metrics hook every route as it is declared). */
  readonly instrument?: (app: FastifyInstance) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The Fastify instance with the cross-cutting plugins; features register their routes on it. */
export async function createHttpServer(options: HttpOptions): Promise<FastifyInstance> {
  const fastifyOptions: FastifyServerOptions = {
    // Standard output written asynchronously: lines logged while a write is in progress leave in the next write
    // (one system call for many under load, at once when idle); pino flushes what is left when the process exits.
    logger: options.logger ?? { ...(loggerOptions(options.logLevel) as object), stream: pino.destination({ dest: 1, sync: false }) },
    // One access-log line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is bound to the request id only when the request logs something (RequestLogger).
    childLoggerFactory: lazyChildLogger,
    bodyLimit: options.bodyLimit,
    // Fastify takes a hop count too, though its types omit it.
    trustProxy: options.trustProxy as FastifyServerOptions['trustProxy'],
    // A caller's X-Request-Id is kept when it is a plain token, so logs correlate across services.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  };
  const app = Fastify(fastifyOptions).withTypeProvider<ZodTypeProvider>();
  options.instrument?.(app);

  app.decorateRequest('auth', null);
  app.decorateRequest('apiKey', null);
  app.decorateRequest('scim', null);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  const headers = securityHeaders({
    // The API reference page loads its own script and style; everything else is JSON.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        upgradeInsecureRequests: options.publicUrl.startsWith('https://') ? [] : null,
      },
    },
    strictTransportSecurity: options.publicUrl.startsWith('https://') ? { maxAge: 31536000, includeSubDomains: true } : false,
  });
  // One synchronous hook for every response: the security headers and the request id.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    done();
  });

  // The access log: one line when the response is sent, with what Fastify's "incoming request" line carried (the
  // method, the URL with secret parameters redacted, the client address) and its status and duration.
  app.addHook('onResponse', (request, reply, done) => {
    const log = request.log;
    if (log instanceof RequestLogger) log.infoWithBindings({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    done();
  });

  // PostgreSQL text and jsonb cannot hold U+0000 (it answers "invalid byte sequence" / "unsupported Unicode
  // escape sequence"), so a NUL anywhere in the input is refused here, once for every route, before any
  // schema or store sees it: a 400 invalid_request instead of a 500 from the database.
  app.addHook('preValidation', (request, _reply, done) => {
    // Most requests (a GET without a query string or URL parameters) carry nothing to walk.
    if (request.body === undefined && isEmpty(request.query) && isEmpty(request.params)) {
      done();
      return;
    }
    const where = nulIn('body', request.body) ?? nulIn('query', request.query) ?? nulIn('params', request.params);
    done(where ? new AppError(KernelErrors.invalid_request, { message: `${where}: must not contain the NUL character (U+0000).` }) : undefined);
  });

  // HTML form posts (application/x-www-form-urlencoded, WHATWG URL §5.1) only where a route opts in (`formBody`:
  // the SAML HTTP-POST binding's ACS). Everywhere else they stay 415: a cross-site form is a "simple request"
  // (no CORS preflight), so accepting forms on JSON routes would open them to CSRF (OWASP CSRF Prevention).
  // Parsed within the route's body limit into a flat object (a repeated name keeps its first value); the
  // route's schema then validates it like any JSON body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (request.routeOptions.config?.formBody !== true) {
      done(new AppError(KernelErrors.unsupported_media_type), undefined);
      return;
    }
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of new URLSearchParams(body as string)) if (!(name in fields)) fields[name] = value;
    done(null, { ...fields });
  });
  await app.register(cookie);
  // Per-route request limits (RouteDefinition.perMinutePerIp); routes without one are not limited here.
  await app.register(rateLimit, { global: false, ...(options.onRateLimited ? { onExceeded: options.onRateLimited } : {}) });
  installErrorHandling(app);
  await installOpenApi(app, { version: options.version, publicUrl: options.publicUrl });
  return app;
}

/** An absent input, or a parsed object without members (Fastify's query and params of a request that has none). */
function isEmpty(input: unknown): boolean {
  if (input === undefined || input === null) return true;
  if (typeof input !== 'object') return false;
  for (const _ in input) return false;
  return true;
}

/**
 * The path of the first string (a value or a member name) holding U+0000 in a parsed input, or undefined.
 * Walks with an explicit stack, so no nesting depth can overflow the call stack or hide a NUL.
 */
export function nulIn(root: string, input: unknown): string | undefined {
  const stack: [string, unknown][] = [[root, input]];
  while (stack.length > 0) {
    const [path, value] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([`${path}[${i}]`, value[i]]);
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      for (const [key, member] of Object.entries(value).reverse()) {
        if (key.includes('\u0000')) return `${path}.${key.replaceAll('\u0000', '\\u0000')}`;
        stack.push([`${path}.${key}`, member]);
      }
    }
  }
  return undefined;
}
