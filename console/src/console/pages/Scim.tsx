import { ActionIcon, Alert, Badge, Button, Card, Group, Modal, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, Empty, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

type Directory = Awaited<ReturnType<typeof listDirectories>>['items'][number];
const listDirectories = () => call(api.GET('/api/v1/scim/directories'));
/** The Select's value for "no connection" (an option value must be a non-empty string). */
const NONE = 'none';
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : 'never');

/** SCIM 2.0 provisioning directories (docs/scim.md): one per IdP pushing users and groups, each with its bearer tokens. */
export function ScimPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('scim.manage') && permissions.isTenantAdmin;
  const directories = useQuery({ queryKey: ['scim-directories'], queryFn: listDirectories });

  let content;
  if (directories.isPending) content = <Loading />;
  else if (directories.isError) content = <ErrorState error={directories.error} onRetry={() => void directories.refetch()} />;
  else if (directories.data.items.length === 0) content = <Empty>No SCIM directories yet. Create one to let your identity provider create and update users and groups here.</Empty>;
  else content = directories.data.items.map((d) => <DirectoryCard key={d.id} directory={d} canManage={canManage} />);

  return (
    <Stack maw={1000}>
      <Title order={1} size="h2">
        SCIM directories
      </Title>
      <Text size="sm">Give your identity provider a directory's base URL and a token: it then provisions and deprovisions users and groups (SCIM 2.0).</Text>
      {canManage && <CreateDirectory />}
      {content}
    </Stack>
  );
}

function CreateDirectory() {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/scim/directories', { body: { name: name.trim() } })),
    onSuccess: (d) => {
      notifications.show({ message: `Directory ${d.name} created. Create a token for your identity provider.` });
      setName('');
      void queryClient.invalidateQueries({ queryKey: ['scim-directories'] });
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <Stack gap="xs">
        <Group align="flex-end">
          <TextInput label="Directory name" placeholder="Okta" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Button type="submit" loading={create.isPending}>
            Create directory
          </Button>
        </Group>
        {create.isError && <ErrorState error={create.error} title="Directory not created" />}
      </Stack>
    </form>
  );
}

function DirectoryCard({ directory: d, canManage }: { directory: Directory; canManage: boolean }) {
  const queryClient = useQueryClient();
  return (
    <Card withBorder component="section" aria-label={d.name} data-testid={`directory-${d.name}`}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4">
            {d.name}
          </Title>
          {canManage && (
            <ConfirmButton
              label="Delete directory"
              title={`Delete ${d.name}?`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await call(api.DELETE('/api/v1/scim/directories/{id}', { params: { path: { id: d.id } } }));
                await queryClient.invalidateQueries({ queryKey: ['scim-directories'] });
              }}
            >
              Every user it provisioned is deactivated, and its tokens stop working at once.
            </ConfirmButton>
          )}
        </Group>
        <CopyLine label="SCIM base URL" value={d.baseUrl} testId="scim-base-url" />
        <SsoLink directory={d} canManage={canManage} />
        <Tokens directory={d} canManage={canManage} />
        <RoleMappings directory={d} canManage={canManage} />
      </Stack>
    </Card>
  );
}

/**
 * The SSO connection the directory's users sign in through (docs/scim.md): a user the IdP provisioned here signs in
 * through that connection as the same user, never a second one. The list of connections needs `sso.view`.
 */
