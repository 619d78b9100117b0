import { type AttrDef, COMMON_ATTRIBUTES, CORE_GROUP, CORE_USER, ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE, type SchemaDef, USER_SCHEMA } from './scim-schema.js';
import { MAX_FILTER_LENGTH } from './filter.js';
import { MAX_COUNT } from './users.service.js';

/**
 * The discovery endpoints (RFC 7644 §4): what this server supports, its resource types and their schemas, as
 * RFC 7643 §5–§7 describe them. Built from the same schema definitions the filters and PATCH use.
 */
const SPC = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: [SPC],
    documentationUri: 'https://github.com/tessera-iam/tessera/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      { type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: `A directory token (Authorization: Bearer tsd1.…); filters up to ${MAX_FILTER_LENGTH} characters.`, primary: true },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

const RESOURCE_TYPES = [
  { id: 'User', name: 'User', endpoint: '/Users', description: 'User Account', schema: CORE_USER, schemaExtensions: [{ schema: ENTERPRISE_USER, required: false }] },
  { id: 'Group', name: 'Group', endpoint: '/Groups', description: 'Group', schema: CORE_GROUP, schemaExtensions: [] },
];

export function resourceTypes(baseUrl: string) {
  const resources = RESOURCE_TYPES.map((r) => ({ schemas: [RESOURCE_TYPE], ...r, meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${r.id}` } }));
  return { schemas: [LIST_RESPONSE], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

export function resourceType(baseUrl: string, id: string) {
  return resourceTypes(baseUrl).Resources.find((r) => r.id.toLowerCase() === id.toLowerCase());
}

/** An attribute as RFC 7643 §7 describes it, with the defaults of §2.2 spelled out. */
function describe(a: AttrDef): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    description: a.description,
    required: a.required ?? false,
    ...(a.type === 'string' || a.type === 'reference' ? { caseExact: a.caseExact ?? false } : {}),
    ...(a.canonicalValues ? { canonicalValues: a.canonicalValues } : {}),
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
    mutability: a.mutability ?? 'readWrite',
    returned: a.returned ?? 'default',
    uniqueness: a.uniqueness ?? 'none',
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(describe) } : {}),
  };
}

function schemaResource(baseUrl: string, s: SchemaDef) {
  const attributes = s.id === ENTERPRISE_USER ? s.attributes : [...s.attributes, ...COMMON_ATTRIBUTES.filter((a) => a.name === 'externalId')];
  return { schemas: [SCHEMA], id: s.id, name: s.name, description: s.description, attributes: attributes.map(describe), meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${s.id}` } };
}

export function schemas(baseUrl: string) {
  const resources = [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA].map((s) => schemaResource(baseUrl, s));
  return { schemas: [LIST_RESPONSE], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

export function schema(baseUrl: string, id: string) {
  return schemas(baseUrl).Resources.find((r) => r.id.toLowerCase() === id.toLowerCase());
}
