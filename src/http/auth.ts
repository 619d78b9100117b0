import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError, defineErrors } from '../kernel/app-error.js';
import type { Principal } from '../kernel/principal.js';

/** Who is calling: set by `requireSession` on every authenticated request. */
export interface AuthContext {
  readonly tenantId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly sessionId: string;
  /** The account's authorization epoch read with the session on this request (DESIGN §3). */
  readonly authzEpoch?: number;
  /** When the user authenticated for this session (`auth_time`, OIDC Core §2), seconds since the epoch. */
  readonly authTime?: number | undefined;
  /** The caller's own user record, the principal identity owns, read with the session on this request (DESIGN §3 step 2; GET /api/v1/me). */
  readonly user: Principal;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

/** Implemented by the sessions feature: verifies the bearer token and the live session (DESIGN §3). */
export interface Authenticator {
  /** Resolves the caller or throws an AppError (`invalid_token`, `sessions.account_context_required`, …). */
  authenticate(request: FastifyRequest): Promise<AuthContext>;
}

/** Implemented by the access-control feature: does the caller hold `permission` in its account? */
export interface PermissionChecker {
  has(auth: AuthContext, permission: string): Promise<boolean>;
}

export const AuthErrors = defineErrors({
  permission_denied: { status: 403, message: 'You do not have the permission this action needs.' },
});

export interface AuthGuards {
  /** preHandler: the request must carry a valid access token of a live session. */
  readonly requireSession: preHandlerAsyncHookHandler;
  /** preHandler: a live session whose user holds `permission` in the session's account. */
  requirePermission(permission: string): preHandlerAsyncHookHandler;
}

export function createAuthGuards(authenticator: Authenticator, permissions: PermissionChecker): AuthGuards {
  async function requireSession(this: unknown, request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.auth = await authenticator.authenticate(request);
  }
  return {
    requireSession,
    requirePermission(permission) {
      return async function (request: FastifyRequest, reply: FastifyReply) {
        if (!request.auth) await requireSession.call(this, request, reply);
        if (!(await permissions.has(request.auth!, permission))) {
          throw new AppError(AuthErrors.permission_denied, { message: `Missing permission ${permission}.`, detail: { permission } });
        }
      };
    },
  };
}

declare module '../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof AuthErrors, true> {}
}
