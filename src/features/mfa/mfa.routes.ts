import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Database } from '../../db/database.js';
import type { AuthGuards } from '../../http/auth.js';
import { userActor } from '../identity/index.js';
import { MfaDisableBody, MfaSetup, MfaSetupBody, MfaStatus, MfaVerifyBody, RecoveryCodes, UserIdParams } from './mfa.schema.js';
import type { MfaService } from './mfa.service.js';

export function mfaRoutes({ db, mfa, guards }: { db: Database; mfa: MfaService; guards: AuthGuards }): FastifyPluginAsyncZod {
  return async (app) => {
    const self = { onRequest: guards.requireSession };

    app.get('/api/v1/me/mfa', { ...self, schema: { tags: ['mfa'], summary: 'Whether two-step verification is on', response: { 200: MfaStatus } } }, async (request) => {
      const { tenantId, userId } = request.auth!;
      const status = await db.tenantWork(tenantId, (tx) => mfa.status(tx, tenantId, userId));
      return { ...status, enabledAt: status.enabledAt ? new Date(status.enabledAt).toISOString() : null };
    });

    app.post(
      '/api/v1/me/mfa/setup',
      {
        ...self,
        schema: {
          tags: ['mfa'],
          summary: 'Start setting up TOTP two-step verification',
          description:
            'Returns a new secret, its otpauth URI and a QR code. Nothing changes for login until /me/mfa/verify succeeds. Step-up: send `currentPassword`, or sign in again within the last 5 minutes (`sessions.step_up_required`); wrong current passwords are throttled like logins.',
          body: MfaSetupBody,
          response: { 200: MfaSetup },
        },
      },
      async (request, reply) => {
        const { tenantId, userId, authTime } = request.auth!;
        reply.header('cache-control', 'no-store');
        const proof = { authTime, currentPassword: request.body?.currentPassword };
        return mfa.guardStepUp(tenantId, userActor(request), proof, (work) => db.tenantWork(tenantId, work), (tx) => mfa.setupForSelf(tx, tenantId, userId));
      },
    );

    app.post(
      '/api/v1/me/mfa/verify',
      {
        ...self,
        schema: {
          tags: ['mfa'],
          summary: 'Turn two-step verification on with a first code',
          description: 'Returns 10 single-use recovery codes, shown only once.',
          body: MfaVerifyBody,
          response: { 200: RecoveryCodes },
        },
      },
      async (request, reply) => {
        const { tenantId } = request.auth!;
        reply.header('cache-control', 'no-store');
        return db.tenantWork(tenantId, (tx) => mfa.verifySetupForSelf(tx, tenantId, userActor(request), request.body.code));
      },
    );

    app.post(
      '/api/v1/me/mfa/disable',
      {
        ...self,
        schema: {
          tags: ['mfa'],
          summary: 'Turn two-step verification off (current password required)',
          description: 'Wrong current passwords are throttled like logins (`identity.too_many_password_attempts`).',
          body: MfaDisableBody,
        },
      },
      async (request, reply) => {
        const { tenantId } = request.auth!;
        const actor = userActor(request);
        await mfa.guardCurrentPassword(tenantId, actor, () => db.tenantWork(tenantId, (tx) => mfa.disableForSelf(tx, tenantId, actor, request.body.currentPassword)));
        return reply.code(204).send();
      },
    );

    app.delete(
      '/api/v1/users/:userId/mfa',
      {
        onRequest: guards.requirePermission('idp.manage'),
        schema: {
          tags: ['mfa', 'users'],
          summary: "Reset another user's two-step verification",
          description:
            "Tenant administrators: removes the TOTP factor and recovery codes (a lost device); the user can set it up again. Needs at least the user's access in every account (`rbac.target_exceeds_own_access`); not for yourself (`identity.self_service_required`).",
          params: UserIdParams,
        },
      },
      async (request, reply) => {
        const { tenantId } = request.auth!;
        const actor = userActor(request);
        await mfa.refusalsRecorded(tenantId, actor, (tx) => mfa.resetForUser(tx, tenantId, actor, request.params.userId));
        return reply.code(204).send();
      },
    );
  };
}
