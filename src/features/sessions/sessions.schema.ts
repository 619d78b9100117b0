import { z } from 'zod';

const Uuid = z.uuid();

export const LoginBody = z
  .object({
    email: z.string().trim().min(3).max(320),
    password: z.string().min(1).max(1024),
    tenantId: Uuid.optional().describe('The tenant to sign in to; needed only when the email exists in several tenants.'),
  })
  .strict()
  .meta({ id: 'LoginRequest' });

export const LoginMfaBody = z
  .object({
    challengeToken: z.string().min(1).max(8192),
    code: z.string().trim().min(6).max(64).describe('A 6-digit TOTP code or a recovery code.'),
  })
  .strict()
  .meta({ id: 'LoginMfaRequest' });

export const PasswordChangeBody = z
  .object({
    passwordChangeToken: z.string().min(1).max(8192).describe('From a login answer `password_change_required`.'),
    newPassword: z.string().min(1).max(1024),
  })
  .strict()
  .meta({ id: 'PasswordChangeRequest' });

/** Step-up for revoking every other session: the current password, unless the login is less than 5 minutes old. */
export const RevokeOthersBody = z
  .object({ currentPassword: z.string().min(1).max(512).optional().describe('Needed unless you signed in within the last 5 minutes.') })
  .strict()
  .nullish();

export const AccountBody = z.object({ accountId: Uuid }).strict().meta({ id: 'AccountSelection' });

export const SessionTokens = z
  .object({
    tokenType: z.literal('Bearer'),
    accessToken: z.string(),
    expiresIn: z.number().int().describe('Seconds until the access token expires.'),
    sessionId: Uuid,
    accountId: Uuid,
  })
  .meta({ id: 'SessionTokens', description: 'The refresh token is set as the HttpOnly cookie `tessera_refresh` (Path=/auth), never in the body.' });

const Account = z.object({ id: Uuid, name: z.string() });

export const LoginResponse = z
  .discriminatedUnion('status', [
    z.object({ status: z.literal('mfa_required'), challengeToken: z.string(), expiresIn: z.number().int() }),
    z.object({
      status: z.literal('password_change_required'),
      passwordChangeToken: z.string().describe('Accepted only by POST /auth/password/change, once.'),
      expiresIn: z.number().int(),
    }),
    z.object({
      status: z.literal('mfa_enrollment_required'),
      challengeToken: z.string(),
      expiresIn: z.number().int(),
      enrollment: z.object({ secret: z.string(), otpauthUri: z.string(), qrCodeDataUrl: z.string() }),
    }),
    z.object({
      status: z.literal('authenticated'),
      identityToken: z.string().optional().describe('Only without `session` (several accounts): POST /auth/select-account takes it, once. Earlier versions sent it with a session too.'),
      expiresIn: z.number().int().optional().describe('The identity token\'s lifetime in seconds, with it.'),
      tenantId: Uuid,
      userId: Uuid,
      accounts: z.array(Account),
      mustChangePassword: z.boolean().describe('Always false: a user who must change the password gets `password_change_required` instead.'),
      recoveryCodes: z.array(z.string()).optional().describe('Shown once, after an enrollment completed during login.'),
      session: SessionTokens.optional().describe('Present when the user may enter exactly one account.'),
    }),
  ])
  .meta({ id: 'LoginResponse' });

export const SessionView = z
  .object({
    id: Uuid,
    accountId: Uuid,
    accountName: z.string(),
    current: z.boolean(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: z.string(),
    lastSeenAt: z.string().describe('Last sign-in or token refresh.'),
    expiresAt: z.string(),
  })
  .meta({ id: 'Session' });

/** POST /auth/logout, when the session's identity source has its own logout (SAML SLO): where the browser goes. */
export const LogoutRedirect = z.object({ redirectTo: z.string().describe('The IdP\'s SLO URL with our LogoutRequest: send the browser there') }).meta({ id: 'LogoutRedirect' });
export const SessionList = z.object({ sessions: z.array(SessionView) }).meta({ id: 'SessionList' });
export const RevokedCount = z.object({ revoked: z.number().int() }).meta({ id: 'RevokedSessions' });
export const SessionIdParams = z.object({ sessionId: Uuid });
export const UserIdParams = z.object({ userId: Uuid });