function SsoLink({ directory, canManage }: { directory: Directory; canManage: boolean }) {
  const queryClient = useQueryClient();
  const permissions = usePermissions();
  const connections = useQuery({ queryKey: ['sso-connections'], queryFn: () => call(api.GET('/api/v1/sso/connections')), enabled: permissions.has('sso.view') });
  const link = useMutation({
    mutationFn: (ssoConnectionId: string | null) => call(api.PATCH('/api/v1/scim/directories/{id}', { params: { path: { id: directory.id } }, body: { ssoConnectionId } })),
    onSuccess: async (d) => {
      notifications.show({ message: d.ssoConnectionId ? `${d.name} is linked to its SSO connection.` : `${d.name} is no longer linked to an SSO connection.` });
      await queryClient.invalidateQueries({ queryKey: ['scim-directories'] });
    },
  });
  const linkedName = directory.ssoConnectionId === null ? null : (connections.data?.items.find((c) => c.id === directory.ssoConnectionId)?.name ?? directory.ssoConnectionId);
  const options = [{ value: NONE, label: 'None' }, ...(connections.data?.items ?? []).map((c) => ({ value: c.id, label: c.name }))];
  return (
    <Stack gap="xs" component="section" aria-label={`SSO connection of ${directory.name}`}>
      <Text size="sm" data-testid="scim-sso-link">
        {linkedName === null ? 'Not linked to an SSO connection.' : `Its users sign in through the SSO connection ${linkedName}.`}
      </Text>
      {canManage && permissions.has('sso.view') && (
        <Group align="flex-end">
          <Select
            label="Linked SSO connection"
            description="Users this directory provisions sign in through it as the same user"
            allowDeselect={false}
            data={options}
            value={directory.ssoConnectionId ?? NONE}
            disabled={connections.isPending || link.isPending}
            onChange={(v) => link.mutate(v && v !== NONE ? v : null)}
            w={360}
          />
        </Group>
      )}
      {connections.isError && <ErrorState error={connections.error} title="SSO connections unavailable" onRetry={() => void connections.refetch()} />}
      {link.isError && <ErrorState error={link.error} title="Link not changed" />}
    </Stack>
  );
}

function Tokens({ directory, canManage }: { directory: Directory; canManage: boolean }) {
  const queryClient = useQueryClient();
  const key = ['scim-tokens', directory.id];
  const tokens = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/scim/directories/{id}/tokens', { params: { path: { id: directory.id } } })) });
  const [shown, setShown] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/scim/directories/{id}/tokens', { params: { path: { id: directory.id } } })),
    onSuccess: (t) => {
      setShown(t.token);
      void queryClient.invalidateQueries({ queryKey: key });
    },
  });
  const content = (
    <QueryTable
      query={tokens}
      rows={(d) => d.items.filter((t) => t.revokedAt === null)}
      rowKey={(t) => t.id}
      empty="No live token: the identity provider cannot reach this directory yet."
      minWidth={400}
      highlightOnHover={false}
      columns={[
        { header: 'Created', cell: (t) => when(t.createdAt) },
        { header: 'Last used', cell: (t) => when(t.lastUsedAt) },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (t) =>
            canManage && (
              <ConfirmButton
                label="Revoke"
                title="Revoke this token?"
                confirmLabel="Revoke"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/scim/directories/{id}/tokens/{tokenId}', { params: { path: { id: directory.id, tokenId: t.id } } }));
                  await queryClient.invalidateQueries({ queryKey: key });
                }}
              >
                The identity provider using it is refused from now on. Give it the new token first.
              </ConfirmButton>
            ),
        },
      ]}
    />
  );
  return (
    <Stack gap="xs" component="section" aria-label={`Tokens of ${directory.name}`}>
      <Group justify="space-between">
        <Text size="sm" fw={600}>
          Tokens
        </Text>
        {canManage && (
          <Button size="xs" variant="light" loading={create.isPending} onClick={() => create.mutate()}>
            Create token
          </Button>
        )}
      </Group>
      {content}
      {create.isError && <ErrorState error={create.error} title="Token not created" />}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={shown !== null} onClose={() => setShown(null)} title="Your new SCIM token" centered size="lg">
        <Stack>
          <Alert color="yellow" title="Shown only once">
            Copy it into your identity provider now: only its hash is kept, and it cannot be shown again.
          </Alert>
          {shown && <CopyLine label="Token" value={shown} testId="scim-token" />}
          <Group justify="flex-end">
            <Button onClick={() => setShown(null)}>I have copied it</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function RoleMappings({ directory, canManage }: { directory: Directory; canManage: boolean }) {
  const queryClient = useQueryClient();
  const key = ['scim-mappings', directory.id];
  const mappings = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/scim/directories/{id}/role-mappings', { params: { path: { id: directory.id } } })) });
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => call(api.GET('/api/v1/roles')) });
  const [editing, setEditing] = useState(false);
  const roleName = (id: string | null) => (id === null ? 'none' : (roles.data?.items.find((r) => r.id === id)?.name ?? id));
  if (mappings.isPending) return <Loading />;
  if (mappings.isError) return <ErrorState error={mappings.error} onRetry={() => void mappings.refetch()} />;
  return (
    <Stack gap="xs" component="section" aria-label={`Role mappings of ${directory.name}`}>
      <Group justify="space-between">
        <Text size="sm" fw={600}>
          Group → role mappings
        </Text>
        {canManage && (
          <Button size="xs" variant="default" onClick={() => setEditing(true)}>
            Edit mappings
          </Button>
        )}
      </Group>
      <Text size="sm">Every user of the directory: {roleName(mappings.data.defaultRoleId)}</Text>
      {mappings.data.mappings.length === 0 ? (
        <Text size="sm" c="dimmed">
          No group mappings.
        </Text>
      ) : (
        <Group gap="xs">
          {mappings.data.mappings.map((m) => (
            <Badge key={`${m.group ?? ''}/${m.department ?? ''}/${m.roleId}`} variant="light">
              {m.group ?? `department ${m.department ?? ''}`} → {roleName(m.roleId)}
            </Badge>
          ))}
        </Group>
      )}
      {editing && (
        <MappingsModal
          directoryName={directory.name}
          initial={mappings.data}
          roleOptions={(roles.data?.items ?? []).filter((r) => !r.system).map((r) => ({ value: r.id, label: r.name }))}
          onClose={() => setEditing(false)}
          onSave={async (body) => {
            await call(api.PUT('/api/v1/scim/directories/{id}/role-mappings', { params: { path: { id: directory.id } }, body }));
            await queryClient.invalidateQueries({ queryKey: key });
          }}
        />
      )}
    </Stack>
  );
}

