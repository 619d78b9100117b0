import type { SigningAlgorithm } from '../../config/config.schema.js';
import type { KeyObject } from 'node:crypto';
import type { PasswordHasher } from '../../crypto/password.js';
import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import type { Principal } from '../../kernel/principal.js';
import type { Telemetry } from '../../kernel/telemetry.js';

/** What the sessions feature needs from others, declared as small ports (DESIGN §6 rule 4). */
export interface SigningKeys {
  currentSigningKey(): Promise<{ kid: string; alg: SigningAlgorithm; privateKey: KeyObject }>;
  verificationKeys(): Promise<ReadonlyMap<string, { kid: string; alg: SigningAlgorithm; publicKey: KeyObject }>>;
  /** One published key by kid, read now: a key another instance started signing with (keys feature). */
  publishedKey(kid: string): Promise<{ kid: string; alg: SigningAlgorithm; publicKey: KeyObject; notAfter?: number } | undefined>;
}

/** The MFA feature (TOTP and recovery codes). */
export interface MfaPort {
  isEnrolled(tx: Tx, tenantId: string, userId: string): Promise<boolean>;
  /** Single use and replay-safe; null when the code is wrong or already used. */
  verifyLoginFactor(tx: Tx, tenantId: string, userId: string, code: string): Promise<'totp' | 'recovery_code' | null>;
  startEnrollment(tx: Tx, tenantId: string, userId: string, label: string): Promise<{ secret: string; otpauthUri: string; qrCodeDataUrl: string }>;
  completeEnrollment(tx: Tx, tenantId: string, userId: string, code: string): Promise<{ recoveryCodes: string[] } | null>;
}

/** The user an action is taken by, as the audit log records it. */
export type UserActor = Extract<AuditActor, { type: 'user' }> & { readonly id: string };

/** How a caller proves it is still the user (step-up): the current password, or a recent authentication. */
export interface StepUpProof {
  /** The session's `auth_time`, seconds since the epoch. */
  readonly authTime?: number | undefined;
  readonly currentPassword?: string | undefined;
}

/** The user as login reads it by email (identity owns `users`). */
export interface LoginUser {
  readonly id: string;
  readonly email: string;
  readonly active: boolean;
  readonly password_hash: string | null;
  readonly must_change_password: boolean;
  readonly security_stamp: string;
}

/** The user as a login-phase token's redemption and a refresh read it by id. */
export type LoginUserById = Omit<LoginUser, 'password_hash'>;

/** The identity feature's users as login reads them (identity owns `users`; its index provides these). */
export interface LoginUsers {
  /** The user of `email` in the tenant (case-insensitive), in the caller's unit of work. */
  findLoginUser(tx: Tx, tenantId: string, email: string): Promise<LoginUser | undefined>;
  findLoginUserById(tx: Tx, tenantId: string, userId: string): Promise<LoginUserById | undefined>;
  /** Candidate tenants for an email when the caller named none, in a global unit of work (at most 4). */
  loginTenants(tx: Tx, email: string): Promise<string[]>;
}

/** The identity feature: passwords, security stamps and the tenant-administrator rule. */
export interface IdentityPort {
  requireTenantAdmin(tx: Tx, tenantId: string, userId: string): Promise<void>;
  /** Rotates the user's security stamp in the caller's unit of work (identity emits `user.security_stamp_changed`). */
  rotateSecurityStamp(tx: Tx, tenantId: string, userId: string, reason: 'sessions_revoked'): Promise<void>;
  /** Runs `work` in a unit of work opened by `unit` once the caller passed step-up (current password under its throttle, or a recent login). */
  guardStepUp<T>(tenantId: string, actor: UserActor, proof: StepUpProof, unit: (work: (tx: Tx) => Promise<T>) => Promise<T>, work: (tx: Tx) => Promise<T>): Promise<T>;
  /** The forced change at login: policy-checked, must-change cleared, stamp rotated, audited. */
  completeForcedPasswordChange(tx: Tx, tenantId: string, actor: UserActor, newPassword: string): Promise<void>;
}

/**
 * The identity feature's user events that sessions acts on (identity's `UserEvent`), delivered inside the
 * transaction of the write (app.ts subscribes `onUserEvent`).
 */
export type UserEventPort =
  | { readonly type: 'user.changed'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'user.deactivated'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'user.security_stamp_changed'; readonly tenantId: string; readonly userId: string; readonly reason: string; readonly sessionId?: string };

