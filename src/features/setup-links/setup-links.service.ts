import { createHash, timingSafeEqual } from 'node:crypto';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { randomToken } from '../../crypto/random.js';
import type { Database, Tx } from '../../db/database.js';
import { isForeignKeyViolation } from '../../db/pg-errors.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { SetupLinkErrors } from './setup-links.errors.js';
import type { CreateSetupLinkInput, SetupIntent } from './setup-links.schema.js';
import * as store from './setup-links.store.js';

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

/** `tsl1.<256 random bits>`: in the link's URL fragment only; the database keeps its SHA-256 (DESIGN §4). */
const TOKEN = /^tsl1\.[A-Za-z0-9_-]{43}$/;
const HASH_CONTEXT = 'tessera:setup-link:';
const CLAIM = /^[A-Za-z0-9_-]{43}$/;
const CLAIM_CONTEXT = 'tessera:setup-claim:';
/**
 * "One person at a time" (README "Setup links"): the first browser to use a link holds it (a claim cookie) until it
 * has been idle this long; another browser is refused `setup_link.in_use` meanwhile. 15 minutes: long enough to
 * switch to the IdP's console and back, short enough that a colleague can take over the same morning.
 */
export const CLAIM_IDLE_MS = 15 * 60_000;
/** The claim cookie: HttpOnly, SameSite=Strict, only on the link's endpoints. */
export const CLAIM_COOKIE = 'tessera_setup_claim';
export const CLAIM_COOKIE_PATH = '/api/v1/setup';

/** The parts each intent opens (README "Setup links"): a `domains` link cannot create a connection, `scim` cannot touch SSO. */
export const INTENT_PARTS: Readonly<Record<SetupIntent, ReadonlySet<SetupPart>>> = {
  domains: new Set(['domains']),
  sso: new Set(['domains', 'sso']),
  scim: new Set(['scim']),
  all: new Set(['domains', 'sso', 'scim']),
};
export type SetupPart = 'domains' | 'sso' | 'scim';

export interface SetupLinksDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  /** PUBLIC_URL: the link's URL is built on it. */
  readonly publicUrl: string;
  /** identity's rule: links are created and revoked by tenant administrators, and work only while their creator is one. */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
}

export interface SetupLinkView {
  readonly id: string;
  readonly intent: SetupIntent;
  readonly note: string;
  readonly state: 'pending' | 'in_use' | 'completed' | 'expired' | 'revoked';
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly completedAt: string | null;
  readonly lastActivityAt: string | null;
  readonly lastIp: string | null;
  readonly connectionId: string | null;
  readonly directoryId: string | null;
}

/** A request of the link's holder: the token (Authorization header), the claim cookie, and where it comes from. */
export interface LinkRequest {
  readonly token: string;
  readonly claim: string | undefined;
  readonly ip: string;
  readonly userAgent: string | null;
}

/** The link a request may act as, once checked: its row, the actor the audit log names, and a new claim to set. */
export interface LinkAccess {
  readonly tenantId: string;
  readonly link: store.SetupLinkRow;
  readonly actor: Extract<AuditActor, { type: 'setup_link' }>;
  /** Set when this request took the link (first use, or after the previous holder went idle): the cookie to set. */
  readonly newClaim: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const hashClaim = (claim: string) => createHash('sha256').update(`${CLAIM_CONTEXT}${claim}`).digest();

function stateOf(row: store.SetupLinkRow, now: Date): SetupLinkView['state'] {
  if (row.revoked_at) return 'revoked';
  if (row.completed_at) return 'completed';
  if (new Date(row.expires_at) <= now) return 'expired';
  if (row.claim_hash && row.last_activity_at && now.getTime() - new Date(row.last_activity_at).getTime() < CLAIM_IDLE_MS) return 'in_use';
  return 'pending';
}

export function viewOf(row: store.SetupLinkRow, now: Date): SetupLinkView {
  return {
    id: row.id,
    intent: row.intent as SetupIntent,
    note: row.note,
    state: stateOf(row, now),
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at)!,
    revokedAt: iso(row.revoked_at),
    completedAt: iso(row.completed_at),
    lastActivityAt: iso(row.last_activity_at),
    lastIp: row.last_ip,
    connectionId: row.connection_created_at ? row.connection_id : null,
    directoryId: row.directory_id,
  };
}

