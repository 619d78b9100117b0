import { createHash } from 'node:crypto';

/**
 * The hash chain's pure rules. An event's hash is SHA-256 (hex) over the canonical JSON of every field of
 * the event plus the previous event's hash: object keys sorted by code unit, no whitespace, strings and
 * numbers as JSON.stringify writes them, UTF-8. The first event of a tenant links to GENESIS_HASH.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields an event's hash covers, in their stored form. `occurredAt` is ISO 8601 UTC with 6 fraction digits. */
export interface ChainedEvent {
  readonly tenantId: string;
  readonly seq: number;
  readonly occurredAt: string;
  readonly actor: {
    readonly type: string;
    readonly id: string | null;
    readonly email: string | null;
    readonly ip: string | null;
    readonly userAgent: string | null;
  };
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string } | null;
  readonly outcome: 'success' | 'failure';
  readonly errorCode: string | null;
  readonly details: Record<string, unknown>;
  readonly prevHash: string;
  readonly hash: string;
}

/** JSON with object keys sorted recursively (RFC 8785-style ordering by UTF-16 code unit). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

export function eventHash(event: Omit<ChainedEvent, 'hash'>): string {
  const body = canonicalJson({
    tenantId: event.tenantId,
    seq: event.seq,
    occurredAt: event.occurredAt,
    actor: event.actor,
    action: event.action,
    target: event.target,
    outcome: event.outcome,
    errorCode: event.errorCode,
    details: event.details,
    prevHash: event.prevHash,
  });
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/**
 * The canonical form of an event split around the three fields only the chain head decides (its time,
 * predecessor and sequence number), so the database can complete and hash it inside the append statement:
 * `prefix ‖ occurredAt ‖ beforePrevHash ‖ prevHash ‖ beforeSeq ‖ seq ‖ suffix` is exactly the canonical JSON
 * eventHash() hashes (keys in sorted order: action, actor, details, errorCode, occurredAt, outcome,
 * prevHash, seq, target, tenantId).
 */
export interface CanonicalParts {
  readonly prefix: string;
  readonly beforePrevHash: string;
  readonly beforeSeq: string;
  readonly suffix: string;
}

export function canonicalParts(event: Omit<ChainedEvent, 'seq' | 'occurredAt' | 'prevHash' | 'hash'>): CanonicalParts {
  return {
    prefix: `{"action":${canonicalJson(event.action)},"actor":${canonicalJson(event.actor)},"details":${canonicalJson(event.details)},"errorCode":${canonicalJson(event.errorCode)},"occurredAt":"`,
    beforePrevHash: `","outcome":${canonicalJson(event.outcome)},"prevHash":"`,
    beforeSeq: '","seq":',
    suffix: `,"target":${canonicalJson(event.target)},"tenantId":${canonicalJson(event.tenantId)}}`,
  };
}

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (PostgreSQL timestamptz keeps microseconds). */
export function formatMicros(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`;
}

export function parseMicros(iso: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z$/.exec(iso);
  if (!match) throw new Error(`not a UTC timestamp: ${iso}`);
  return Date.parse(`${match[1]}Z`) * 1000 + Number((match[2] ?? '').padEnd(6, '0'));
}

export type ChainBreakReason = 'hash_mismatch' | 'prev_hash_mismatch' | 'sequence_gap' | 'time_reversed' | 'head_mismatch';

export interface ChainBreak {
  /** The first event where the chain no longer holds (for `head_mismatch`: the head's sequence number). */
  readonly seq: number;
  readonly reason: ChainBreakReason;
}

export interface ChainStart {
  /** Sequence number and hash of the event before the first one to check (a checkpoint, or 0 / GENESIS). */
  readonly seq: number;
  readonly hash: string;
  readonly occurredAt?: string | null;
}

/**
 * Walks a chain in sequence order and reports the first break. Detects an edited row (hash), a deleted or
 * inserted row (sequence gap or link), a reordered pair (both), a timestamp that goes backwards.
 */
export class ChainVerifier {
  #expectedSeq: number;
  #prevHash: string;
  #prevMicros: number;
  #checked = 0;
  #break: ChainBreak | undefined;

  constructor(start: ChainStart) {
    this.#expectedSeq = start.seq + 1;
    this.#prevHash = start.hash;
    this.#prevMicros = start.occurredAt ? parseMicros(start.occurredAt) : Number.NEGATIVE_INFINITY;
  }

  get checked(): number {
    return this.#checked;
  }
  get broken(): ChainBreak | undefined {
    return this.#break;
  }
  get lastSeq(): number {
    return this.#expectedSeq - 1;
  }
  get lastHash(): string {
    return this.#prevHash;
  }

  /** Checks the next event; returns false once the chain is broken. */
  next(event: ChainedEvent): boolean {
    if (this.#break) return false;
    const fail = (reason: ChainBreakReason) => {
      this.#break = { seq: event.seq, reason };
      return false;
    };
    if (event.seq !== this.#expectedSeq) return fail('sequence_gap');
    if (event.prevHash !== this.#prevHash) return fail('prev_hash_mismatch');
    if (eventHash(event) !== event.hash) return fail('hash_mismatch');
    const micros = parseMicros(event.occurredAt);
    if (micros < this.#prevMicros) return fail('time_reversed');
    this.#checked++;
    this.#expectedSeq = event.seq + 1;
    this.#prevHash = event.hash;
    this.#prevMicros = micros;
    return true;
  }

  /** The chain must end where the tenant's head says it ends (a deleted or appended tail). */
  finish(head: { seq: number; hash: string }): ChainBreak | undefined {
    if (!this.#break && (head.seq !== this.lastSeq || head.hash !== this.#prevHash)) {
      // The first event that should exist but does not, the first that should not exist, or the head itself.
      const seq = this.lastSeq < head.seq ? this.lastSeq + 1 : this.lastSeq > head.seq ? head.seq + 1 : head.seq;
      this.#break = { seq, reason: 'head_mismatch' };
    }
    return this.#break;
  }
}
