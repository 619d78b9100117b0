import { Alert, Badge, Button, Code, Group, Select, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { type Column, DataTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { type Idp, IDPS, refreshChanges, type SettingChange, valuesToPaste } from './sso-idp-values';

type Connection = Schemas['SsoConnection'];
const when = (iso: string) => new Date(iso).toLocaleString();

/** Both key lists (client keys, SP keys): the current key signs; previous ones stay published until removed. */
const KEY_STATE: Column<{ current: boolean }> = {
  header: 'State',
  cell: (k) => (
    <Badge color={k.current ? 'green' : 'gray'} variant="light">
      {k.current ? 'Current: signs' : 'Previous: still published'}
    </Badge>
  ),
};

/**
 * The Actions column of a key list: "Remove" (after a confirmation) on every key but the current one, for those who
 * may manage the connection; the list is read again once the key is gone.
 */
function removeKeyColumn<K extends { current: boolean }>(options: { canManage: boolean; title: (k: K) => string; consequence: string; remove: (k: K) => Promise<unknown> }): Column<K> {
  return {
    header: 'Actions',
    hideHeader: true,
    cell: (k) =>
      options.canManage &&
      !k.current && (
        <ConfirmButton label="Remove" title={options.title(k)} confirmLabel="Remove key" onConfirm={() => options.remove(k)}>
          {options.consequence}
        </ConfirmButton>
      ),
  };
}

/** The values to register at the identity provider, named as the chosen IdP's admin screens name them. */
export function IdpValues({ connection: c }: { connection: Connection }) {
  const [idp, setIdp] = useState<Idp>('generic');
  const { values, notes } = valuesToPaste(idp, c);
  const chosen = IDPS.find((i) => i.value === idp)!;
  return (
    <Stack gap={4} component="section" aria-label={`Values to register at the identity provider for ${c.name}`}>
      <Group gap="xs" align="flex-end">
        <Text size="sm" fw={600}>
          Register these values at your identity provider
        </Text>
        <Select
          size="xs"
          label="Your identity provider"
          allowDeselect={false}
          value={idp}
          onChange={(v) => v && setIdp(v)}
          data={IDPS.map((i) => ({ value: i.value, label: i.label }))}
          w={230}
        />
      </Group>
      {values.map((v) => (
        <CopyLine key={v.testId} label={v.field} value={v.value} testId={v.testId} />
      ))}
      {notes.map((n) => (
        <Text key={n} size="sm" data-testid="idp-note">
          {n}
        </Text>
      ))}
      <Text size="xs" c="dimmed">
        Step by step: <Code>docs/sso/{c.type === 'oidc' ? chosen.oidcGuide : chosen.samlGuide}</Code>
      </Text>
    </Stack>
  );
}

/**
 * private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): the connection's client keys. A rotation makes a new key
 * current at once and keeps the previous public keys published (the overlap) until they are removed, so the IdP can
 * fetch the new one from the JWKS URL before the old one goes.
 */
export function ClientKeys({ connection: c, canManage }: { connection: Connection; canManage: boolean }) {
  const queryClient = useQueryClient();
  const keys = c.clientJwks?.keys ?? [];
  const rotate = useMutation({
    mutationFn: () => call(api.POST('/api/v1/sso/connections/{id}/keys/rotate', { params: { path: { id: c.id } } })),
    onSuccess: async (updated) => {
      notifications.show({ message: `New key ${updated.clientJwks?.keys[0]?.kid ?? ''} signs from now on. Remove the previous key once your IdP has the new one.` });
      await queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
    },
  });
  return (
    <Stack gap="xs" component="section" aria-label={`Client keys of ${c.name}`}>
      <Group justify="space-between">
        <Text size="sm" fw={600}>
          Client keys (private_key_jwt)
        </Text>
        {canManage && (
          <ConfirmButton label="Rotate key" title={`Rotate the client key of ${c.name}?`} confirmLabel="Rotate key" onConfirm={() => rotate.mutateAsync()}>
            A new key pair signs Tessera's client assertions at once. The previous public key stays published at the JWKS URL until you remove it: an IdP that fetches the JWKS URL follows by itself; an IdP holding a pasted key needs the new one now.
          </ConfirmButton>
        )}
      </Group>
      {c.clientJwksUri && <CopyLine label="JWKS URL" value={c.clientJwksUri} testId="client-jwks-url" />}
      {keys.length === 0 ? (
        <Text size="sm" c="dimmed">
          No client key yet: rotate to create one.
        </Text>
      ) : (
        <DataTable
          testId="client-keys"
          rows={keys.map((k, i) => ({ ...k, current: i === 0 }))}
          rowKey={(k) => k.kid}
          columns={[
            { header: 'Key ID', cell: (k) => <Code style={{ wordBreak: 'break-all' }}>{k.kid}</Code> },
            { header: 'Algorithm', cell: (k) => k.alg },
            KEY_STATE,
            removeKeyColumn<{ kid: string; current: boolean }>({
              canManage,
              title: (k) => `Stop publishing key ${k.kid.slice(0, 12)}…?`,
              consequence: 'The IdP can no longer verify assertions signed with this key. Remove it once the IdP uses the current key.',
              remove: async (k) => {
                await call(api.DELETE('/api/v1/sso/connections/{id}/keys/{kid}', { params: { path: { id: c.id, kid: k.kid } } }));
                await queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
              },
            }),
          ]}
        />
      )}
    </Stack>
  );
}

/**
 * The IdP's published document (OIDC discovery, or SAML metadata imported from a URL): when it was last fetched, a
 * refresh now, and what the refresh changed or why it was refused (the stored settings then stay as they were).
 */
export function DocumentRefresh({ connection: c, canManage }: { connection: Connection; canManage: boolean }) {
  const queryClient = useQueryClient();
  const [changes, setChanges] = useState<SettingChange[] | null>(null);
  const refresh = useMutation({
    mutationFn: () => call(api.POST('/api/v1/sso/connections/{id}/discovery/refresh', { params: { path: { id: c.id } } })),
    onMutate: () => setChanges(null),
    onSuccess: async (updated) => {
      setChanges(refreshChanges(c, updated));
      await queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
    },
  });
  const oidc = c.type === 'oidc';
  const fetchedAt = oidc ? (c.oidc?.discovery?.fetchedAt ?? null) : (c.saml?.metadataFetchedAt ?? null);
  const document = oidc ? 'Discovery document' : 'IdP metadata';
  if (!oidc && !c.saml?.metadataUrl) {
    return (
      <Text size="sm" c="dimmed" data-testid="document-fetched">
        IdP metadata: pasted or typed, not fetched from a URL. To take the IdP's new certificate or endpoints, paste its new metadata with Edit.
      </Text>
    );
  }
  return (
    <Stack gap="xs" component="section" aria-label={`${document} of ${c.name}`}>
      <Group gap="xs">
        <Text size="sm" data-testid="document-fetched">
          {document} {fetchedAt ? `last fetched ${when(fetchedAt)}` : 'not fetched yet'}
          {!oidc && c.saml?.metadataUrl ? ` from ${c.saml.metadataUrl}` : ''}.
        </Text>
        {canManage && (
          <Button size="xs" variant="default" loading={refresh.isPending} onClick={() => refresh.mutate()}>
            Refresh now
          </Button>
        )}
      </Group>
      {!oidc && (
        <Text size="xs" c="dimmed">
          Also fetched every 6 hours; a failed scheduled fetch keeps these settings and is in the audit log (sso.connection.metadata_refresh_failed).
        </Text>
      )}
      {refresh.isError && <ErrorState error={refresh.error} title={`${document} not refreshed: the settings are unchanged`} />}
      {changes !== null &&
        (changes.length === 0 ? (
          <Alert color="gray" title="Refreshed: nothing changed" data-testid="refresh-outcome">
            <Text size="sm">The IdP publishes the same settings as before.</Text>
          </Alert>
        ) : (
          <Alert color="blue" title={`Refreshed: ${changes.length} change(s) applied`} data-testid="refresh-outcome">
            <Stack gap={2}>
              {changes.map((ch) => (
                <Text key={ch.what} size="sm">
                  {ch.what}: {ch.before} → {ch.after}
                </Text>
              ))}
            </Stack>
          </Alert>
        ))}
    </Stack>
  );
}

/**
 * SAML: our SP key pairs (saml-metadata §2.4.1.1 KeyDescriptor): the current one signs our requests; after a rotation
 * the previous one stays in the SP metadata and still decrypts assertions until removed, so the IdP can take the new
 * certificate (or re-import the SP metadata) first.
 */
export function SpKeys({ connection: c, canManage }: { connection: Connection; canManage: boolean }) {
  const queryClient = useQueryClient();
  const keys = c.saml?.spKeys ?? [];
  const current = keys.find((k) => k.current);
  return (
    <Stack gap="xs" component="section" aria-label={`SP keys of ${c.name}`}>
      <Group justify="space-between">
        <Text size="sm" fw={600}>
          SP keys (request signing and assertion encryption)
        </Text>
        {canManage && (
          <ConfirmButton
            label="Rotate SP key"
            title={`Rotate the SP key of ${c.name}?`}
            confirmLabel="Rotate SP key"
            onConfirm={async () => {
              await call(api.POST('/api/v1/sso/connections/{id}/sp-keys/rotate', { params: { path: { id: c.id } } }));
              await queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
            }}
          >
            A new key pair and certificate sign Tessera's requests at once. The previous certificate stays in the SP metadata, and still decrypts assertions, until you remove it: give the IdP the new certificate (or let it re-import the SP metadata) first.
          </ConfirmButton>
        )}
      </Group>
      {current && <CopyLine label="Current certificate (PEM)" value={current.certificatePem} testId="sp-certificate" />}
      <DataTable
        testId="sp-keys"
        rows={keys}
        rowKey={(k) => k.id}
        columns={[
          { header: 'SHA-256 fingerprint', cell: (k) => <Code style={{ wordBreak: 'break-all' }}>{k.fingerprintSha256}</Code> },
          { header: 'Expires', cell: (k) => new Date(k.notAfter).toLocaleDateString() },
          KEY_STATE,
          removeKeyColumn<{ id: string; current: boolean }>({
            canManage,
            title: () => 'Remove the previous SP key?',
            consequence: 'It leaves the SP metadata and no longer decrypts assertions. Remove it once the IdP uses the current certificate.',
            remove: async (k) => {
              await call(api.DELETE('/api/v1/sso/connections/{id}/sp-keys/{keyId}', { params: { path: { id: c.id, keyId: k.id } } }));
              await queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
            },
          }),
        ]}
      />
    </Stack>
  );
}
