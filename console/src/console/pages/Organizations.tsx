import { Button, Group, Modal, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { usePermissions } from '../access';

type Organization = Schemas['Organization'];

/**
 * Every organization of the session's account (at most the API's page of 200), for naming role scopes. Only asked when
 * the user holds `organizations.view`; without it a scope shows as the organization's id.
 */
export function useOrganizations() {
  const permissions = usePermissions();
  const allowed = permissions.has('organizations.view');
  const query = useQuery({
    queryKey: ['organizations', ''],
    queryFn: () => call(api.GET('/api/v1/organizations', { params: { query: { limit: 200, offset: 0 } } })),
    enabled: allowed,
  });
  const items = query.data?.items ?? [];
  return { allowed, query, items, nameOf: (id: string) => items.find((o) => o.id === id)?.name ?? id };
}

/** Organizations of the account (README "Access control"): units inside an account that roles can be scoped to. */
export function OrganizationsPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('organizations.manage');
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const [editing, setEditing] = useState<Organization | 'new' | null>(null);
  const queryClient = useQueryClient();
  const organizations = useQuery({
    queryKey: ['organizations', q],
    queryFn: () => call(api.GET('/api/v1/organizations', { params: { query: { ...(q ? { q } : {}), limit: 200, offset: 0 } } })),
    placeholderData: keepPreviousData,
  });

  const content = (
    <QueryTable
      query={organizations}
      rows={(d) => d.items}
      rowKey={(o) => o.id}
      empty={q ? 'No organization matches the search.' : 'No organizations yet.'}
      minWidth={500}
      columns={[
        { header: 'Name', cell: (o) => o.name },
        { header: 'Created', cell: (o) => new Date(o.createdAt).toLocaleDateString() },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (o) =>
            canManage && (
              <Group gap="xs" justify="flex-end" wrap="nowrap">
                <Button size="xs" variant="default" onClick={() => setEditing(o)} aria-label={`Rename ${o.name}`}>
                  Rename
                </Button>
                <ConfirmButton
                  label="Delete"
                  title={`Delete the organization ${o.name}?`}
                  confirmLabel="Delete"
                  onConfirm={async () => {
                    await call(api.DELETE('/api/v1/organizations/{id}', { params: { path: { id: o.id } } }));
                    notifications.show({ message: `Organization ${o.name} deleted.` });
                    await queryClient.invalidateQueries({ queryKey: ['organizations'] });
                  }}
                >
                  An organization that roles are scoped to cannot be deleted; delete those roles or change their scope first.
                </ConfirmButton>
              </Group>
            ),
        },
      ]}
    />
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Organizations
        </Title>
        {canManage && <Button onClick={() => setEditing('new')}>New organization</Button>}
      </Group>
      <Text size="sm">An organization is a unit of the account; a role scoped to it grants its permissions in that organization only.</Text>
      <TextInput label="Search organizations" placeholder="Part of the name" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={400} />
      {content}
      {editing && <OrganizationForm organization={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

function OrganizationForm({ organization, onClose }: { organization: Organization | null; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(organization?.name ?? '');
  const save = useMutation({
    mutationFn: () =>
      organization
        ? call(api.PATCH('/api/v1/organizations/{id}', { params: { path: { id: organization.id } }, body: { name } }))
        : call(api.POST('/api/v1/organizations', { body: { name } })),
    onSuccess: (o) => {
      notifications.show({ message: `Organization ${o.name} saved.` });
      void queryClient.invalidateQueries({ queryKey: ['organizations'] });
      void queryClient.invalidateQueries({ queryKey: ['me', 'access'] });
      onClose();
    },
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title={organization ? `Rename ${organization.name}` : 'New organization'} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <TextInput label="Name" description="Unique in the account" required maxLength={200} value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus />
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!name.trim()}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
