import type { z } from 'zod';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import type { AuditRecorder } from '../audit/index.js';
import type { DomainInfo, DomainsService } from '../domains/index.js';
import type { DirectoriesService } from '../scim/index.js';
import { CALLBACK_PATH, type Connection, type CreateConnectionInput, spEndpoints, type SsoService, type SsoSignIn, type UpdateConnectionInput } from '../sso/index.js';
import { SetupLinkErrors } from './setup-links.errors.js';
import type { SetupStateSchema, SetupTestSchema } from './setup-links.schema.js';
import { INTENT_PARTS, type LinkAccess, type SetupLinks } from './setup-links.service.js';
import * as store from './setup-links.store.js';

export interface SetupFlowDeps {
  readonly links: SetupLinks;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly publicUrl: string;
  /** tenants: the tenant's display name (the page greets the IT admin with it). */
  readonly tenantName: (tenantId: string) => Promise<string>;
  readonly domains: Pick<DomainsService, 'addDomain' | 'verifyDomain' | 'getDomain' | 'listDomains' | 'setRequireSso'>;
  readonly sso: Pick<SsoService, 'create' | 'update' | 'enable' | 'get'>;
  readonly tests: Pick<SsoSignIn, 'startTest' | 'getTest'>;
  readonly directories: Pick<DirectoriesService, 'create' | 'createToken' | 'get' | 'listTokens'>;
}

type SetupState = z.input<typeof SetupStateSchema>;
type SetupTest = z.input<typeof SetupTestSchema>;

const stepDone = () => new AppError(SetupLinkErrors['setup_link.step_done']);
const stepMissing = (message: string) => new AppError(SetupLinkErrors['setup_link.step_missing'], { message });
/** A resource the link made that an administrator has since removed: shown as absent. */
const notFound = (error: unknown) => {
  if (isAppError(error) && error.status === 404) return null;
  throw error;
};

/**
 * The guided setup, one step per method. Each step runs after `SetupLinks.access` (token, state, creator, claim,
 * intent) and calls the owning feature's service with the link as actor (`setup_link:<id>`, the request's IP), so
 * the feature's own rules apply — the tenant-administrator rule and the grant rule against the link's creator.
 * The link reaches only what it made: its reserved connection, its directory, its domains, its tests; it never
 * takes another resource's id from the request, so another tenant's ids (or this tenant's others) are not found.
 */