/**
 * Setup links, the tenant administrator's side (create, list, revoke; the operator's create) and the check every
 * request of the link's holder passes first (`access`): the token, the link's state, its creator, the claim.
 */
export function createSetupLinks({ db, clock, audit, publicUrl, requireTenantAdmin }: SetupLinksDeps) {
  const notFound = () => new AppError(SetupLinkErrors['setup_link.not_found']);

  async function insert(tx: Tx, tenantId: string, actor: AuditActor, createdBy: string | null, input: CreateSetupLinkInput) {
    const now = clock.now();
    const id = newId(now.getTime());
    const token = `tsl1.${randomToken(32)}`;
    await store.insertLink(tx, tenantId, { id, tokenHash: hashOpaqueToken(token, HASH_CONTEXT), intent: input.intent, note: input.note, createdBy, now, expiresAt: new Date(now.getTime() + input.expiresIn * 1000), connectionId: newId(now.getTime()) });
    const row = (await store.findLink(tx, tenantId, id))!;
    await audit.record(tx, tenantId, { action: 'setup_link.created', actor, target: { type: 'setup_link', id }, outcome: 'success', details: { intent: input.intent, note: input.note, expiresAt: iso(row.expires_at) } });
    // The token goes in the URL's fragment: browsers send neither it to servers nor in Referer (RFC 3986 §3.5).
    return { link: viewOf(row, now), url: `${publicUrl.replace(/\/$/, '')}/setup#${token}` };
  }

  /** The link's creator must still be a tenant administrator: a link never outlives its creator's rights. */
  async function requireCreator(tx: Tx, tenantId: string, link: store.SetupLinkRow): Promise<void> {
    if (link.created_by === null) return;
    try {
      await requireTenantAdmin(tx, tenantId, link.created_by);
    } catch (error) {
      if (isAppError(error)) throw new AppError(SetupLinkErrors['setup_link.creator_inactive']);
      throw error;
    }
  }

  return {
    /** A new link (audited `setup_link.created`); its URL is returned only here. Tenant administrators only. */
    create(tenantId: string, actor: UserActor, input: CreateSetupLinkInput) {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        return insert(tx, tenantId, actor, actor.id, input);
      });
    },

    /** The operator's command (`tessera setup-link create`): a link acting for no user (it cannot give roles). */
    async operatorCreate(tenantId: string, actor: AuditActor, input: CreateSetupLinkInput) {
      try {
        return await db.tenantWork(tenantId, (tx) => insert(tx, tenantId, actor, null, input));
      } catch (error) {
        if (isForeignKeyViolation(error)) throw new AppError(KernelErrors.not_found, { message: 'No such tenant.' });
        throw error;
      }
    },

    async list(tenantId: string): Promise<SetupLinkView[]> {
      const now = clock.now();
      return (await db.tenantWork(tenantId, (tx) => store.listLinks(tx, tenantId))).map((r) => viewOf(r, now));
    },

    /** Stops a link at once (audited `setup_link.revoked`); revoking a link that no longer works changes nothing. */
    revoke(tenantId: string, actor: UserActor, id: string): Promise<SetupLinkView> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const row = await store.findLink(tx, tenantId, id, true);
        if (!row) throw notFound();
        if (!row.revoked_at && !row.completed_at) {
          const now = clock.now();
          await store.updateLink(tx, tenantId, id, { revoked_at: now, revoked_by: actor.id });
          await audit.record(tx, tenantId, { action: 'setup_link.revoked', actor, target: { type: 'setup_link', id }, outcome: 'success', details: { intent: row.intent, note: row.note } });
        }
        return viewOf((await store.findLink(tx, tenantId, id))!, clock.now());
      });
    },

    /**
     * Every request of the link's holder, first: the token names a link (else `setup_link.invalid`), which is not
     * revoked, completed or expired, whose creator is still a tenant administrator, and which no other browser holds
     * (`setup_link.in_use`). The request's activity and IP are recorded; a browser taking the link gets a claim
     * (audited `setup_link.claimed`). `part` (when given) must be one the intent opens (`setup_link.intent_forbidden`).
     */
    async access(request: LinkRequest, part?: SetupPart): Promise<LinkAccess> {
      if (!TOKEN.test(request.token)) throw new AppError(SetupLinkErrors['setup_link.invalid']);
      const tokenHash = hashOpaqueToken(request.token, HASH_CONTEXT);
      const tenantId = await db.globalWork((tx) => store.linkTenant(tx, tokenHash));
      if (!tenantId) throw new AppError(SetupLinkErrors['setup_link.invalid']);
      return db.tenantWork(tenantId, async (tx) => {
        const link = await store.lockLinkByToken(tx, tenantId, tokenHash);
        if (!link) throw new AppError(SetupLinkErrors['setup_link.invalid']);
        const now = clock.now();
        if (link.revoked_at) throw new AppError(SetupLinkErrors['setup_link.revoked']);
        if (link.completed_at) throw new AppError(SetupLinkErrors['setup_link.completed']);
        if (new Date(link.expires_at) <= now) throw new AppError(SetupLinkErrors['setup_link.expired']);
        await requireCreator(tx, tenantId, link);
        const actor = { type: 'setup_link' as const, id: link.id, onBehalfOf: link.created_by, ip: request.ip, userAgent: request.userAgent };
        const held = link.claim_hash !== null && link.last_activity_at !== null && now.getTime() - new Date(link.last_activity_at).getTime() < CLAIM_IDLE_MS;
        const ours = request.claim !== undefined && CLAIM.test(request.claim) && link.claim_hash !== null && timingSafeEqual(Buffer.from(link.claim_hash), hashClaim(request.claim));
        if (held && !ours) throw new AppError(SetupLinkErrors['setup_link.in_use']);
        let newClaim: string | null = null;
        if (!ours) {
          newClaim = randomToken(32);
          await store.updateLink(tx, tenantId, link.id, { claim_hash: hashClaim(newClaim), claimed_at: now });
          await audit.record(tx, tenantId, { action: 'setup_link.claimed', actor, target: { type: 'setup_link', id: link.id }, outcome: 'success', details: { previousClaimIdle: link.claim_hash !== null } });
        }
        if (part !== undefined && !INTENT_PARTS[link.intent as SetupIntent].has(part)) throw new AppError(SetupLinkErrors['setup_link.intent_forbidden'], { message: `This setup link (intent "${link.intent}") does not allow the ${part} step.` });
        await store.updateLink(tx, tenantId, link.id, { last_activity_at: now, last_ip: request.ip });
        return { tenantId, link: { ...link, last_activity_at: now, last_ip: request.ip }, actor, newClaim };
      });
    },

    /** Records what a step did on the link (its connection, test, directory, token, domains), in its own unit of work. */
    async record(tenantId: string, linkId: string, values: Parameters<typeof store.updateLink>[3]): Promise<void> {
      await db.tenantWork(tenantId, (tx) => store.updateLink(tx, tenantId, linkId, values));
    },

    /** The link again, locked, in a unit of work (a step's "done once" check and its record, together). */
    locked<T>(tenantId: string, linkId: string, work: (tx: Tx, link: store.SetupLinkRow) => Promise<T>): Promise<T> {
      return db.tenantWork(tenantId, async (tx) => work(tx, (await store.findLink(tx, tenantId, linkId, true))!));
    },

    updateIn: (tx: Tx, tenantId: string, linkId: string, values: Parameters<typeof store.updateLink>[3]) => store.updateLink(tx, tenantId, linkId, values),
  };
}

export type SetupLinks = ReturnType<typeof createSetupLinks>;
