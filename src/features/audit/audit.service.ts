import type { Keyring } from '../../crypto/keyring.js';
import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { createAuditRecorder } from './audit-recorder.js';
import type { GlobalAuditRecorder } from './audit.types.js';

export interface AuditDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring<Tx>;
}

/** The audit log: the recorder every feature writes through, and the use cases that read the chain. */
export function createAudit({ clock }: AuditDeps): GlobalAuditRecorder {
  const recorder = createAuditRecorder({ clock });
  return {
    record: recorder.record,
    recordInEveryTenant: recorder.recordInEveryTenant,
  };
}

export type Audit = ReturnType<typeof createAudit>;
