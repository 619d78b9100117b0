import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthGuards } from '../../http/auth.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { OpenIdProviderErrors } from './openid-provider.errors.js';
import { isInteractionUid, type OpenIdProviderService } from './openid-provider.service.js';
import { OP_PATH } from './provider-config.js';

/**
 * The OpenID Provider's HTTP surface (docs/openid-provider.md).
 * - `/.well-known/openid-configuration` and `/oidc/*` go to oidc-provider as they are: its own router, body
 *   parsing, CORS and error answers (OAuth `error` shapes, RFC 6749 §5.2); Fastify leaves the body unread for it.
 * - `/oidc/interaction/:uid…` is Tessera's side of an interaction: the browser goes to the hosted sign-in, which
 *   finishes the interaction with its new session (`POST …/login`, a bearer request: no cross-site form can send it).
 * These answer oidc-provider's cookies and redirects, so they are plain Fastify routes, not `defineRoute` JSON API
 * routes, and stay out of the OpenAPI document.
 */
type Uid = { Params: { uid: string } };

function uidOf(request: FastifyRequest<Uid>): string {
  const uid = request.params.uid;
  if (!isInteractionUid(uid)) throw new AppError(OpenIdProviderErrors['openid_provider.interaction_not_found']);
  return uid;
}

/**
 * Consent and abort carry no bearer token: only the interaction cookie (SameSite=Lax, so no cross-site POST sends it).
 * They also take JSON only, which no cross-site HTML form can send without a CORS preflight (OWASP CSRF Prevention).
 */
function requireJson(request: FastifyRequest): void {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw new AppError(KernelErrors.unsupported_media_type);
}

const meta = (request: FastifyRequest) => ({ ip: request.ip, userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null });

export async function openIdProviderRoutes(http: FastifyInstance, guards: AuthGuards, op: OpenIdProviderService): Promise<void> {
  op.onServerError((error) => http.log.error({ err: error }, 'openid provider server error'));

  await http.register((scope, _options, registered) => {
    // oidc-provider reads the body itself (form posts to /oidc/token, RFC 6749 §4.1.3): nothing here consumes it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      const { handler } = await op.current();
      void reply.hijack();
      // The security headers set for every response, except the API's CSP: the provider's pages are its own.
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (name !== 'content-security-policy' && value !== undefined) reply.raw.setHeader(name, value);
      }
      await handler(request.raw, reply.raw);
    };
    scope.route({ method: ['GET', 'POST', 'OPTIONS'], url: `${OP_PATH}/*`, handler: forward });
    scope.route({ method: ['GET', 'OPTIONS'], url: '/.well-known/openid-configuration', handler: forward });
    registered();
  });

  const noStore = (reply: FastifyReply) => void reply.header('cache-control', 'no-store');

  // The authorization endpoint sends the browser here; it goes on to the hosted sign-in (or back to it with an error).
  http.get<Uid>(`${OP_PATH}/interaction/:uid`, async (request, reply) => {
    noStore(reply);
    try {
      return await reply.redirect(await op.signInUrl([request.raw, reply.raw], uidOf(request)), 303);
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'openid_provider.interaction_not_found';
      return reply.redirect(`/login?error=${encodeURIComponent(code)}`, 303);
    }
  });

  http.get<Uid>(`${OP_PATH}/interaction/:uid/details`, async (request, reply) => {
    noStore(reply);
    return op.summary([request.raw, reply.raw], uidOf(request));
  });

  http.post<Uid>(`${OP_PATH}/interaction/:uid/login`, { preHandler: guards.requireSession }, async (request, reply) => {
    noStore(reply);
    return { redirectTo: await op.completeLogin([request.raw, reply.raw], uidOf(request), request.auth!, meta(request)) };
  });

  http.post<Uid>(`${OP_PATH}/interaction/:uid/consent`, async (request, reply) => {
    noStore(reply);
    requireJson(request);
    return { redirectTo: await op.consent([request.raw, reply.raw], uidOf(request)) };
  });

  http.post<Uid>(`${OP_PATH}/interaction/:uid/abort`, async (request, reply) => {
    noStore(reply);
    requireJson(request);
    return { redirectTo: await op.abort([request.raw, reply.raw], uidOf(request)) };
  });
}
