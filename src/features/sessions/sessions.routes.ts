import { defineRoute, NoContent, type ReplyControl, type Route } from '../../http/route.js';
import { AppError } from '../../kernel/app-error.js';
import type { LoginResult } from './login-pipeline.js';
import { SessionErrors } from './sessions.errors.js';
import type { IssuedSession } from './session-issuer.js';
import {
  AccountBody,
  LoginBody,
  LoginMfaBody,
  LoginResponse,
  LogoutRedirect,
  PasswordChangeBody,
  RevokedCount,
  RevokeOthersBody,
  SessionIdParams,
  SessionList,
  SessionTokens,
  UserIdParams,
} from './sessions.schema.js';
import type { SessionsService } from './sessions.service.js';

export const REFRESH_COOKIE = 'tessera_refresh';
const COOKIE_PATH = '/auth';

/** Token endpoints' answers, refusals included, are never cached (RFC 6749 §5.1). */
const NO_STORE = { 'cache-control': 'no-store' } as const;

/**
 * What a login step answers over HTTP, for every way in (POST /auth/login and the SSO result alike): with a
 * session (exactly one account), its tokens in the body and its refresh token only in the HttpOnly cookie.
 */
export function loginAnswerer(secureCookies: boolean) {
  const cookie = { httpOnly: true, secure: secureCookies, sameSite: 'lax', path: COOKIE_PATH } as const;
  /** The session's tokens as the body carries them; its refresh token goes only in the HttpOnly cookie. */
  function tokens(reply: ReplyControl, issued: IssuedSession) {
    reply.setCookie(REFRESH_COOKIE, issued.refreshToken, { ...cookie, expires: issued.refreshExpiresAt });
    return { tokenType: 'Bearer' as const, accessToken: issued.accessToken, expiresIn: issued.expiresIn, sessionId: issued.sessionId, accountId: issued.accountId };
  }
  /** A login step's answer: with a session (exactly one account), its tokens and the refresh cookie. */
  function loginAnswer(reply: ReplyControl, result: LoginResult) {
    if (result.status !== 'authenticated') return result;
    const { session, ...rest } = result;
    return session ? { ...rest, session: tokens(reply, session) } : rest;
  }
  return { cookie, tokens, loginAnswer };
}

/**
 * `sessions.login_busy` (503): the login admission's line is full (login-admission.ts). RFC 9110 §10.2.3: a
 * 503 says when to come back; the error handler writes Retry-After only for 429s, so the route does it here.
 */
