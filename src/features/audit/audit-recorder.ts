import type { Engine, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { noTelemetry, type Telemetry } from '../../kernel/telemetry.js';
import { canonicalParts, type ChainedEvent, eventHash, formatMicros, GENESIS_HASH, parseMicros } from './audit-chain.js';
import * as store from './audit.store.js';
import type { AuditEventInput, AuditRecorder } from './audit.types.js';

/** Stable dotted names: `auth.login.failed`, `keys.signing_key.rotated`. */
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
/** Detail keys whose values are secrets by name: replaced, never stored (DESIGN §6 rule 7). */
const SECRET_KEY = /^(password|new_?password|current_?password|secret|client_?secret|webhook_?secret|token|access_?token|refresh_?token|id_?token|otp|code|totp|totp_?code|recovery_?codes?|private_?key)$/i;
const MAX_DETAILS = 16 * 1024;
const MAX_TEXT = 1000;

// PostgreSQL text and jsonb hold neither NUL nor unpaired UTF-16 surrogates; a string is stored as it is
// hashed only once it holds none (an unpaired surrogate becomes U+FFFD, as UTF-8 encoding would make it).
const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function storable(text: string): string {
  return text.replace(/\0/g, '').replace(UNPAIRED, '\uFFFD');
}

function redact(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), SECRET_KEY.test(k) ? '[REDACTED]' : redact(v)]));
  }
  return value;
}

/** Details as jsonb will return them: JSON round-tripped (Dates → strings, undefined dropped), secrets redacted. */
function normalizeDetails(details: AuditEventInput['details']): Record<string, unknown> {
  if (!details) return {};
  const json = JSON.stringify(redact(JSON.parse(JSON.stringify(details)) as unknown));
  if (json.length > MAX_DETAILS) throw new Error(`audit details exceed ${MAX_DETAILS} bytes`);
  return JSON.parse(json) as Record<string, unknown>;
}

function clip(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  // A surrogate pair cut in two by the limit becomes U+FFFD through storable().
  return storable(value.length > MAX_TEXT ? value.slice(0, MAX_TEXT) : value);
}

/** Builds the event's stored form; validates what a caller could get wrong. */
export function prepareEvent(tenantId: string, input: AuditEventInput): Omit<ChainedEvent, 'seq' | 'occurredAt' | 'prevHash' | 'hash'> {
  if (!ACTION.test(input.action)) throw new Error(`audit action must be a dotted lower-case name: ${input.action}`);
  if (input.outcome !== 'success' && input.outcome !== 'failure') throw new Error(`audit outcome must be success or failure`);
  const a = input.actor;
  const via = a.type === 'system' ? { ip: null, userAgent: null } : a;
  return {
    tenantId,
    actor: {
      type: a.type,
      id: clip(a.id),
      email: a.type === 'user' ? clip(a.email) : null,
      ip: clip(via.ip),
      userAgent: clip(via.userAgent),
    },
    action: input.action,
    target: input.target ? { type: clip(input.target.type) ?? '', id: clip(String(input.target.id)) ?? '' } : null,
    outcome: input.outcome,
    errorCode: clip(input.errorCode),
    details: normalizeDetails(input.details),
  };
}

/**
 * Two ways to append, the same chain either way. On PostgreSQL one statement does it all (the database
 * locks the head, completes and hashes the canonical form), so the head stays locked for one round trip
 * less under concurrent writers. On PGlite, which has no concurrent writers and runs SQL on this thread,
 * hashing in JavaScript between the head lock and the insert measured faster (BENCHMARKS.md).
 */
export function createAuditRecorder({ clock, engine = 'postgres', telemetry = noTelemetry }: { readonly clock: Clock; readonly engine?: Engine; readonly telemetry?: Telemetry }): AuditRecorder {
  async function appendInDatabase(tx: Tx, tenantId: string, prepared: ReturnType<typeof prepareEvent>, now: string): Promise<boolean> {
    return (await store.appendAtHead(tx, tenantId, prepared, canonicalParts(prepared), now)) !== undefined;
  }

  async function appendHere(tx: Tx, tenantId: string, prepared: ReturnType<typeof prepareEvent>, now: string): Promise<boolean> {
    const head = await store.lockHead(tx, tenantId);
    if (!head) return false;
    // Never backwards within a chain, whatever the clocks of several instances say.
    const micros = head.at === null ? parseMicros(now) : Math.max(parseMicros(now), parseMicros(head.at));
    const unsigned = { ...prepared, seq: head.seq + 1, occurredAt: formatMicros(micros), prevHash: head.hash };
    await store.appendEvent(tx, tenantId, { ...unsigned, hash: eventHash(unsigned) });
    return true;
  }

  const append = engine === 'pglite' ? appendHere : appendInDatabase;

  async function record(tx: Tx, tenantId: string, input: AuditEventInput): Promise<void> {
    const prepared = prepareEvent(tenantId, input);
    const now = formatMicros(clock.now().getTime() * 1000);
    if (!(await append(tx, tenantId, prepared, now))) {
      // The tenant's first event: create its head (genesis), then append.
      await store.createHead(tx, tenantId, GENESIS_HASH);
      if (!(await append(tx, tenantId, prepared, now))) throw new Error(`audit head of tenant ${tenantId} is not visible in this unit of work`);
    }
    telemetry.auditAppended();
  }

  return { record };
}
