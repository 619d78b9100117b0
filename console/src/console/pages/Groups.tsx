import { Button, Card, Group, Select, Stack, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { ConfirmButton, Empty, ErrorState, Loading } from '../../ui/states';
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

  let content;
  if (groups.isPending) content = <Loading />;
  else if (groups.isError) content = <ErrorState error={groups.error} onRetry={() => void groups.refetch()} />;
  else if (groups.data.items.length === 0) content = <Empty>{q ? 'No group matches the search.' : 'No groups yet.'}</Empty>;
  else
    content = (
      <Table.ScrollContainer minWidth={600}>
        <Table striped highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Members</Table.Th>
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {groups.data.items.map((g) => (
              <Table.Tr key={g.id}>
                <Table.Td>{g.name}</Table.Td>
                <Table.Td>{g.description || '—'}</Table.Td>
                <Table.Td>{g.memberCount}</Table.Td>
                <Table.Td>
                  <Button size="compact-xs" variant="subtle" onClick={() => setSelected(g.id)} aria-label={`Members of ${g.name}`}>
                    Members
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
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

  let list;
  if (members.isPending) list = <Loading />;
  else if (members.isError) list = <ErrorState error={members.error} onRetry={() => void members.refetch()} />;
  else if (members.data.items.length === 0) list = <Empty>No members yet.</Empty>;
  else
    list = (
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Member</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {members.data.items.map((m) => (
            <Table.Tr key={m.id}>
              <Table.Td>
                {m.email}
                {m.name ? ` (${m.name})` : ''}
              </Table.Td>
              <Table.Td>
                {canManage && (
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
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
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
