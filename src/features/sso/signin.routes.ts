import { z } from 'zod';
import { defineRoute, type Route } from '../../http/route.js';
import { AppError } from '../../kernel/app-error.js';
import { loginAnswerer, LoginResponse } from '../sessions/index.js';
import { CALLBACK_PATH, type OidcSignIn, SignInRefused } from './oidc-signin.js';
import { SsoErrors } from './sso.errors.js';
import { RESULT_TTL_SECONDS, TRANSACTION_TTL_SECONDS } from './sso-transaction.js';

export const TRANSACTION_COOKIE = 'tessera_sso_tx';
export const RESULT_COOKIE = 'tessera_sso_result';

const tags = ['auth'];
/** Nothing about a sign-in is cached (RFC 6749 §5.1, RFC 9700 §4.16). */
const NO_STORE = { 'cache-control': 'no-store' } as const;
const Redirect = z.null().describe('Redirect (Location header)');

const StartQuery = z.object({
  connection: z.uuid(),
  returnTo: z.string().max(2000).optional().describe('Where the browser goes after the sign-in: on PUBLIC_URL\'s origin only'),
  test: z.string().max(4000).optional().describe('Set by the link POST /api/v1/sso/connections/{id}/test returns: a dry run that creates nothing'),
});
const CallbackQuery = z.object({
  code: z.string().max(4000).optional(),
  state: z.string().max(500).optional(),
  iss: z.string().max(2000).optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(2000).optional(),
  session_state: z.string().max(500).optional(),
});

const asAppError = (err: unknown) => (err instanceof SignInRefused ? new AppError(SsoErrors[err.code], { message: err.message }) : err);

/**
 * Signing in through an SSO connection (README "Signing in with SSO"). Refusals at start answer a JSON error (the
 * return URL is not trusted yet); refusals at the callback redirect the browser to its `returnTo` (else
 * `PUBLIC_URL/login`) with `?error=<sso_code>`. A success redirects there with a one-time HttpOnly result cookie,
 * which the front-end trades once for the login answer at POST /auth/sso/result.
 */
export function ssoSignInRoutes(signIn: OidcSignIn, options: { secureCookies: boolean; publicUrl: string }): Route[] {
  const { loginAnswer } = loginAnswerer(options.secureCookies);
  // SameSite=Lax: the callback is a top-level GET navigation from the IdP, which Lax still sends (RFC 6265bis §5.4.7).
  const txCookie = { httpOnly: true, secure: options.secureCookies, sameSite: 'lax', path: '/auth/sso' } as const;
  const resultCookie = { httpOnly: true, secure: options.secureCookies, sameSite: 'strict', path: '/auth/sso/result' } as const;
  const landing = (returnTo: string | null) => new URL(returnTo ?? `${options.publicUrl}/login`);

  return [
    defineRoute({
      method: 'GET', url: '/auth/sso/start', auth: 'public', status: 302, headers: NO_STORE,
      schema: {
        tags, summary: "Sign in through an SSO connection: redirects to the identity provider",
        description: 'Authorization Code + PKCE S256 with state and nonce in a sealed 10-minute HttpOnly cookie. Refused with a JSON error: `sso_config` (unknown connection, or `returnTo` not on this server\'s origin), `sso_disabled`.',
        querystring: StartQuery, response: { 302: Redirect },
      },
      handler: async (ctx) => {
        const { connection, returnTo, test } = ctx.input.query;
        const started = await signIn.start(connection, returnTo, ctx.meta, test).catch((err: unknown) => {
          throw asAppError(err);
        });
        ctx.reply.setCookie(TRANSACTION_COOKIE, started.transaction, { ...txCookie, maxAge: TRANSACTION_TTL_SECONDS });
        ctx.reply.header('location', started.location);
        return null;
      },
    }),
    defineRoute({
      method: 'GET', url: CALLBACK_PATH, auth: 'public', status: 302, headers: NO_STORE,
      schema: {
        tags, summary: "The identity provider's redirect back (OpenID Connect Core §3.1.2.5)",
        description: 'Redirects to the sign-in\'s `returnTo` (else `/login`): on success with a one-time result cookie for POST /auth/sso/result, a "Test connection" dry run with `?ssoTest=<testId>` (success or refusal, no cookie); on a refusal with `?error=` one of `sso_expired`, `sso_state`, `sso_config`, `sso_disabled`, `sso_signature`, `sso_replay`, `sso_audience`, `sso_domain`, `sso_mfa_required` (each audited `sso.login.failed`).',
        querystring: CallbackQuery, response: { 302: Redirect },
      },
      handler: async (ctx) => {
        // The transaction is used once, whatever the outcome (its nonce with it).
        ctx.reply.clearCookie(TRANSACTION_COOKIE, txCookie);
        try {
          const done = await signIn.callback(ctx.input.query, ctx.cookies[TRANSACTION_COOKIE], ctx.meta);
          const target = landing(done.returnTo);
          // A test connection's dry run sets no result cookie: the outcome is read from the test.
          if (done.result !== null) ctx.reply.setCookie(RESULT_COOKIE, done.result, { ...resultCookie, maxAge: RESULT_TTL_SECONDS });
          if (done.testId !== null) target.searchParams.set('ssoTest', done.testId);
          ctx.reply.header('location', target.href);
        } catch (err) {
          if (!(err instanceof SignInRefused) && !(err instanceof AppError)) throw err;
          const target = landing(err instanceof SignInRefused ? err.returnTo : null);
          if (err instanceof SignInRefused && err.testId !== null) target.searchParams.set('ssoTest', err.testId);
          else target.searchParams.set('error', err.code);
          ctx.reply.header('location', target.href);
        }
        return null;
      },
    }),
    defineRoute({
      method: 'POST', url: '/auth/sso/result', auth: 'public', headers: NO_STORE,
      schema: {
        tags, summary: 'The SSO sign-in\'s result, once: exactly what POST /auth/login answers',
        description: 'Reads and clears the one-time result cookie the callback set. Refused with `sso_expired` when there is none (already read, or older than 2 minutes).',
        response: { 200: LoginResponse },
      },
      handler: async (ctx) => {
        ctx.reply.clearCookie(RESULT_COOKIE, resultCookie);
        return loginAnswer(ctx.reply, await signIn.takeResult(ctx.cookies[RESULT_COOKIE]));
      },
    }),
  ];
}
