import { z } from 'zod';
import { DomainSchema } from '../domains/index.js';
import { DirectorySchema } from '../scim/index.js';
import { ConnectionSchema, CreateConnectionBody, UpdateConnectionBody } from '../sso/index.js';

/** Request and response schemas of the setup links: the tenant administrator's API and the link's own endpoints. */

export const SETUP_INTENTS = ['domains', 'sso', 'scim', 'all'] as const;
export type SetupIntent = (typeof SETUP_INTENTS)[number];

/** A link lives 10 minutes to 30 days; 7 days unless given. */
export const MIN_EXPIRES_IN = 600;
export const MAX_EXPIRES_IN = 30 * 86_400;
export const DEFAULT_EXPIRES_IN = 7 * 86_400;

export const CreateSetupLinkBody = z.strictObject({
  intent: z.enum(SETUP_INTENTS).default('all').describe('What the link may do: `domains` (verify email domains), `sso` (domains and an SSO connection), `scim` (a SCIM directory and its token), `all`'),
  expiresIn: z.number().int().min(MIN_EXPIRES_IN).max(MAX_EXPIRES_IN).default(DEFAULT_EXPIRES_IN).describe('Seconds until the link stops working: 600 to 2,592,000 (30 days); default 7 days'),
  note: z.string().trim().max(500).default('').describe('For the tenant administrators (e.g. who it was sent to); shown to the link\'s holder too'),
});
export type CreateSetupLinkInput = z.infer<typeof CreateSetupLinkBody>;

export const SETUP_LINK_STATES = ['pending', 'in_use', 'completed', 'expired', 'revoked'] as const;

export const SetupLinkSchema = z
  .object({
    id: z.string(),
    intent: z.enum(SETUP_INTENTS),
    note: z.string(),
    state: z.enum(SETUP_LINK_STATES).describe('`pending`: not opened yet (or idle since); `in_use`: a browser holds it (active in the last 15 minutes); `completed`, `expired`, `revoked`: it no longer works'),
    createdBy: z.string().nullable().describe('The administrator who created it; null: the operator (CLI)'),
    createdAt: z.string(),
    expiresAt: z.string(),
    revokedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    lastActivityAt: z.string().nullable(),
    lastIp: z.string().nullable(),
    connectionId: z.string().nullable().describe('The SSO connection it created, once created'),
    directoryId: z.string().nullable().describe('The SCIM directory it created, once created'),
  })
  .meta({ id: 'SetupLink' });
export const SetupLinkList = z.object({ items: z.array(SetupLinkSchema) });
export const CreatedSetupLink = z.object({
  link: SetupLinkSchema,
  url: z.string().describe('The link to send to the customer\'s IT admin: shown only in this answer (the token is stored hashed)'),
});
export const SetupLinkParams = z.object({ id: z.uuid() });

// ---- the link's own endpoints ----

/** Our values for the IdP: the same for every IdP; the page tells the IT admin where each goes in theirs. */
export const SpValuesSchema = z.object({
  oidcRedirectUri: z.string().describe('OIDC: the redirect (callback) URI to register at the IdP'),
  samlEntityId: z.string().describe('SAML: our SP entity ID (audience)'),
  samlAcsUrl: z.string().describe('SAML: our Assertion Consumer Service URL (HTTP-POST)'),
  samlMetadataUrl: z.string().describe('SAML: our SP metadata, for IdPs that import it (available once the connection exists)'),
});

export const SetupStateSchema = z
  .object({
    tenantName: z.string(),
    intent: z.enum(SETUP_INTENTS),
    note: z.string(),
    expiresAt: z.string(),
    allowed: z.object({ domains: z.boolean(), sso: z.boolean(), scim: z.boolean() }),
    domains: z.array(DomainSchema).describe('The domains added through this link'),
    sso: z.object({
      values: SpValuesSchema,
      connection: ConnectionSchema.nullable().describe('The connection created through this link, once created'),
      testId: z.string().nullable(),
    }),
    scim: z.object({
      directory: DirectorySchema.nullable(),
      tokenIssued: z.boolean(),
      lastRequestAt: z.string().nullable().describe('When the IdP last called the SCIM API with the token (updated at most once a minute)'),
    }),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'SetupState' });

export const SetupDomainBody = z.strictObject({ domain: z.string().min(1).max(300) });
export const SetupDomainParams = z.object({ id: z.uuid() });
/** The connection a link creates: the connection API's body; it starts disabled and goes live on completion. */
export const SetupConnectionBody = CreateConnectionBody;
export const SetupConnectionPatch = UpdateConnectionBody;
export const SetupTestBody = z.strictObject({ returnTo: z.string().max(2000).optional() }).nullish();
export const SetupTestStarted = z.object({ url: z.string(), testId: z.string() });
export const SetupTestParams = z.object({ testId: z.uuid() });
export const SetupTestSchema = z
  .object({
    id: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    expiresAt: z.string(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    claims: z.record(z.string(), z.unknown()).nullable().describe('What the IdP sent (the tester\'s own claims)'),
    email: z.string().nullable(),
    wouldBeProvisioned: z.boolean().nullable(),
    roles: z.array(z.unknown()).describe('The roles the connection\'s rules would give this user'),
    refused: z.array(z.unknown()).describe('Roles the rules name that the grant rule refuses'),
  })
  .meta({ id: 'SetupTest' });
export const SetupDirectoryBody = z.strictObject({ name: z.string().trim().min(1).max(200).default('Directory') }).nullish();
export const SetupScimToken = z.object({ baseUrl: z.string(), token: z.string().describe('The bearer token, shown only in this answer') });
export const SetupCompleteBody = z.strictObject({ requireSso: z.boolean().default(false).describe('Also turn Require SSO on for the verified domains added through this link') }).nullish();
