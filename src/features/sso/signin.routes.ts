import { z } from 'zod';
import { createHash } from 'node:crypto';
import { defineRoute, RawBody, type Route } from '../../http/route.js';
import { AppError } from '../../kernel/app-error.js';
import { loginAnswerer, LoginResponse } from '../sessions/index.js';
import { CALLBACK_PATH } from './oidc-signin.js';
import { SAML_ACS_PATH, SAML_METADATA_PATH, SAML_SLO_PATH } from './saml-config.js';
import type { SsoSignIn } from './signin.js';
import { SignInRefused } from './signin-core.js';
import { SsoErrors } from './sso.errors.js';
import { RESULT_TTL_SECONDS, TRANSACTION_TTL_SECONDS } from './sso-transaction.js';

export const TRANSACTION_COOKIE = 'tessera_sso_tx';
export const RESULT_COOKIE = 'tessera_sso_result';
export const SAML_TRANSACTION_COOKIE = 'tessera_saml_tx';
/** The ACS takes at most this much (the Response is base64 in a form): refused (413) before any parsing. */
export const SAML_ACS_BODY_LIMIT = 256 * 1024;

/** The HTTP-POST binding's AuthnRequest (saml-bindings §3.5.4): a form the browser submits to the IdP by itself. */
const AUTO_SUBMIT = 'document.forms[0].submit();';
const AUTO_SUBMIT_HASH = `'sha256-${createHash('sha256').update(AUTO_SUBMIT).digest('base64')}'`;
const escapeHtml = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function autoPostForm(action: string, fields: Readonly<Record<string, string>>): string {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Signing in…</title></head><body><form method="post" action="${escapeHtml(action)}">${inputs}<noscript><button type="submit">Continue</button></noscript></form><script>${AUTO_SUBMIT}</script></body></html>`;
}

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

const AcsBody = z.object({
  SAMLResponse: z.string().min(1).max(SAML_ACS_BODY_LIMIT),
  RelayState: z.string().max(1000).optional(),
});
const SamlParams = z.object({ connectionId: z.uuid() });
const LogoutQuery = z.object({
  SAMLRequest: z.string().min(1).max(SAML_ACS_BODY_LIMIT).optional(),
  SAMLResponse: z.string().min(1).max(SAML_ACS_BODY_LIMIT).optional(),
  RelayState: z.string().max(1000).optional(),
  SigAlg: z.string().max(200).optional(),
  Signature: z.string().max(2000).optional(),
});
const LogoutBody = z.object({
  SAMLRequest: z.string().min(1).max(SAML_ACS_BODY_LIMIT).optional(),
  SAMLResponse: z.string().min(1).max(SAML_ACS_BODY_LIMIT).optional(),
  RelayState: z.string().max(1000).optional(),
});
const sloDescription = 'The IdP\'s LogoutRequest (saml-profiles §4.4), signed with one of the connection\'s IdP certificates (RSA-SHA-2; SHA-1 only with `allowSha1`): the Tessera sessions that came from the logins it names (NameID, SessionIndex) end, effective on their next request on every instance; audited `sso.logout.idp_initiated`. Answers a LogoutResponse by redirect to the IdP\'s SLO URL (signed with the current SP key). Refused with a JSON error, audited `sso.logout.failed`: `sso_signature` (unsigned, wrongly signed, not a LogoutRequest, expired), `sso_audience` (Destination), `sso_config` (no IdP SLO URL); `sso.connection_not_found`.';

const asAppError = (err: unknown) => (err instanceof SignInRefused ? new AppError(SsoErrors[err.code], { message: err.message }) : err);

/**
 * Signing in through an SSO connection (README "Signing in with SSO"). Refusals at start answer a JSON error (the
 * return URL is not trusted yet); refusals at the callback redirect the browser to its `returnTo` (else
 * `PUBLIC_URL/login`) with `?error=<sso_code>`. A success redirects there with a one-time HttpOnly result cookie,
 * which the front-end trades once for the login answer at POST /auth/sso/result.
 */
export function ssoSignInRoutes(signIn: SsoSignIn, options: { secureCookies: boolean; publicUrl: string; perMinutePerIp: number }): Route[] {
  // Each start, callback and ACS post reads the connection and may audit a failure: limited per client IP.
  const limited = options.perMinutePerIp > 0 ? { perMinutePerIp: options.perMinutePerIp } : {};
  const { loginAnswer } = loginAnswerer(options.secureCookies);
  // SameSite=Lax: the callback is a top-level GET navigation from the IdP, which Lax still sends (RFC 6265bis §5.4.7).
  const txCookie = { httpOnly: true, secure: options.secureCookies, sameSite: 'lax', path: '/auth/sso' } as const;
  const resultCookie = { httpOnly: true, secure: options.secureCookies, sameSite: 'strict', path: '/auth/sso/result' } as const;
  // The IdP POSTs the Response to the ACS from its own site: a Lax cookie would not come along (RFC 6265bis
  // §5.4.7), so the SAML transaction is SameSite=None, which browsers accept only with Secure (https PUBLIC_URL).
  const samlTxCookie = { httpOnly: true, secure: options.secureCookies, sameSite: options.secureCookies ? 'none' : 'lax', path: '/auth/sso/saml' } as const;
  const landing = (returnTo: string | null) => new URL(returnTo ?? `${options.publicUrl}/login`);

  /** Where the browser goes after the IdP's answer, whatever the protocol: the one-time result, or the refusal's code. */
  async function land(reply: { setCookie: (name: string, value: string, o: object) => void; header: (name: string, value: string) => void }, run: () => Promise<{ result: string | null; returnTo: string | null; testId: string | null }>): Promise<void> {
    try {
      const done = await run();
      const target = landing(done.returnTo);
      // A test connection's dry run sets no result cookie: the outcome is read from the test.
      if (done.result !== null) reply.setCookie(RESULT_COOKIE, done.result, { ...resultCookie, maxAge: RESULT_TTL_SECONDS });
      if (done.testId !== null) target.searchParams.set('ssoTest', done.testId);
      reply.header('location', target.href);
    } catch (err) {
      if (!(err instanceof SignInRefused) && !(err instanceof AppError)) throw err;
      const target = landing(err instanceof SignInRefused ? err.returnTo : null);
      if (err instanceof SignInRefused && err.testId !== null) target.searchParams.set('ssoTest', err.testId);
      else target.searchParams.set('error', err.code);
      reply.header('location', target.href);
    }
  }

  return [
    defineRoute({
      method: 'GET', url: '/auth/sso/start', auth: 'public', status: 302, headers: NO_STORE, ...limited,
      schema: {
        tags, summary: "Sign in through an SSO connection: redirects to the identity provider",
        description: 'OIDC: Authorization Code + PKCE S256 with state and nonce in a sealed 10-minute HttpOnly cookie. SAML: an AuthnRequest (its ID in a sealed 10-minute cookie) by HTTP-Redirect, or by HTTP-POST as an auto-submitted form (200 HTML). Refused with a JSON error: `sso_config` (unknown connection, or `returnTo` not on this server\'s origin), `sso_disabled`.',
        querystring: StartQuery, response: { 302: Redirect, 200: z.string().describe('SAML HTTP-POST binding: an HTML form the browser submits to the IdP') },
      },
      handler: async (ctx) => {
        const { connection, returnTo, test } = ctx.input.query;
        const started = await signIn.start(connection, returnTo, ctx.meta, test).catch((err: unknown) => {
          throw asAppError(err);
        });
        if (started.protocol === 'oidc') {
          ctx.reply.setCookie(TRANSACTION_COOKIE, started.transaction, { ...txCookie, maxAge: TRANSACTION_TTL_SECONDS });
          ctx.reply.header('location', started.location);
          return null;
        }
        ctx.reply.setCookie(SAML_TRANSACTION_COOKIE, started.transaction, { ...samlTxCookie, maxAge: TRANSACTION_TTL_SECONDS });
        if ('location' in started) {
          ctx.reply.header('location', started.location);
          return null;
        }
        // Only this page's one script runs, and the form goes only to the IdP.
        ctx.reply.status(200);
        ctx.reply.header('content-security-policy', `default-src 'none'; script-src ${AUTO_SUBMIT_HASH}; form-action ${new URL(started.form.action).origin}; base-uri 'none'; frame-ancestors 'none'`);
        return new RawBody(autoPostForm(started.form.action, started.form.fields), 'text/html; charset=utf-8');
      },
    }),
    defineRoute({
      method: 'GET', url: CALLBACK_PATH, auth: 'public', status: 302, headers: NO_STORE, ...limited,
      schema: {
        tags, summary: "The identity provider's redirect back (OpenID Connect Core §3.1.2.5)",
        description: 'Redirects to the sign-in\'s `returnTo` (else `/login`): on success with a one-time result cookie for POST /auth/sso/result, a "Test connection" dry run with `?ssoTest=<testId>` (success or refusal, no cookie); on a refusal with `?error=` one of `sso_expired`, `sso_state`, `sso_config`, `sso_disabled`, `sso_signature`, `sso_replay`, `sso_audience`, `sso_domain`, `sso_mfa_required`, `sso_user_inactive` (each audited `sso.login.failed`).',
        querystring: CallbackQuery, response: { 302: Redirect },
      },
      handler: async (ctx) => {
        // The transaction is used once, whatever the outcome (its nonce with it).
        ctx.reply.clearCookie(TRANSACTION_COOKIE, txCookie);
        await land(ctx.reply, () => signIn.callback(ctx.input.query, ctx.cookies[TRANSACTION_COOKIE], ctx.meta));
        return null;
      },
    }),
    defineRoute({
      method: 'POST', url: SAML_ACS_PATH, auth: 'public', status: 302, headers: NO_STORE, bodyLimit: SAML_ACS_BODY_LIMIT, formBody: true, ...limited,
      schema: {
        tags, summary: "SAML Assertion Consumer Service: the IdP's Response, posted by the browser (HTTP-POST binding)",
        description: 'Bodies over 256 KiB are refused (`payload_too_large`) before parsing. Redirects like the OIDC callback: to the sign-in\'s `returnTo` (else `/login`), with a one-time result cookie, `?ssoTest=`, or `?error=` one of `sso_expired`, `sso_state`, `sso_config`, `sso_disabled`, `sso_signature`, `sso_replay`, `sso_audience`, `sso_domain`, `sso_mfa_required`, `sso_user_inactive` (each audited `sso.login.failed`).',
        params: SamlParams, body: AcsBody, response: { 302: Redirect },
      },
      handler: async (ctx) => {
        // The transaction is used once, whatever the outcome (its request ID with it).
        ctx.reply.clearCookie(SAML_TRANSACTION_COOKIE, samlTxCookie);
        await land(ctx.reply, () => signIn.acs(ctx.input.params.connectionId, ctx.input.body, ctx.cookies[SAML_TRANSACTION_COOKIE], ctx.meta));
        return null;
      },
    }),
    defineRoute({
      method: 'GET', url: SAML_SLO_PATH, auth: 'public', status: 302, headers: NO_STORE, ...limited,
      schema: { tags, summary: 'SAML Single Logout from the IdP (HTTP-Redirect binding)', description: sloDescription, params: SamlParams, querystring: LogoutQuery, response: { 302: Redirect } },
      handler: async (ctx) => {
        const { SAMLRequest, SAMLResponse: _answer, ...rest } = ctx.input.query;
        // The IdP's LogoutResponse to our SP-initiated logout (saml-profiles §4.4.3.4): our session ended before the
        // browser left, so nothing rides on it; the browser goes to the sign-in page.
        if (SAMLRequest === undefined) {
          ctx.reply.header('location', `${options.publicUrl}/login`);
          return null;
        }
        const { location } = await signIn.samlLogout(ctx.input.params.connectionId, { binding: 'redirect', query: { SAMLRequest, ...rest }, rawQuery: ctx.rawQuery }, ctx.meta);
        ctx.reply.header('location', location);
        return null;
      },
    }),
    defineRoute({
      method: 'POST', url: SAML_SLO_PATH, auth: 'public', status: 302, headers: NO_STORE, bodyLimit: SAML_ACS_BODY_LIMIT, formBody: true, ...limited,
      schema: { tags, summary: 'SAML Single Logout from the IdP (HTTP-POST binding)', description: `${sloDescription} A \`SAMLResponse\` instead (the IdP's LogoutResponse to our logout) sends the browser to the sign-in page.`, params: SamlParams, body: LogoutBody, response: { 302: Redirect } },
      handler: async (ctx) => {
        const { SAMLRequest, SAMLResponse: _answer, RelayState } = ctx.input.body;
        // The IdP's LogoutResponse by HTTP-POST, the binding our SP metadata names for SingleLogoutService
        // (saml-bindings §3.5): as by redirect, our session already ended, and the browser goes to the sign-in page.
        if (SAMLRequest === undefined) {
          ctx.reply.header('location', `${options.publicUrl}/login`);
          return null;
        }
        const { location } = await signIn.samlLogout(ctx.input.params.connectionId, { binding: 'post', body: { SAMLRequest, ...(RelayState === undefined ? {} : { RelayState }) } }, ctx.meta);
        ctx.reply.header('location', location);
        return null;
      },
    }),
    defineRoute({
      method: 'GET', url: SAML_METADATA_PATH, auth: 'public', logLevel: 'warn',
      schema: {
        tags, summary: "A SAML connection's SP metadata XML, for its identity provider",
        description: 'No authentication: our entity ID (this URL), the ACS URL (HTTP-POST), signed assertions wanted, the SP keys\' certificates (`use="signing"` and `use="encryption"`, the current first), `AuthnRequestsSigned`. `sso.connection_not_found` for an unknown or non-SAML connection.',
        params: SamlParams, response: { 200: z.string().describe('SAML 2.0 metadata (application/samlmetadata+xml)') },
      },
      handler: async (ctx) => {
        const xml = await signIn.samlMetadata(ctx.input.params.connectionId);
        ctx.reply.header('cache-control', 'public, max-age=300');
        return new RawBody(xml, 'application/samlmetadata+xml');
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
