import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { MfaDisableBody, MfaSetup, MfaSetupBody, MfaStatus, MfaVerifyBody, RecoveryCodes, UserIdParams } from './mfa.schema.js';
import type { MfaService } from './mfa.service.js';

/** A new secret and recovery codes are shown once: never cached (RFC 9111 §5.2.2.5). */
const NO_STORE = { 'cache-control': 'no-store' } as const;

export function mfaRoutes(mfa: MfaService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/mfa',
      auth: 'session',
      schema: { tags: ['mfa'], summary: 'Whether two-step verification is on', response: { 200: MfaStatus } },
      handler: (ctx) => mfa.getStatus(ctx.tenantId, ctx.userId),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/mfa/setup',
      auth: 'session',
      headers: NO_STORE,
      schema: {
        tags: ['mfa'],
        summary: 'Start setting up TOTP two-step verification',
        description:
          'Returns a new secret, its otpauth URI and a QR code. Nothing changes for login until /me/mfa/verify succeeds. Step-up: send `currentPassword`, or sign in again within the last 5 minutes (`sessions.step_up_required`); wrong current passwords are throttled like logins.',
        body: MfaSetupBody,
        response: { 200: MfaSetup },
      },
      handler: (ctx) => mfa.setup(ctx.tenantId, ctx.actor, { authTime: ctx.principal.authTime, currentPassword: ctx.input.body?.currentPassword }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/mfa/verify',
      auth: 'session',
      headers: NO_STORE,
      schema: {
        tags: ['mfa'],
        summary: 'Turn two-step verification on with a first code',
        description: 'Returns 10 single-use recovery codes, shown only once.',
        body: MfaVerifyBody,
        response: { 200: RecoveryCodes },
      },
      handler: (ctx) => mfa.verifySetup(ctx.tenantId, ctx.actor, ctx.input.body.code),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/mfa/disable',
      auth: 'session',
      status: 204,
      schema: {
        tags: ['mfa'],
        summary: 'Turn two-step verification off (current password required)',
        description: 'Wrong current passwords are throttled like logins (`identity.too_many_password_attempts`).',
        body: MfaDisableBody,
        response: { 204: NoContent },
      },
      handler: (ctx) => mfa.disable(ctx.tenantId, ctx.actor, ctx.input.body.currentPassword),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/users/:userId/mfa',
      auth: { permission: 'idp.manage' },
      status: 204,
      schema: {
        tags: ['mfa', 'users'],
        summary: "Reset another user's two-step verification",
        description:
          "Tenant administrators: removes the TOTP factor and recovery codes (a lost device); the user can set it up again. Needs at least the user's access in every account (`rbac.target_exceeds_own_access`); not for yourself (`identity.self_service_required`).",
        params: UserIdParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => mfa.resetForUser(ctx.tenantId, ctx.actor, ctx.input.params.userId),
    }),
  ];
}
