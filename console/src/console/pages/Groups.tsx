import { Button, Card, Group, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { usePermissions } from '../access';

type GroupView = Schemas['Group'];

/** Groups of the tenant and their members (README "Access control": groups belong to a tenant, members are its users). */
export function GroupsPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('idp.manage') && permissions.isTenantAdmin;
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const [selected, setSelected] = useState<string | null>(null);
  const groups = useQuery({
    queryKey: ['groups', q],
    queryFn: () => call(api.GET('/api/v1/groups', { params: { query: { ...(q ? { q } : {}), limit: 200, offset: 0 } } })),
    placeholderData: keepPreviousData,
  });
  const current = groups.data?.items.find((g) => g.id === selected) ?? null;

  const content = (
    <QueryTable
      query={groups}
      rows={(d) => d.items}
      rowKey={(g) => g.id}
      empty={q ? 'No group matches the search.' : 'No groups yet.'}
      columns={[
        { header: 'Name', cell: (g) => g.name },
        { header: 'Description', cell: (g) => g.description || '—' },
        { header: 'Members', cell: (g) => g.memberCount },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (g) => (
            <Button size="compact-xs" variant="subtle" onClick={() => setSelected(g.id)} aria-label={`Members of ${g.name}`}>
              Members
            </Button>
          ),
        },
      ]}
    />
  );

  return (
    <Stack maw={900}>
      <Title order={1} size="h2">
        Groups
      </Title>
      {canManage && <CreateGroup onCreated={setSelected} />}
      <TextInput label="Search groups" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={400} />
      {content}
      {current && <Members group={current} canManage={canManage} onDeleted={() => setSelected(null)} />}
    </Stack>
  );
}

function CreateGroup({ onCreated }: { onCreated: (id: string) => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/groups', { body: { name, ...(description ? { description } : {}) } })),
    onSuccess: (g) => {
      notifications.show({ message: `Group ${g.name} was created.` });
      setName('');
      setDescription('');
      void queryClient.invalidateQueries({ queryKey: ['groups'] });
      onCreated(g.id);
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
          <TextInput label="Group name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <Button type="submit" loading={create.isPending}>
            Create group
          </Button>
        </Group>
        {create.isError && <ErrorState error={create.error} title="Group not created" />}
      </Stack>
    </form>
  );
}

function Members({ group, canManage, onDeleted }: { group: GroupView; canManage: boolean; onDeleted: () => void }) {
  const queryClient = useQueryClient();
  const members = useQuery({
    queryKey: ['groups', group.id, 'members'],
    queryFn: () => call(api.GET('/api/v1/groups/{id}/members', { params: { path: { id: group.id }, query: { limit: 200, offset: 0 } } })),
  });
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const candidates = useQuery({
    queryKey: ['users', q],
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { ...(q ? { q } : {}), limit: 20 } } })),
    enabled: canManage,
  });
  const [error, setError] = useState<unknown>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['groups'] });
  const add = useMutation({
    mutationFn: (userId: string) => call(api.PUT('/api/v1/groups/{id}/members/{userId}', { params: { path: { id: group.id, userId } } })),
    onSuccess: () => {
      setSearch('');
      void refresh();
    },
    onError: setError,
  });
  const memberIds = new Set(members.data?.items.map((m) => m.id) ?? []);

  const list = (
    <QueryTable
      query={members}
      rows={(d) => d.items}
      rowKey={(m) => m.id}
      empty="No members yet."
      highlightOnHover={false}
      columns={[
        { header: 'Member', cell: (m) => `${m.email}${m.name ? ` (${m.name})` : ''}` },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (m) =>
            canManage && (
              <ConfirmButton
                label="Remove"
                title={`Remove ${m.email} from ${group.name}?`}
                confirmLabel="Remove"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/groups/{id}/members/{userId}', { params: { path: { id: group.id, userId: m.id } } }));
                  await refresh();
                }}
              >
                They lose the roles the group carries, at their next request.
              </ConfirmButton>
            ),
        },
      ]}
    />
  );

  return (
    <Card withBorder component="section" aria-label={`Group ${group.name}`}>
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            {group.name}
          </Title>
          {canManage && (
            <ConfirmButton
              label="Delete group"
              title={`Delete the group ${group.name}?`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await call(api.DELETE('/api/v1/groups/{id}', { params: { path: { id: group.id } } }));
                onDeleted();
                await refresh();
              }}
            >
              Its members lose the roles it carries.
            </ConfirmButton>
          )}
        </Group>
        {group.description && <Text size="sm">{group.description}</Text>}
        {canManage && (
          <Select
            label="Add a member"
            placeholder="Search users by email or name"
            searchable
            searchValue={search}
            onSearchChange={setSearch}
            filter={({ options }) => options}
            data={(candidates.data?.items ?? []).filter((u) => !memberIds.has(u.id)).map((u) => ({ value: u.id, label: u.email }))}
            value={null}
            onChange={(userId) => {
              setError(null);
              if (userId) add.mutate(userId);
            }}
            nothingFoundMessage={candidates.isFetching ? 'Searching…' : 'No user found'}
          />
        )}
        {error !== null && <ErrorState error={error} title="Member not added" />}
        {list}
      </Stack>
    </Card>
  );
}
