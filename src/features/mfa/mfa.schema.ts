import { z } from 'zod';

export const MfaStatus = z
  .object({ enabled: z.boolean(), enabledAt: z.iso.datetime().nullable(), recoveryCodesRemaining: z.number().int() })
  .meta({ id: 'MfaStatus' });

export const MfaSetup = z
  .object({
    secret: z.string().describe('Base32 shared secret, for typing into an authenticator by hand.'),
    otpauthUri: z.string().describe('otpauth://totp/… (SHA-1, 6 digits, 30 s).'),
    qrCodeDataUrl: z.string().describe('The otpauth URI as a PNG QR code data URL.'),
  })
  .meta({ id: 'MfaSetup' });

export const MfaVerifyBody = z
  .object({
    code: z
      .string()
      .max(20)
      .transform((c) => c.replace(/\s+/g, ''))
      .pipe(z.string().regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app')),
  })
  .strict();

export const RecoveryCodes = z
  .object({ recoveryCodes: z.array(z.string()).describe('10 single-use codes, shown only now: store them safely.') })
  .meta({ id: 'RecoveryCodes' });

/** Step-up: the current password, unless the session's login is less than 5 minutes old. An empty body is allowed. */
export const MfaSetupBody = z
  .object({ currentPassword: z.string().min(1).max(512).optional().describe('Needed unless you signed in within the last 5 minutes.') })
  .strict()
  .nullish();

export const MfaDisableBody = z.object({ currentPassword: z.string().max(512) }).strict();

export const UserIdParams = z.object({ userId: z.uuid() });
