import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import './auth.js';
import { installErrorHandling } from './error-handler.js';
import { loggerOptions } from './logger.js';
import { installOpenApi } from './openapi.js';
import { securityHeaders } from './security-headers.js';

export interface HttpOptions {
  readonly logLevel: string;
  readonly bodyLimit: number;
  readonly trustProxy: boolean | number | string[];
  readonly publicUrl: string;
  readonly version: string;
  /** Replaces the logger options (tests capture logs through a stream). */
  readonly logger?: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The Fastify instance with the cross-cutting plugins; features register their routes on it. */
export async function createHttpServer(options: HttpOptions): Promise<FastifyInstance> {
  const fastifyOptions: FastifyServerOptions = {
    logger: options.logger ?? loggerOptions(options.logLevel),
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

  app.decorateRequest('auth', null);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
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

  await app.register(cookie);
  installErrorHandling(app);
  await installOpenApi(app, { version: options.version, publicUrl: options.publicUrl });
  return app as unknown as FastifyInstance;
}
