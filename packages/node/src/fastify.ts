import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { checkPermissions, refusalOf, type TesseraAuth, type TesseraAuthContext } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the Tessera preHandlers once the bearer token is accepted. */
    tessera?: TesseraAuthContext;
  }
}

function guard(auth: TesseraAuth, check: (context: TesseraAuthContext) => void): preHandlerAsyncHookHandler {
  return async function tesseraGuard(request: FastifyRequest, reply: FastifyReply) {
    try {
      const context = request.tessera ?? (await auth.authenticate(request.headers.authorization));
      request.tessera = context;
      check(context);
    } catch (error) {
      const refusal = refusalOf(error, auth.realm);
      return reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
    }
  };
}

/** preHandler: a valid access token is required (401 otherwise); its context is `request.tessera`. */
export const authenticate = (auth: TesseraAuth): preHandlerAsyncHookHandler => guard(auth, () => undefined);

/** preHandler: a valid access token carrying every one of `keys` (401 / 403 otherwise). */
export const requirePermission = (auth: TesseraAuth, ...keys: [string, ...string[]]): preHandlerAsyncHookHandler => guard(auth, (c) => checkPermissions(c, keys, 'all'));

/** preHandler: a valid access token carrying at least one of `keys` (401 / 403 otherwise). */
export const requireAnyPermission = (auth: TesseraAuth, ...keys: [string, ...string[]]): preHandlerAsyncHookHandler => guard(auth, (c) => checkPermissions(c, keys, 'any'));
