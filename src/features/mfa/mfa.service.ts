import QRCode from 'qrcode';
import type { Keyring } from '../../crypto/keyring.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import type { IdentityService, UserActor } from '../identity/index.js';
import { MfaErrors } from './mfa.errors.js';
import * as store from './mfa.store.js';
import { hashRecoveryCode, newRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from './recovery-codes.js';
import { looksLikeTotpCode, matchingStep, newTotpSecret, otpauthUri } from './totp.js';

export interface MfaDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring<Tx>;
  readonly audit: AuditRecorder;
  readonly identity: IdentityService;
  /** The issuer authenticator apps show beside the account label. */
  readonly issuer?: string;
}

export type LoginFactor = 'totp' | 'recovery_code';

export interface Enrollment {
  /** Base32 secret, for entering by hand. */
  readonly secret: string;
  readonly otpauthUri: string;
  /** The otpauth URI as a PNG QR code, `data:image/png;base64,…`. */
  readonly qrCodeDataUrl: string;
}

/** The secret's keyring field names the user: a ciphertext copied to another user or tenant fails to decrypt. */
function secretField(userId: string): string {
  return `mfa.totp_secret/${userId}`;
}

function selfActor(userId: string): AuditActor {
  return { type: 'user', id: userId };
}

export function createMfa({ db, clock, keyring, audit, identity, issuer = 'Tessera' }: MfaDeps) {
  async function readSecret(tx: Tx, tenantId: string, userId: string, enc: Uint8Array): Promise<string> {
    return keyring.decryptString(tx, tenantId, secretField(userId), enc);
  }

  async function isEnrolled(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
    const factor = await store.findFactor(tx, tenantId, userId);
    return Boolean(factor?.enabled_at);
  }

  /**
   * Checks a second factor at login: a 6-digit TOTP code (accepted at most once, ±1 step) or an unused
   * recovery code (then used up). Null when the user has no enabled factor or the code is wrong.
   */
  async function verifyLoginFactor(tx: Tx, tenantId: string, userId: string, code: string): Promise<LoginFactor | null> {
    const factor = await store.findFactor(tx, tenantId, userId);
    if (!factor?.enabled_at) return null;
    const now = clock.now();
    const given = code.trim();
    // Authenticator apps show "123 456"; the space is not part of the code.
    const digits = given.replace(/\s+/g, '');
    if (looksLikeTotpCode(digits)) {
      const step = matchingStep(await readSecret(tx, tenantId, userId, factor.totp_secret_enc), digits, now);
      // RFC 6238 §5.2: a code already accepted (or older than one accepted) is refused.
      if (step === null || !(await store.consumeStep(tx, tenantId, userId, step, now))) return null;
      return 'totp';
    }
    const normalized = normalizeRecoveryCode(given);
    if (!normalized) return null;
    return (await store.consumeRecoveryCode(tx, tenantId, userId, hashRecoveryCode(normalized), now)) ? 'recovery_code' : null;
  }

  /** Issues a new secret (replacing a pending one). Refused when the user's factor is already enabled. */
  async function startEnrollment(tx: Tx, tenantId: string, userId: string, label: string): Promise<Enrollment> {
    const secret = newTotpSecret();
    const enc = await keyring.encrypt(tx, tenantId, secretField(userId), secret);
    if (!(await store.savePendingFactor(tx, tenantId, userId, enc, clock.now()))) {
      throw new AppError(MfaErrors['mfa.already_enabled']);
    }
    const uri = otpauthUri(secret, issuer, label);
    const qrCodeDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 256 });
    return { secret, otpauthUri: uri, qrCodeDataUrl };
  }

  /**
   * Enables the pending factor with a first valid code and returns 10 new recovery codes, shown once.
   * Null when the code is wrong. Records `mfa.enabled` in the same transaction.
   */
  async function completeEnrollment(
    tx: Tx,
    tenantId: string,
    userId: string,
    code: string,
    actor: AuditActor = selfActor(userId),
  ): Promise<{ recoveryCodes: string[] } | null> {
    const factor = await store.findFactor(tx, tenantId, userId);
    if (!factor) throw new AppError(MfaErrors['mfa.setup_not_started']);
    if (factor.enabled_at) throw new AppError(MfaErrors['mfa.already_enabled']);
    const now = clock.now();
    const step = matchingStep(await readSecret(tx, tenantId, userId, factor.totp_secret_enc), code.replace(/\s+/g, ''), now);
    if (step === null || !(await store.enableFactor(tx, tenantId, userId, step, now))) return null;
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await store.replaceRecoveryCodes(tx, tenantId, userId, recoveryCodes.map((c) => hashRecoveryCode(normalizeRecoveryCode(c)!)), now);
    // A new second factor changes how the user proves who they are: login-phase tokens issued before end.
    await identity.rotateSecurityStamp(tx, tenantId, userId, 'mfa_changed');
    await audit.record(tx, tenantId, { action: 'mfa.enabled', actor, target: { type: 'user', id: userId }, outcome: 'success', details: { method: 'totp' } });
    return { recoveryCodes };
  }

  async function status(tx: Tx, tenantId: string, userId: string) {
    const factor = await store.findFactor(tx, tenantId, userId);
    const enabled = Boolean(factor?.enabled_at);
    return {
      enabled,
      enabledAt: factor?.enabled_at ?? null,
      recoveryCodesRemaining: enabled ? await store.countUnusedRecoveryCodes(tx, tenantId, userId) : 0,
    };
  }

  return {
    // The second factor as the login pipeline uses it, in the pipeline's unit of work (sessions' MfaPort).
    isEnrolled,
    verifyLoginFactor,
    startEnrollment,
    completeEnrollment,
    status,

    /** GET /me/mfa: whether the caller's factor is on, since when, and how many recovery codes are left. */
    async getStatus(tenantId: string, userId: string) {
      const current = await db.tenantWork(tenantId, (tx) => status(tx, tenantId, userId));
      return { ...current, enabledAt: current.enabledAt ? new Date(current.enabledAt).toISOString() : null };
    },

    /**
     * POST /me/mfa/setup: a new pending secret labelled with the caller's email, after step-up (NIST SP 800-63B
     * §4.2.3: binding an authenticator needs the current password or a login within 5 minutes).
     */
    async setup(tenantId: string, actor: UserActor, proof: { authTime?: number | undefined; currentPassword?: string | undefined }): Promise<Enrollment> {
      return identity.guardStepUp(tenantId, actor, proof, (work) => db.tenantWork(tenantId, work), async (tx) => {
        const user = await identity.getUser(tx, tenantId, actor.id);
        return startEnrollment(tx, tenantId, actor.id, user.email);
      });
    },

    /** POST /me/mfa/verify: the first valid code enables the factor. */
    async verifySetup(tenantId: string, actor: UserActor, code: string) {
      return db.tenantWork(tenantId, async (tx) => {
        const result = await completeEnrollment(tx, tenantId, actor.id, code, actor);
        if (!result) throw new AppError(MfaErrors['mfa.invalid_code']);
        return result;
      });
    },

    /** POST /me/mfa/disable: the current password is required, checked under the per-user throttle (identity). */
    async disable(tenantId: string, actor: UserActor, currentPassword: string): Promise<void> {
      await identity.guardCurrentPassword(tenantId, actor, () =>
        db.tenantWork(tenantId, async (tx) => {
          await identity.requireCurrentPassword(tx, tenantId, actor.id, currentPassword);
          if (!(await store.deleteFactor(tx, tenantId, actor.id))) throw new AppError(MfaErrors['mfa.not_enabled']);
          await identity.rotateSecurityStamp(tx, tenantId, actor.id, 'mfa_changed');
          await audit.record(tx, tenantId, { action: 'mfa.disabled', actor, target: { type: 'user', id: actor.id }, outcome: 'success' });
        }),
      );
    },

    /** A tenant administrator removes another user's factor (lost device); the user may enroll again. */
    async resetForUser(tenantId: string, actor: UserActor, userId: string): Promise<void> {
      // Refusals of the takeover rule are audited even though the unit of work rolls back (rbac's grant rule).
      await identity.refusalsRecorded(tenantId, actor, async (tx) => {
        await identity.requireTenantAdmin(tx, tenantId, actor.id);
        // A takeover: the next login with the password enrolls whichever authenticator is shown (rbac's takeover rule).
        await identity.guardTakeover(tx, tenantId, actor, userId, 'user.mfa_reset');
        const removed = await store.deleteFactor(tx, tenantId, userId);
        // An MFA challenge issued before the reset must not complete a login with the removed factor gone.
        await identity.rotateSecurityStamp(tx, tenantId, userId, 'mfa_changed');
        await audit.record(tx, tenantId, {
          action: 'user.mfa_reset',
          actor,
          target: { type: 'user', id: userId },
          outcome: 'success',
          details: { hadFactor: removed },
        });
      });
    },
  };
}

export type MfaService = ReturnType<typeof createMfa>;
