import type { Database } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { type ChainBreak, type ChainedEvent, ChainVerifier, GENESIS_HASH } from './audit-chain.js';
import { type ExportFormat, serializeEvents } from './audit-export.js';
import { AuditErrors } from './audit.errors.js';
import * as store from './audit.store.js';

export type { EventFilters } from './audit.store.js';

/** Rows read per unit of work when walking a whole chain (export, verify). */
const PAGE = 1000;

export interface VerifyReport {
  readonly ok: boolean;
  /** Where the checked chain starts: the retention checkpoint, or sequence 0 and the genesis hash. */
  readonly start: { readonly seq: number; readonly hash: string };
  readonly checked: number;
  readonly lastSeq: number;
  readonly lastHash: string;
  /** The first event where the chain breaks, and why; null when it verifies. */
  readonly break: ChainBreak | null;
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new AppError(AuditErrors['audit.invalid_cursor']);
  return Number(match[1]);
}

export function createAuditQueries({ db }: { readonly db: Database }) {
  /**
   * Every event matching `filters`, oldest first, one unit of work per page (PGlite cannot stream a cursor).
   * The next page is read while the consumer handles this one, so at most two pages are held in memory.
   */
  async function* pages(tenantId: string, filters: store.EventFilters, startAfter = 0): AsyncGenerator<ChainedEvent[]> {
    const read = (afterSeq: number) => {
      const pending = db.tenantWork(tenantId, (tx) => store.pageEvents(tx, tenantId, { order: 'asc', afterSeq, limit: PAGE, filters }));
      // A consumer that stops early leaves the read-ahead unawaited; its failure is then of no interest.
      pending.catch(() => {});
      return pending;
    };
    let next = read(startAfter);
    for (;;) {
      const page = await next;
      if (page.length === 0) return;
      if (page.length === PAGE) next = read(page.at(-1)!.seq);
      yield page;
      if (page.length < PAGE) return;
    }
  }

  return {
    /** Newest first, filtered, with an opaque cursor to the next (older) page. */
    async listEvents(tenantId: string, query: { filters: store.EventFilters; cursor?: string; limit: number }) {
      const beforeSeq = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const rows = await db.tenantWork(tenantId, (tx) =>
        store.pageEvents(tx, tenantId, { order: 'desc', beforeSeq, limit: query.limit + 1, filters: query.filters }),
      );
      const events = rows.slice(0, query.limit);
      return { events, nextCursor: rows.length > query.limit ? encodeCursor(events.at(-1)!.seq) : null };
    },

    async countEvents(tenantId: string, filters: store.EventFilters): Promise<number> {
      return db.tenantWork(tenantId, (tx) => store.countEvents(tx, tenantId, filters));
    },

    /** The export as text chunks, oldest first; pull-driven, so memory stays flat on any size. */
    exportEvents(tenantId: string, format: ExportFormat, filters: store.EventFilters = {}, onRows?: (rows: number) => void): AsyncGenerator<string> {
      return serializeEvents(format, pages(tenantId, filters), onRows);
    },

    /**
     * Recomputes the tenant's chain from its retention checkpoint (or the genesis) to its head and reports
     * the first event where it breaks: an edited, deleted, inserted or reordered row.
     */
    async verify(tenantId: string): Promise<VerifyReport> {
      const checkpoint = await db.tenantWork(tenantId, (tx) => store.latestCheckpoint(tx, tenantId));
      const start = checkpoint ?? { seq: 0, hash: GENESIS_HASH, at: null };
      const verifier = new ChainVerifier({ seq: start.seq, hash: start.hash, occurredAt: start.at });
      let afterSeq = start.seq;
      let head: store.Head | undefined;
      for (;;) {
        for await (const page of pages(tenantId, {}, afterSeq)) {
          for (const e of page) if (!verifier.next(e)) break;
          if (verifier.broken) break;
          afterSeq = page.at(-1)!.seq;
        }
        if (verifier.broken) break;
        // The head is written with each event: events appended while we read are fetched before comparing.
        head = await db.tenantWork(tenantId, (tx) => store.readHead(tx, tenantId));
        const headSeq = head?.seq ?? 0;
        if (headSeq > afterSeq) {
          const more = await db.tenantWork(tenantId, (tx) => store.pageEvents(tx, tenantId, { order: 'asc', afterSeq, limit: 1 }));
          if (more.length > 0) continue;
        }
        break;
      }
      const broken = verifier.broken ?? verifier.finish({ seq: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH });
      return {
        ok: broken === undefined,
        start: { seq: start.seq, hash: start.hash },
        checked: verifier.checked,
        lastSeq: verifier.lastSeq,
        lastHash: verifier.lastHash,
        break: broken ?? null,
      };
    },
  };
}