export function createSetupFlow({ links, clock, audit, publicUrl, tenantName, domains, sso, tests, directories }: SetupFlowDeps) {
  /** A step done once: marked first (compare-and-set on the locked link), unmarked again when the step fails. */
  async function once<T>(a: LinkAccess, column: 'connection_created_at' | 'directory_id' | 'scim_token_issued_at', value: Date | string, step: () => Promise<T>): Promise<T> {
    const marked = await links.locked(a.tenantId, a.link.id, (tx) => store.markOnce(tx, a.tenantId, a.link.id, column, value as never));
    if (!marked) throw stepDone();
    try {
      return await step();
    } catch (error) {
      await links.record(a.tenantId, a.link.id, { [column]: null });
      throw error;
    }
  }

  async function linkDomains(a: LinkAccess): Promise<DomainInfo[]> {
    const found = await Promise.all(a.link.domain_ids.map((id) => domains.getDomain(a.tenantId, id).catch(notFound)));
    return found.filter((d): d is DomainInfo => d !== null);
  }

  async function connectionOf(a: LinkAccess): Promise<Connection | null> {
    return a.link.connection_created_at ? sso.get(a.tenantId, a.link.connection_id).catch(notFound) : null;
  }

  function requireConnection(a: LinkAccess): string {
    if (!a.link.connection_created_at) throw stepMissing('Create the SSO connection first.');
    return a.link.connection_id;
  }

  return {
    /** What the page shows: the link's intent, our values for the IdP, and what the link did so far. */
    async state(a: LinkAccess): Promise<SetupState> {
      const parts = INTENT_PARTS[a.link.intent as keyof typeof INTENT_PARTS];
      const saml = spEndpoints(publicUrl, a.link.connection_id);
      const directory = a.link.directory_id ? await directories.get(a.tenantId, a.link.directory_id).catch(notFound) : null;
      const lastUsed = directory ? (await directories.listTokens(a.tenantId, directory.id)).map((t) => t.lastUsedAt).filter((t): t is string => t !== null).sort().at(-1) ?? null : null;
      return {
        tenantName: await tenantName(a.tenantId),
        intent: a.link.intent as SetupState['intent'],
        note: a.link.note,
        expiresAt: new Date(a.link.expires_at).toISOString(),
        allowed: { domains: parts.has('domains'), sso: parts.has('sso'), scim: parts.has('scim') },
        domains: await linkDomains(a),
        sso: {
          values: { oidcRedirectUri: `${publicUrl}${CALLBACK_PATH}`, samlEntityId: saml.spEntityId, samlAcsUrl: saml.acsUrl, samlMetadataUrl: saml.metadataUrl },
          connection: await connectionOf(a),
          testId: a.link.test_id,
        },
        scim: { directory, tokenIssued: a.link.scim_token_issued_at !== null, lastRequestAt: lastUsed },
        completedAt: null,
      };
    },

    /** Adds a domain to verify (the TXT record to publish comes back); the link may verify only the domains it added. */
    async addDomain(a: LinkAccess, domain: string): Promise<DomainInfo> {
      const added = await domains.addDomain(a.tenantId, a.actor, { domain });
      await links.locked(a.tenantId, a.link.id, (tx, link) => links.updateIn(tx, a.tenantId, a.link.id, { domain_ids: [...link.domain_ids, added.id] }));
      return added;
    },

    async verifyDomain(a: LinkAccess, id: string): Promise<DomainInfo> {
      if (!a.link.domain_ids.includes(id)) throw new AppError(SetupLinkErrors['setup_link.not_found'], { message: 'No such domain added through this setup link.' });
      return domains.verifyDomain(a.tenantId, a.actor, id);
    },

    /**
     * Creates the link's SSO connection (once; disabled until the setup completes) under the id reserved with the
     * link, so the SP values shown before are its values. Its role rules pass the grant rule against the creator.
     */
    createConnection(a: LinkAccess, input: CreateConnectionInput): Promise<Connection> {
      return once(a, 'connection_created_at', clock.now(), () => sso.create(a.tenantId, a.actor, { ...input, enabled: false }, { id: a.link.connection_id }));
    },

    /** Changes the link's connection (the IT admin fixes a pasted value); it cannot enable it: completion does. */
    updateConnection(a: LinkAccess, patch: UpdateConnectionInput): Promise<Connection> {
      return sso.update(a.tenantId, a.actor, requireConnection(a), patch);
    },

    /** "Test sign-in": a dry run through the IdP by the IT admin (the connection may still be disabled). */
    async startTest(a: LinkAccess, returnTo: string | undefined): Promise<{ url: string; testId: string }> {
      const started = await tests.startTest(a.tenantId, a.actor, requireConnection(a), returnTo);
      await links.record(a.tenantId, a.link.id, { test_id: started.testId });
      return started;
    },

    /** A test's outcome as the IT admin sees it: their own claims and the roles the rules would give, no user ids. */
    async getTest(a: LinkAccess, testId: string): Promise<SetupTest> {
      const t = await tests.getTest(a.tenantId, a.actor, requireConnection(a), testId);
      const o = (t.outcome ?? {}) as { error?: { code: string; message: string } | null; claims?: Record<string, unknown> | null; email?: string; user?: { wouldBeProvisioned?: boolean }; mapping?: { roles?: unknown[]; refused?: unknown[] } | null };
      return {
        id: t.id,
        status: t.status,
        expiresAt: t.expiresAt,
        error: o.error ?? null,
        claims: o.claims ?? null,
        email: o.email ?? null,
        wouldBeProvisioned: o.user?.wouldBeProvisioned ?? null,
        roles: o.mapping?.roles ?? [],
        refused: o.mapping?.refused ?? [],
      };
    },

    /** Creates the link's SCIM directory (once), linked to the link's connection when it has one. */
    async createDirectory(a: LinkAccess, name: string) {
      const id = newId(clock.now().getTime());
      return once(a, 'directory_id', id, () => directories.create(a.tenantId, a.actor, { name, ssoConnectionId: a.link.connection_created_at ? a.link.connection_id : null }, { id }));
    },

    /** The directory's bearer token, issued once through the link and shown only in this answer. */
    async issueScimToken(a: LinkAccess): Promise<{ baseUrl: string; token: string }> {
      const directoryId = a.link.directory_id;
      if (!directoryId) throw stepMissing('Create the SCIM directory first.');
      return once(a, 'scim_token_issued_at', clock.now(), async () => {
        const created = await directories.createToken(a.tenantId, a.actor, directoryId);
        return { baseUrl: (await directories.get(a.tenantId, directoryId)).baseUrl, token: created.token };
      });
    },

    /**
     * Done: every part the intent opens is set up (an SSO connection tested successfully through this link, a
     * SCIM directory with its token, a verified domain); the connection is enabled, Require SSO turned on when
     * asked, and the link stops working. Audited `setup_link.completed`: the tenant administrators' notification.
     */
    async complete(a: LinkAccess, input: { requireSso: boolean }): Promise<{ completedAt: string }> {
      const parts = INTENT_PARTS[a.link.intent as keyof typeof INTENT_PARTS];
      const verified = (await linkDomains(a)).filter((d) => d.status === 'verified');
      let connection: Connection | null = null;
      if (parts.has('sso')) {
        const connectionId = requireConnection(a);
        if (!a.link.test_id) throw new AppError(SetupLinkErrors['setup_link.test_required']);
        const test = await tests.getTest(a.tenantId, a.actor, connectionId, a.link.test_id).catch(notFound);
        if (test?.status !== 'succeeded') throw new AppError(SetupLinkErrors['setup_link.test_required']);
      }
      if (parts.has('scim') && (!a.link.directory_id || !a.link.scim_token_issued_at)) throw stepMissing('Create the SCIM directory and its token first.');
      if (a.link.intent === 'domains' && verified.length === 0) throw stepMissing('Verify a domain first.');
      if (parts.has('sso')) {
        connection = await sso.enable(a.tenantId, a.actor, a.link.connection_id);
        if (input.requireSso) {
          for (const d of await domains.listDomains(a.tenantId)) {
            if (d.status === 'verified' && !d.requireSso && connection.domains.includes(d.domain)) await domains.setRequireSso(a.tenantId, a.actor, d.id, true);
          }
        }
      }
      const now = clock.now();
      await links.locked(a.tenantId, a.link.id, async (tx) => {
        if (!(await store.markOnce(tx, a.tenantId, a.link.id, 'completed_at', now))) throw new AppError(SetupLinkErrors['setup_link.completed']);
        await audit.record(tx, a.tenantId, {
          action: 'setup_link.completed', actor: a.actor, target: { type: 'setup_link', id: a.link.id }, outcome: 'success',
          details: { intent: a.link.intent, connectionId: connection?.id ?? null, connectionName: connection?.name ?? null, directoryId: a.link.directory_id, domains: verified.map((d) => d.domain), requireSso: input.requireSso },
        });
      });
      return { completedAt: now.toISOString() };
    },
  };
}

export type SetupFlow = ReturnType<typeof createSetupFlow>;