function busyRetryAfter(reply: ReplyControl) {
  return (error: unknown): never => {
    if (error instanceof AppError && error.code === SessionErrors['sessions.login_busy']) {
      const seconds = (error.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (seconds !== undefined) reply.header('retry-after', String(seconds));
    }
    throw error;
  };
}

export function sessionsRoutes(sessions: SessionsService): Route[] {
  const { cookie, tokens, loginAnswer } = loginAnswerer(sessions.secureCookies);
  const bearer = (authorization: string | undefined) => /^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '';

  return [
    defineRoute({
      method: 'POST',
      url: '/auth/login',
      auth: 'public',
      headers: NO_STORE,
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password (phase 1)',
        description:
          'Answers `mfa_required` (continue with /auth/login/mfa), `mfa_enrollment_required` (the tenant requires MFA: scan the QR code, then send the first code to /auth/login/mfa), or `authenticated` with an identity token and the accounts the user may enter; with exactly one account the session is created at once and its refresh token set as a cookie.',
        body: LoginBody,
        response: { 200: LoginResponse },
      },
      handler: async (ctx) => loginAnswer(ctx.reply, await sessions.login(ctx.input.body, ctx.meta).catch(busyRetryAfter(ctx.reply))),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/login/mfa',
      auth: 'public',
      headers: NO_STORE,
      schema: { tags: ['auth'], summary: 'Complete sign-in with a TOTP or recovery code', body: LoginMfaBody, response: { 200: LoginResponse } },
      handler: async (ctx) => loginAnswer(ctx.reply, await sessions.loginMfa(ctx.input.body, ctx.meta)),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/password/change',
      auth: 'public',
      headers: NO_STORE,
      schema: {
        tags: ['auth'],
        summary: 'Choose a new password when login answered password_change_required, then continue the login',
        description:
          "The password-change token is single use and bound to the user's security stamp. The new password must pass the policy (`identity.password_policy`; the token stays usable then). Answers like /auth/login after the last factor: `authenticated` with an identity token and the accounts, and with exactly one account the session.",
        body: PasswordChangeBody,
        response: { 200: LoginResponse },
      },
      handler: async (ctx) => loginAnswer(ctx.reply, await sessions.changePassword(ctx.input.body, ctx.meta)),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/select-account',
      auth: 'public',
      headers: NO_STORE,
      schema: {
        tags: ['auth'],
        summary: 'Create a session in an account (phase 2)',
        description: 'Authorization: Bearer <identity token>. Each identity token creates one session; a refused choice leaves it usable.',
        body: AccountBody,
        response: { 200: SessionTokens },
      },
      handler: async (ctx) => tokens(ctx.reply, await sessions.selectAccount({ identityToken: bearer(ctx.headers.authorization), accountId: ctx.input.body.accountId }, ctx.meta)),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/switch-account',
      auth: 'session',
      headers: NO_STORE,
      schema: { tags: ['auth'], summary: 'Switch to another account: a new session; the current one ends', body: AccountBody, response: { 200: SessionTokens } },
      handler: async (ctx) => tokens(ctx.reply, await sessions.switchAccount(ctx.principal, ctx.input.body.accountId, ctx.meta)),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/refresh',
      auth: 'public',
      headers: NO_STORE,
      schema: {
        tags: ['auth'],
        summary: 'Rotate the refresh token (cookie) for a new access token',
        description: 'A refresh token used twice outside the grace window (TESSERA_REFRESH_GRACE_SECONDS, default 10 s) revokes its session.',
        response: { 200: SessionTokens },
      },
      handler: async (ctx) => {
        // A refused refresh token is cleared from the browser: it will never work again.
        const issued = await sessions.refresh(ctx.cookies[REFRESH_COOKIE], ctx.meta).catch((error: unknown) => {
          ctx.reply.clearCookie(REFRESH_COOKIE, cookie);
          throw error;
        });
        return tokens(ctx.reply, issued);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/logout',
      auth: 'session',
      headers: NO_STORE,
      status: 204,
      schema: {
        tags: ['auth'], summary: 'End the current session',
        description: '204 when the session ends here. 200 `{ redirectTo }` when the session came from a SAML connection with an IdP SLO URL: send the browser there (a LogoutRequest, saml-profiles §4.4.3.1) so the IdP ends its session too.',
        response: { 204: NoContent, 200: LogoutRedirect },
      },
      handler: async (ctx) => {
        const { redirectTo } = await sessions.logout(ctx.principal, ctx.meta);
        ctx.reply.clearCookie(REFRESH_COOKIE, cookie);
        if (redirectTo === null) return;
        ctx.reply.status(200);
        return { redirectTo };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/sessions',
      auth: 'session',
      headers: NO_STORE,
      schema: { tags: ['sessions'], summary: "The caller's live sessions", response: { 200: SessionList } },
      handler: async (ctx) => ({ sessions: await sessions.listOwnSessions(ctx.principal) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/sessions',
      auth: 'session',
      headers: NO_STORE,
      schema: {
        tags: ['sessions'],
        summary: "Revoke all the caller's other sessions",
        description: 'Step-up: send `currentPassword`, or sign in again within the last 5 minutes (`sessions.step_up_required`).',
        body: RevokeOthersBody,
        response: { 200: RevokedCount },
      },
      handler: async (ctx) => ({ revoked: await sessions.revokeOtherSessions(ctx.principal, { currentPassword: ctx.input.body?.currentPassword }, ctx.meta) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/sessions/:sessionId',
      auth: 'session',
      headers: NO_STORE,
      status: 204,
      schema: { tags: ['sessions'], summary: 'Revoke one of your sessions', params: SessionIdParams, response: { 204: NoContent } },
      handler: (ctx) => sessions.revokeOwnSession(ctx.principal, ctx.input.params.sessionId, ctx.meta),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/users/:userId/sessions',
      auth: { permission: 'idp.manage' },
      headers: NO_STORE,
      schema: { tags: ['sessions'], summary: 'Revoke every session of a user (tenant administrators with idp.manage)', params: UserIdParams, response: { 200: RevokedCount } },
      handler: async (ctx) => ({ revoked: await sessions.revokeUserSessions(ctx.principal, ctx.input.params.userId, ctx.meta) }),
    }),
  ];
}