type Mappings = { defaultRoleId: string | null; mappings: { group?: string; department?: string; roleId: string }[] };

function MappingsModal(props: { directoryName: string; initial: Mappings; roleOptions: { value: string; label: string }[]; onClose: () => void; onSave: (m: Mappings) => Promise<unknown> }) {
  const [defaultRoleId, setDefaultRoleId] = useState(props.initial.defaultRoleId);
  // Group mappings are edited here; department mappings (set through the API) are kept as they are.
  const [rows, setRows] = useState(props.initial.mappings.flatMap((m) => (m.group !== undefined ? [{ group: m.group, roleId: m.roleId }] : [])));
  const departments = props.initial.mappings.filter((m) => m.department !== undefined);
  const save = useMutation({
    mutationFn: () => props.onSave({ defaultRoleId, mappings: [...rows.filter((r) => r.group.trim() && r.roleId), ...departments] }),
    onSuccess: () => {
      notifications.show({ message: 'Mappings saved.' });
      props.onClose();
    },
  });
  const update = (i: number, patch: Partial<{ group: string; roleId: string }>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={props.onClose} title={`Role mappings of ${props.directoryName}`} size="lg" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <Select label="Role of every user of the directory" clearable data={props.roleOptions} value={defaultRoleId} onChange={setDefaultRoleId} />
          {rows.map((r, i) => (
            <Group key={i} align="flex-end" wrap="nowrap">
              <TextInput label={`Group ${i + 1}`} description="The SCIM group's display name" value={r.group} onChange={(e) => update(i, { group: e.currentTarget.value })} />
              <Select label={`Role for group ${i + 1}`} data={props.roleOptions} value={r.roleId || null} onChange={(v) => update(i, { roleId: v ?? '' })} />
              <ActionIcon variant="subtle" color="red" aria-label={`Remove mapping ${i + 1}`} onClick={() => setRows(rows.filter((_, j) => j !== i))} mb={6}>
                ✕
              </ActionIcon>
            </Group>
          ))}
          <Group>
            <Button size="xs" variant="default" onClick={() => setRows([...rows, { group: '', roleId: '' }])}>
              Add mapping
            </Button>
          </Group>
          {save.isError && <ErrorState error={save.error} title="Mappings not saved" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save mappings
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
