import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuthGuards } from '../../http/auth.js';
import { isAppError } from '../../kernel/app-error.js';
import type { IssuedSession } from './session-issuer.js';
import { SessionErrors } from './sessions.errors.js';
import type { RequestMeta } from './sessions.ports.js';
import {
  AccountBody,
  LoginBody,
  LoginMfaBody,
  LoginResponse,
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

function meta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

function bearer(request: FastifyRequest): string {
  return /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
}

export function sessionsRoutes(sessions: SessionsService, guards: AuthGuards): FastifyPluginAsyncZod {
  function setRefreshCookie(reply: FastifyReply, issued: IssuedSession) {
    reply.setCookie(REFRESH_COOKIE, issued.refreshToken, {
      httpOnly: true,
      secure: sessions.secureCookies,
      sameSite: 'lax',
      path: COOKIE_PATH,
      expires: issued.refreshExpiresAt,
    });
  }
  function clearRefreshCookie(reply: FastifyReply) {
    reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, secure: sessions.secureCookies, sameSite: 'lax', path: COOKIE_PATH });
  }
  function tokens(issued: IssuedSession) {
    return { tokenType: 'Bearer' as const, accessToken: issued.accessToken, expiresIn: issued.expiresIn, sessionId: issued.sessionId, accountId: issued.accountId };
  }
  /** A throttled answer carries Retry-After (RFC 9110 §10.2.3). */
  function withRetryAfter(reply: FastifyReply) {
    return (error: unknown): never => {
      if (isAppError(error) && error.code === SessionErrors['sessions.too_many_attempts']) {
        const seconds = (error.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
        if (seconds) reply.header('retry-after', String(seconds));
      }
      throw error;
    };
  }
  const noStore = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
  };

  return async (app) => {
    app.addHook('onRequest', noStore);

    app.post(
      '/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in with email and password (phase 1)',
          description:
            'Answers `mfa_required` (continue with /auth/login/mfa), `mfa_enrollment_required` (the tenant requires MFA: scan the QR code, then send the first code to /auth/login/mfa), or `authenticated` with an identity token and the accounts the user may enter; with exactly one account the session is created at once and its refresh token set as a cookie.',
          body: LoginBody,
          response: { 200: LoginResponse },
        },
      },
      async (request, reply) => {
        const result = await sessions.login(request.body, meta(request)).catch(withRetryAfter(reply));
        if (result.status !== 'authenticated' || !result.session) return result as never;
        setRefreshCookie(reply, result.session);
        return { ...result, session: tokens(result.session) };
      },
    );

    app.post(
      '/auth/login/mfa',
      {
        schema: { tags: ['auth'], summary: 'Complete sign-in with a TOTP or recovery code', body: LoginMfaBody, response: { 200: LoginResponse } },
      },
      async (request, reply) => {
        const result = await sessions.loginMfa(request.body, meta(request)).catch(withRetryAfter(reply));
        if (result.status !== 'authenticated' || !result.session) return result as never;
        setRefreshCookie(reply, result.session);
        return { ...result, session: tokens(result.session) };
      },
    );

    app.post(
      '/auth/password/change',
      {
        schema: {
          tags: ['auth'],
          summary: 'Choose a new password when login answered password_change_required, then continue the login',
          description:
            'The password-change token is single use and bound to the user\'s security stamp. The new password must pass the policy (`identity.password_policy`; the token stays usable then). Answers like /auth/login after the last factor: `authenticated` with an identity token and the accounts, and with exactly one account the session.',
          body: PasswordChangeBody,
          response: { 200: LoginResponse },
        },
      },
      async (request, reply) => {
        const result = await sessions.changePassword(request.body, meta(request));
        if (result.status !== 'authenticated' || !result.session) return result as never;
        setRefreshCookie(reply, result.session);
        return { ...result, session: tokens(result.session) };
      },
    );

    app.post(
      '/auth/select-account',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create a session in an account (phase 2)',
          description: 'Authorization: Bearer <identity token>. Each identity token creates one session; a refused choice leaves it usable.',
          body: AccountBody,
          response: { 200: SessionTokens },
        },
      },
      async (request, reply) => {
        const issued = await sessions.selectAccount({ identityToken: bearer(request), accountId: request.body.accountId }, meta(request));
        setRefreshCookie(reply, issued);
        return tokens(issued);
      },
    );

    app.post(
      '/auth/switch-account',
      {
        preHandler: guards.requireSession,
        schema: { tags: ['auth'], summary: 'Switch to another account: a new session; the current one ends', body: AccountBody, response: { 200: SessionTokens } },
      },
      async (request, reply) => {
        const issued = await sessions.switchAccount(request.auth!, request.body.accountId, meta(request));
        setRefreshCookie(reply, issued);
        return tokens(issued);
      },
    );

    app.post(
      '/auth/refresh',
      {
        schema: {
          tags: ['auth'],
          summary: 'Rotate the refresh token (cookie) for a new access token',
          description: 'A refresh token used twice outside the grace window (TESSERA_REFRESH_GRACE_SECONDS, default 10 s) revokes its session.',
          response: { 200: SessionTokens },
        },
      },
      async (request, reply) => {
        try {
          const issued = await sessions.refresh(request.cookies[REFRESH_COOKIE], meta(request));
          setRefreshCookie(reply, issued);
          return tokens(issued);
        } catch (error) {
          clearRefreshCookie(reply);
          throw error;
        }
      },
    );

    app.post(
      '/auth/logout',
      { preHandler: guards.requireSession, schema: { tags: ['auth'], summary: 'End the current session' } },
      async (request, reply) => {
        await sessions.logout(request.auth!, meta(request));
        clearRefreshCookie(reply);
        return reply.code(204).send();
      },
    );

    app.get(
      '/api/v1/me/sessions',
      { preHandler: guards.requireSession, schema: { tags: ['sessions'], summary: "The caller's live sessions", response: { 200: SessionList } } },
      async (request) => ({ sessions: await sessions.listOwnSessions(request.auth!) }),
    );

    app.delete(
      '/api/v1/me/sessions',
      {
        preHandler: guards.requireSession,
        schema: {
          tags: ['sessions'],
          summary: "Revoke all the caller's other sessions",
          description: 'Step-up: send `currentPassword`, or sign in again within the last 5 minutes (`sessions.step_up_required`).',
          body: RevokeOthersBody,
          response: { 200: RevokedCount },
        },
      },
      async (request) => ({ revoked: await sessions.revokeOtherSessions(request.auth!, { currentPassword: request.body?.currentPassword }, meta(request)) }),
    );

    app.delete(
      '/api/v1/me/sessions/:sessionId',
      { preHandler: guards.requireSession, schema: { tags: ['sessions'], summary: 'Revoke one of your sessions', params: SessionIdParams } },
      async (request, reply) => {
        await sessions.revokeOwnSession(request.auth!, request.params.sessionId, meta(request));
        return reply.code(204).send();
      },
    );

    app.delete(
      '/api/v1/users/:userId/sessions',
      {
        preHandler: guards.requirePermission('idp.manage'),
        schema: { tags: ['sessions'], summary: 'Revoke every session of a user (tenant administrators with idp.manage)', params: UserIdParams, response: { 200: RevokedCount } },
      },
      async (request) => ({ revoked: await sessions.revokeUserSessions(request.auth!, request.params.userId, meta(request)) }),
    );
  };
}
