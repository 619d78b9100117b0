import { dictionary } from '@zxcvbn-ts/language-common';
import { PASSWORD_MAX, PASSWORD_MIN } from '../../crypto/password.js';

/**
 * The password policy (DESIGN §4; NIST SP 800-63B §5.1.1.2): 8 to 128 characters (Unicode code points), and not on the
 * common-password list zxcvbn-ts ships (`passwords-common`, ~49,000 entries from breach corpora), compared
 * case-insensitively; nor the user's own email address.
 */
const COMMON = new Set(dictionary['passwords-common'].filter((p) => p.length >= PASSWORD_MIN).map((p) => p.toLowerCase()));

export function passwordProblem(password: string, context: { email?: string } = {}): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `The password must have at least ${PASSWORD_MIN} characters.`;
  if (length > PASSWORD_MAX) return `The password must have at most ${PASSWORD_MAX} characters.`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return 'This password is on a list of commonly used passwords; choose another.';
  const email = context.email?.toLowerCase();
  if (email && (lower === email || lower === email.slice(0, email.lastIndexOf('@')))) {
    return 'The password must not be your email address.';
  }
  return null;
}
