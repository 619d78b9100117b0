/**
 * The SCIM resource schemas this server speaks (RFC 7643 §4 User and Group, §4.3 the enterprise User extension),
 * as data: the filter translator, the PATCH engine, the projection (`attributes`/`excludedAttributes`) and the
 * `/Schemas` endpoint all read these definitions, so an attribute is declared once. Attribute names are
 * case-insensitive (RFC 7643 §2.1); `caseExact` says how string values compare (§2.3.1).
 */

export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type AttrType = 'string' | 'boolean' | 'dateTime' | 'reference' | 'complex' | 'integer';

export interface AttrDef {
  readonly name: string;
  readonly type: AttrType;
  readonly multiValued?: boolean;
  readonly caseExact?: boolean;
  readonly required?: boolean;
  readonly mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  readonly returned?: 'always' | 'never' | 'default' | 'request';
  readonly uniqueness?: 'none' | 'server' | 'global';
  readonly canonicalValues?: readonly string[];
  readonly referenceTypes?: readonly string[];
  readonly subAttributes?: readonly AttrDef[];
  /** Most values a multi-valued attribute holds (resource.ts; 100 unless said): a Group's members are many. */
  readonly maxValues?: number;
  readonly description: string;
}

export interface SchemaDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly AttrDef[];
}

const str = (name: string, description: string, extra: Partial<AttrDef> = {}): AttrDef => ({ name, type: 'string', description, ...extra });
const TYPES = ['work', 'home', 'other'];

/** A multi-valued attribute of `{value, display, type, primary}` (RFC 7643 §2.4). */
function multi(name: string, description: string, types: readonly string[] = TYPES, extra: readonly AttrDef[] = []): AttrDef {
  return {
    name,
    type: 'complex',
    multiValued: true,
    description,
    subAttributes: [
      str('value', `The ${name} value.`),
      str('display', 'A human-readable name, primarily used for display purposes.'),
      str('type', 'A label indicating the attribute\'s function.', { canonicalValues: types }),
      { name: 'primary', type: 'boolean', description: 'The primary or preferred value.' },
      ...extra,
    ],
  };
}

export const USER_SCHEMA: SchemaDef = {
  id: CORE_USER,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', 'Unique identifier for the User, unique per directory (case-insensitive).', { required: true, uniqueness: 'server' }),
    {
      name: 'name',
      type: 'complex',
      description: "The components of the user's real name.",
      subAttributes: [
        str('formatted', 'The full name.'),
        str('familyName', 'The family name.'),
        str('givenName', 'The given name.'),
        str('middleName', 'The middle name(s).'),
        str('honorificPrefix', 'The honorific prefix(es).'),
        str('honorificSuffix', 'The honorific suffix(es).'),
      ],
    },
    str('displayName', 'The name of the User, suitable for display to end-users.'),
    str('nickName', 'The casual way to address the user.'),
    { name: 'profileUrl', type: 'reference', referenceTypes: ['external'], description: "A URI of the user's online profile." },
    str('title', "The user's title, such as \"Vice President\"."),
    str('userType', 'The relationship between the organization and the user.'),
    str('preferredLanguage', 'Preferred written or spoken language (RFC 7231 §5.3.5).'),
    str('locale', 'Default location for localization (BCP 47).'),
    str('timezone', 'Time zone in the IANA Time Zone database format.'),
    { name: 'active', type: 'boolean', description: "The user's administrative status: false deactivates the user (every session ends at once)." },
    { name: 'password', type: 'string', mutability: 'writeOnly', returned: 'never', description: 'Accepted and ignored: provisioned users sign in through SSO.' },
    multi('emails', 'Email addresses; the primary one (or else the first) is the user\'s sign-in email.'),
    multi('phoneNumbers', 'Phone numbers.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    {
      name: 'addresses',
      type: 'complex',
      multiValued: true,
      description: 'Physical mailing addresses.',
      subAttributes: [
        str('formatted', 'The full mailing address.'),
        str('streetAddress', 'The full street address component.'),
        str('locality', 'The city or locality component.'),
        str('region', 'The state or region component.'),
        str('postalCode', 'The zip code or postal code component.'),
        str('country', 'The country name component.'),
        str('type', 'A label indicating the attribute\'s function.', { canonicalValues: TYPES }),
        { name: 'primary', type: 'boolean', description: 'The primary or preferred address.' },
      ],
    },
    multi('roles', 'Roles as the IdP names them (kept, not mapped).', []),
    {
      // RFC 7643 §4.1.2: read-only, membership changes go through the Group resource (RFC 7644 §3.5.2 and §4.1.2).
      name: 'groups',
      type: 'complex',
      multiValued: true,
      mutability: 'readOnly',
      maxValues: 100_000,
      description: "The directory's groups the user is a member of (read-only: change a group's members instead).",
      subAttributes: [
        { name: 'value', type: 'string', mutability: 'readOnly', description: 'The id of the Group.' },
        { name: '$ref', type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly', description: 'The URI of the Group.' },
        { name: 'display', type: 'string', mutability: 'readOnly', description: "The Group's displayName." },
        { name: 'type', type: 'string', mutability: 'readOnly', canonicalValues: ['direct', 'indirect'], description: 'direct (groups do not nest here).' },
      ],
    },
  ],
};

