/**
 * A SCIM client (an IdP) as the guard resolved it: the directory its URL names, in that directory's tenant, and
 * the SHA-256 of its bearer token. The token itself is checked in the request's unit of work
 * (`DirectoriesService.work`): a request whose token is not a live token of the directory changes and reads nothing.
 */
export interface ScimCaller {
  readonly kind: 'scim_directory';
  readonly directoryId: string;
  readonly tenantId: string;
  readonly tokenHash: Buffer;
}