/** The tenant's session policy (tenants feature). */
export type SecurityPolicyReader = (tx: Tx, tenantId: string) => Promise<{ mfaRequired: boolean; sessionLifetimeSeconds: number; refreshLifetimeSeconds: number }>;

export type EnterableAccounts = (tx: Tx, tenantId: string, userId: string, now: Date) => Promise<{ id: string; name: string }[]>;

export interface SessionsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keys: SigningKeys;
  readonly passwords: PasswordHasher;
  readonly audit: AuditRecorder;
  readonly mfa: MfaPort;
  readonly identity: IdentityPort;
  readonly users: LoginUsers;
  /** The accounts a user may enter: an active assignment, direct or through a group (the rbac feature). */
  readonly enterableAccounts: EnterableAccounts;
  readonly securityPolicy: SecurityPolicyReader;
  /** `iss` of every token: the server's public URL. */
  readonly issuer: string;
  /** `aud` of access tokens, when configured. */
  readonly audience?: string;
  readonly accessTokenTtlSeconds: number;
  /**
   * The tenant a login without `tenantId` is for, when the email's domain is verified by exactly one tenant
   * (a seam for the SSO feature's verified domains; absent: the tenants where the email exists are tried).
   * A tenant resolved here is treated like one the client named.
   */
  readonly tenantForEmail?: (email: string) => Promise<string | undefined>;
  /** The Require-SSO policy of password logins (the sso feature); absent: no domain requires SSO. */
  readonly ssoPolicy?: SsoPolicyPort;
  /** A repeat of a rotated refresh token within this window gets the same successor (two tabs). Default 10 s. */
  readonly refreshGraceSeconds?: number;
  /**
   * The identity source's own logout for a session that came from it (the sso feature: a SAML LogoutRequest to the
   * IdP's SLO URL, saml-profiles §4.4.3.1), in the logout's unit of work; null when the source has none.
   */
  readonly sourceLogout?: (tx: Tx, tenantId: string, sourceId: string, meta: RequestMeta) => Promise<string | null>;
  /** Where logins, refreshes, revocations and session-state batches are counted (the operator's metrics). */
  readonly telemetry?: Telemetry;
  /** The CPU budget of password logins (login-admission.ts); absent: the defaults, fed by `requestDemand`. */
  readonly loginAdmission?: LoginAdmissionSettings;
}

/** Login admission settings (config: TESSERA_LOGIN_HASH_SHARE, TESSERA_LOGIN_QUEUE, TESSERA_LOGIN_QUEUE_PER_ADDRESS). */
export interface LoginAdmissionSettings {
  readonly share: number;
  readonly queueLimit: number;
  readonly perAddressLimit: number;
}

/** Where a password login of an email must continue instead (the `sso_required` answer's public details). */
export interface SsoContinuation {
  readonly discoverUrl: string;
  readonly connection: { readonly id: string; readonly name: string; readonly startUrl: string };
}

/**
 * The tenant's Require-SSO policy for a password login of an email (the sso feature, wired in app.ts): `none`
 * (the domain does not require SSO), `lifted` (it does, but no enabled connection serves it: never lock the
 * tenant out), or `enforced`.
 */
export type PasswordLoginSsoPolicy =
  | { readonly kind: 'none' }
  | { readonly kind: 'lifted'; readonly domain: string }
  | { readonly kind: 'enforced'; readonly domain: string; readonly continueWith: SsoContinuation };

export interface SsoPolicyPort {
  /** In the tenant's unit of work: the policy for `email`, decided from its domain only (never the user). */
  passwordLoginPolicy(tx: Tx, tenantId: string, email: string): Promise<PasswordLoginSsoPolicy>;
  /** The user is one of the tenant's break-glass users and still an active tenant administrator. */
  isBreakGlass(tx: Tx, tenantId: string, userId: string): Promise<boolean>;
}

/** Where a request comes from, for session listing, throttling and audit. */
export interface RequestMeta {
  readonly ip: string;
  readonly userAgent: string | null;
}

/** The caller of an authenticated request (the shape of http/auth.ts AuthContext, plus the authorization epoch). */
export interface SessionAuth {
  readonly tenantId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly sessionId: string;
  readonly authzEpoch: number;
  /** When the user authenticated for this session (the access token's `auth_time`), seconds since the epoch. */
  readonly authTime?: number | undefined;
  /** The caller's own user record, read with the session on this request (GET /api/v1/me shows it). */
  readonly user: Principal;
}

/** The caller as services need it. */
export type Caller = Pick<SessionAuth, 'tenantId' | 'userId' | 'accountId' | 'sessionId' | 'authTime'>;
