/** A SCIM client (an IdP) as the guard resolved it: the directory its token belongs to, in that directory's tenant. */
export interface ScimCaller {
  readonly kind: 'scim_directory';
  readonly directoryId: string;
  readonly tenantId: string;
  readonly tokenId: string;
}
