import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError } from '../kernel/app-error.js';
import { KernelErrors } from '../kernel/errors.js';
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

/** An application calling with an API key of an account (the api-keys feature resolves it). */
export interface ApiKeyCaller {
  readonly kind: 'api_key';
  readonly id: string;
  readonly tenantId: string;
  readonly accountId: string;
  /** The key's scopes narrowed to what its creator holds account-wide at this request (the grant rule). */
  readonly permissions: ReadonlySet<string>;
}

/** A SCIM client (an IdP) calling with a bearer token of the directory its URL names (the scim feature resolves it). */
export interface ScimCaller {
  readonly kind: 'scim_directory';
  readonly directoryId: string;
  readonly tenantId: string;
  /** The SHA-256 of the bearer token; the scim feature checks it in the request's unit of work. */
  readonly tokenHash: Buffer;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
    apiKey: ApiKeyCaller | null;
    scim: ScimCaller | null;
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

/** Implemented by the api-keys feature: recognises an API key among bearer tokens and resolves it. */
export interface ApiKeyAuthenticator {
  /** Whether the bearer token is an API key (by its prefix) rather than an access token. */
  isApiKey(token: string): boolean;
  /** The key's caller, or throws an AppError (`api_keys.invalid`). */
  authenticate(token: string): Promise<ApiKeyCaller>;
}

/** Implemented by the scim feature: the bearer token must be a live token of the directory `directoryId` names. */
export interface ScimAuthenticator {
  /**
   * The caller, or throws an AppError (`scim.unauthorized`) for a malformed token or an unknown directory. Whether
   * the token is a live token of that directory is checked in the request's unit of work (one transaction, not two).
   */
  authenticate(directoryId: string, token: string): Promise<ScimCaller>;
}

/** The guard's refusal; the code is the kernel's, because access control raises it too (authz/check). */
export const AuthErrors = { permission_denied: KernelErrors.permission_denied } as const;

export interface AuthGuards {
  /** preHandler: the request must carry a valid access token of a live session. */
  readonly requireSession: preHandlerAsyncHookHandler;
  /** preHandler: a live session whose user holds `permission` in the session's account. */
  requirePermission(permission: string): preHandlerAsyncHookHandler;
  /** preHandler: an API key of an account (`Authorization: Bearer tak1…`) or else a live session. */
  readonly requireSessionOrApiKey: preHandlerAsyncHookHandler;
  /** preHandler: a bearer token of the SCIM directory named by the route's `:directoryId` (RFC 7644 §2). */
  readonly requireScimDirectory: preHandlerAsyncHookHandler;
}

/** The bearer token of `Authorization` (RFC 6750 §2.1), or '' without one. */
function bearerOf(request: FastifyRequest): string {
  return /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
}

export function createAuthGuards(authenticator: Authenticator, permissions: PermissionChecker, apiKeys?: ApiKeyAuthenticator, scim?: ScimAuthenticator): AuthGuards {
  async function requireSession(this: unknown, request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.auth = await authenticator.authenticate(request);
  }
  return {
    requireSession,
    async requireSessionOrApiKey(request: FastifyRequest, reply: FastifyReply) {
      const token = bearerOf(request);
      if (apiKeys?.isApiKey(token)) request.apiKey = await apiKeys.authenticate(token);
      else await requireSession.call(this, request, reply);
    },
    async requireScimDirectory(request: FastifyRequest) {
      if (!scim) throw new AppError(KernelErrors.not_found);
      const directoryId = (request.params as { directoryId?: string } | undefined)?.directoryId ?? '';
      request.scim = await scim.authenticate(directoryId, bearerOf(request));
    },
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