export const ENTERPRISE_USER_SCHEMA: SchemaDef = {
  id: ENTERPRISE_USER,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person.'),
    str('costCenter', 'Identifies the name of a cost center.'),
    str('organization', 'Identifies the name of an organization.'),
    str('division', 'Identifies the name of a division.'),
    str('department', 'Identifies the name of a department.'),
    {
      name: 'manager',
      type: 'complex',
      description: "The user's manager.",
      subAttributes: [
        str('value', 'The id of the SCIM resource representing the manager.'),
        { name: '$ref', type: 'reference', referenceTypes: ['User'], description: 'The URI of the manager.' },
        str('displayName', "The manager's display name.", { mutability: 'readOnly' }),
      ],
    },
  ],
};

export const GROUP_SCHEMA: SchemaDef = {
  id: CORE_GROUP,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the Group.', { required: true }),
    {
      name: 'members',
      type: 'complex',
      multiValued: true,
      maxValues: 100_000,
      description: 'A list of members of the Group.',
      subAttributes: [
        { name: 'value', type: 'string', mutability: 'immutable', description: 'Identifier of the member.' },
        { name: '$ref', type: 'reference', referenceTypes: ['User', 'Group'], mutability: 'immutable', description: 'The URI of the member.' },
        { name: 'type', type: 'string', mutability: 'immutable', canonicalValues: ['User', 'Group'], description: 'The type of the member.' },
      ],
    },
  ],
};

/** The common attributes every resource has (RFC 7643 §3.1): read-only except externalId. */
export const COMMON_ATTRIBUTES: readonly AttrDef[] = [
  { name: 'id', type: 'string', caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server', description: 'Unique identifier assigned by the service provider.' },
  { name: 'externalId', type: 'string', caseExact: true, description: 'Identifier of the resource as the provisioning client knows it.' },
  {
    name: 'meta',
    type: 'complex',
    mutability: 'readOnly',
    description: 'Resource metadata.',
    subAttributes: [
      { name: 'resourceType', type: 'string', caseExact: true, mutability: 'readOnly', description: 'The resource type.' },
      { name: 'created', type: 'dateTime', mutability: 'readOnly', description: 'When the resource was added.' },
      { name: 'lastModified', type: 'dateTime', mutability: 'readOnly', description: 'When the resource was last changed.' },
      { name: 'location', type: 'reference', mutability: 'readOnly', description: 'The URI of the resource.' },
      { name: 'version', type: 'string', caseExact: true, mutability: 'readOnly', description: 'The version of the resource (weak ETag).' },
    ],
  },
];

/** A resource type: its core schema and extensions, as the filter, PATCH and projection code sees it. */
export interface ResourceSchema {
  readonly name: string;
  readonly endpoint: string;
  readonly core: SchemaDef;
  readonly extensions: readonly SchemaDef[];
}

export const USER_RESOURCE: ResourceSchema = { name: 'User', endpoint: '/Users', core: USER_SCHEMA, extensions: [ENTERPRISE_USER_SCHEMA] };
export const GROUP_RESOURCE: ResourceSchema = { name: 'Group', endpoint: '/Groups', core: GROUP_SCHEMA, extensions: [] };

/**
 * An attribute path resolved against a resource schema: `schema` is the URN whose object holds it (null for the
 * core schema and the common attributes), `attr` the attribute, `sub` a sub-attribute. Names are canonical.
 */
export interface ResolvedPath {
  readonly schema: string | null;
  readonly attr: AttrDef;
  readonly sub: AttrDef | null;
}

function findAttr(list: readonly AttrDef[], name: string): AttrDef | undefined {
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/**
 * Resolves `attrPath` (RFC 7644 §3.10: `[URN ":"] attrName ["." subAttr]`) case-insensitively, or undefined
 * for an attribute the resource does not have. A schema URN prefix is matched as a whole (URNs hold dots).
 */
export function resolvePath(resource: ResourceSchema, path: string): ResolvedPath | undefined {
  let rest = path;
  let schema: SchemaDef = resource.core;
  let urn: string | null = null;
  for (const s of [resource.core, ...resource.extensions]) {
    if (rest.length > s.id.length && rest.slice(0, s.id.length + 1).toLowerCase() === `${s.id.toLowerCase()}:`) {
      rest = rest.slice(s.id.length + 1);
      schema = s;
      urn = s === resource.core ? null : s.id;
      break;
    }
  }
  const [name, subName, ...more] = rest.split('.');
  if (name === undefined || more.length > 0) return undefined;
  const attr = findAttr(schema.attributes, name) ?? (urn === null ? findAttr(COMMON_ATTRIBUTES, name) : undefined);
  if (!attr) return undefined;
  if (subName === undefined) return { schema: urn, attr, sub: null };
  const sub = attr.subAttributes && findAttr(attr.subAttributes, subName);
  return sub ? { schema: urn, attr, sub } : undefined;
}

/** The extension schema whose URN is `key` (case-insensitive), if the resource has it. */
export function extensionNamed(resource: ResourceSchema, key: string): SchemaDef | undefined {
  const lower = key.toLowerCase();
  return resource.extensions.find((s) => s.id.toLowerCase() === lower);
}
