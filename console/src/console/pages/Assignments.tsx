import { Badge, Button, Checkbox, Group, Modal, Radio, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { usePermissions } from '../access';
import { useOrganizations } from './Organizations';

/**
 * Role assignments of the account: a role given to a user or a group, permanently or until a date. The API refuses
 * the last Account Administrator's removal and any grant beyond the granter's own access (the grant rule); both
 * refusals are shown as messages. The organization scope is the role's own (a role scoped to an organization): the
 * form picks the scope first, then a role of that scope.
 */
export function AssignmentsPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('access_grants.manage');
  const [includeExpired, setIncludeExpired] = useState(false);
  const [creating, setCreating] = useState(false);
  const queryClient = useQueryClient();
  const assignments = useQuery({
    queryKey: ['assignments', includeExpired],
    queryFn: () => call(api.GET('/api/v1/assignments', { params: { query: includeExpired ? { includeExpired: 'true' } : {} } })),
  });
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => call(api.GET('/api/v1/roles')) });
  const organizations = useOrganizations();
  const scopeOf = (roleId: string) => {
    const role = roles.data?.items.find((r) => r.id === roleId);
    if (!role) return roles.isPending ? '…' : 'Unknown';
    return role.organizationId ? `Organization ${organizations.nameOf(role.organizationId)}` : 'Whole account';
  };

  type Assignment = NonNullable<typeof assignments.data>['items'][number];
  const who = (a: Assignment) => `${a.principal.type === 'group' ? 'Group ' : ''}${a.principal.name ?? a.principal.id}`;
  const content = (
    <QueryTable
      query={assignments}
      rows={(d) => d.items}
      rowKey={(a) => a.id}
      empty="No role assignments."
      minWidth={800}
      highlightOnHover={false}
      columns={[
        { header: 'Who', cell: who },
        {
          header: 'Role',
          cell: (a) => (
            <Group gap={4}>
              {a.role}
              {a.managedBy?.startsWith('sso:') && <Badge variant="light">Managed by SSO</Badge>}
            </Group>
          ),
        },
        { header: 'Scope', cell: (a) => scopeOf(a.roleId) },
        {
          header: 'Expires',
          cell: (a) => (
            <>
              {a.expiresAt ? new Date(a.expiresAt).toLocaleString() : 'Never'}
              {a.expired && (
                <Badge ml={4} color="gray" variant="light">
                  Expired
                </Badge>
              )}
            </>
          ),
        },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (a) =>
            canManage && (
              <ConfirmButton
                label="Remove"
                title={`Remove ${a.role} from ${who(a)}?`}
                confirmLabel="Remove"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/assignments/{id}', { params: { path: { id: a.id } } }));
                  await queryClient.invalidateQueries({ queryKey: ['assignments'] });
                }}
              >
                They lose the role's permissions at once.
              </ConfirmButton>
            ),
        },
      ]}
    />
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Role assignments
        </Title>
        {canManage && <Button onClick={() => setCreating(true)}>Assign a role</Button>}
      </Group>
      <Text size="sm">An assignment gives a role to a user or a group; its scope is the role's (the whole account, or one organization).</Text>
      <Checkbox label="Show expired assignments" checked={includeExpired} onChange={(e) => setIncludeExpired(e.currentTarget.checked)} />
      {content}
      {creating && <AssignModal onClose={() => setCreating(false)} />}
    </Stack>
  );
}

function AssignModal({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => call(api.GET('/api/v1/roles')) });
  const organizations = useOrganizations();
  const [scope, setScope] = useState('');
  const [kind, setKind] = useState<'user' | 'group'>('user');
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const principals = useQuery({
    queryKey: ['principals', q],
    queryFn: () => call(api.GET('/api/v1/assignments/principals', { params: { query: { q } } })),
    enabled: q.length > 0,
  });
  const [principalId, setPrincipalId] = useState<string | null>(null);
  const [roleId, setRoleId] = useState<string | null>(null);
  const [expires, setExpires] = useState('');
  const options =
    kind === 'user'
      ? (principals.data?.users ?? []).map((u) => ({ value: u.id, label: u.name ? `${u.name} (${u.email})` : u.email }))
      : (principals.data?.groups ?? []).map((g) => ({ value: g.id, label: g.name }));
  const assign = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/assignments', {
          body: { roleId: roleId!, ...(kind === 'user' ? { userId: principalId! } : { groupId: principalId! }), expiresAt: expires ? new Date(`${expires}T23:59:59`).toISOString() : null },
        }),
      ),
    onSuccess: (a) => {
      notifications.show({ message: `${a.role} assigned.` });
      void queryClient.invalidateQueries({ queryKey: ['assignments'] });
      onClose();
    },
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title="Assign a role" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          assign.mutate();
        }}
      >
        <Stack>
          <Radio.Group
            label="Assign to"
            value={kind}
            onChange={(v) => {
              setKind(v);
              setPrincipalId(null);
            }}
          >
            <Group mt={4}>
              <Radio value="user" label="A user" />
              <Radio value="group" label="A group" />
            </Group>
          </Radio.Group>
          <TextInput label={kind === 'user' ? 'Search users' : 'Search groups'} placeholder={kind === 'user' ? 'Email or name' : 'Group name'} value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
          <Select label={kind === 'user' ? 'User' : 'Group'} placeholder={q ? undefined : 'Search first'} data={options} value={principalId} onChange={setPrincipalId} required nothingFoundMessage="Nothing matches the search" />
          {organizations.allowed && (
            <Select
              label="Scope"
              description="The whole account, or one organization: the roles scoped to it are offered"
              allowDeselect={false}
              data={[{ value: '', label: 'Whole account' }, ...organizations.items.map((o) => ({ value: o.id, label: `Organization ${o.name}` }))]}
              value={scope}
              onChange={(v) => {
                setScope(v ?? '');
                setRoleId(null);
              }}
            />
          )}
          <Select
            label="Role"
            data={(roles.data?.items ?? []).filter((r) => !organizations.allowed || (r.organizationId ?? '') === scope).map((r) => ({ value: r.id, label: r.name }))}
            value={roleId}
            onChange={setRoleId}
            required
            nothingFoundMessage="No role has this scope"
          />
          <TextInput label="Expires on" description="Optional: the assignment ends at the end of this day" type="date" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
          {assign.isError && <ErrorState error={assign.error} title="Not assigned" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={assign.isPending} disabled={!principalId || !roleId}>
              Assign
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
