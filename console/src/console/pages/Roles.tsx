import { Badge, Button, Checkbox, Group, Modal, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';
import { useOrganizations } from './Organizations';

type Role = Schemas['Role'];

/** Roles of the session's account (README "Access control"): system roles are read-only; templates pre-fill new ones. */
export function RolesPage() {
  const permissions = usePermissions();
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => call(api.GET('/api/v1/roles')) });
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const queryClient = useQueryClient();
  const organizations = useOrganizations();

  const content = (
    <QueryTable
      query={roles}
      rows={(d) => d.items}
      rowKey={(r) => r.id}
      empty="No roles yet."
      columns={[
        {
          header: 'Role',
          cell: (r) => (
            <Group gap="xs">
              {r.name}
              {r.system && <Badge variant="light">System</Badge>}
            </Group>
          ),
        },
        { header: 'Scope', cell: (r) => (r.organizationId ? `Organization ${organizations.nameOf(r.organizationId)}` : 'Whole account') },
        { header: 'Permissions', cell: (r) => r.permissions.length },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (r) => (
            <Group gap="xs" justify="flex-end" wrap="nowrap">
              <Button size="xs" variant="default" onClick={() => setEditing(r)} aria-label={`${r.system || !permissions.has('roles.edit') ? 'View' : 'Edit'} ${r.name}`}>
                {r.system || !permissions.has('roles.edit') ? 'View' : 'Edit'}
              </Button>
              {!r.system && permissions.has('roles.delete') && (
                <ConfirmButton
                  label="Delete"
                  title={`Delete the role ${r.name}?`}
                  confirmLabel="Delete"
                  onConfirm={async () => {
                    await call(api.DELETE('/api/v1/roles/{id}', { params: { path: { id: r.id } } }));
                    await queryClient.invalidateQueries({ queryKey: ['roles'] });
                  }}
                >
                  A role that is still assigned cannot be deleted; remove its assignments first.
                </ConfirmButton>
              )}
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
          Roles
        </Title>
        {permissions.has('roles.create') && <Button onClick={() => setEditing('new')}>New role</Button>}
      </Group>
      {content}
      {editing && <RoleEditor role={editing === 'new' ? null : editing} readOnly={editing !== 'new' && (editing.system || !permissions.has('roles.edit'))} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

/** The permission editor: the catalog's keys grouped by category, with checkboxes; a template fills them. */
function RoleEditor({ role, readOnly, onClose }: { role: Role | null; readOnly: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const catalog = useQuery({ queryKey: ['permissions'], queryFn: () => call(api.GET('/api/v1/permissions')) });
  const templates = useQuery({ queryKey: ['role-templates'], queryFn: () => call(api.GET('/api/v1/role-templates')), enabled: role === null });
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [keys, setKeys] = useState<Set<string>>(new Set(role?.permissions ?? []));
  const [template, setTemplate] = useState<string | null>(null);
  const organizations = useOrganizations();
  const [scope, setScope] = useState<string>(role?.organizationId ?? '');
  const save = useMutation({
    mutationFn: () => {
      const body = { name, description, permissions: [...keys].sort(), organizationId: scope || null };
      return role ? call(api.PATCH('/api/v1/roles/{id}', { params: { path: { id: role.id } }, body })) : call(api.POST('/api/v1/roles', { body }));
    },
    onSuccess: (r) => {
      notifications.show({ message: `Role ${r.name} saved.` });
      void queryClient.invalidateQueries({ queryKey: ['roles'] });
      onClose();
    },
  });
  const categories = new Map<string, Schemas['PermissionCatalog']['permissions']>();
  for (const p of catalog.data?.permissions ?? []) categories.set(p.category, [...(categories.get(p.category) ?? []), p]);
  const title = role ? (readOnly ? role.name : `Edit ${role.name}`) : 'New role';

  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title={title} size="xl">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!readOnly) save.mutate();
        }}
      >
        <Stack>
          {role?.system && <Text size="sm">A system role holds every permission of the account and cannot be changed.</Text>}
          {role === null && (
            <Select
              label="Start from a template"
              placeholder="None"
              clearable
              data={(templates.data?.items ?? []).map((t) => ({ value: t.key, label: t.name }))}
              value={template}
              onChange={(key) => {
                setTemplate(key);
                const chosen = templates.data?.items.find((t) => t.key === key);
                if (chosen) {
                  setKeys(new Set(chosen.permissions));
                  if (!name) setName(chosen.name);
                }
              }}
            />
          )}
          <TextInput label="Name" required disabled={readOnly} value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextInput label="Description" disabled={readOnly} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          {(organizations.allowed || role?.organizationId) && !role?.system && (
            <Select
              label="Scope"
              description="Where the role's permissions apply: the whole account, or one organization of it"
              allowDeselect={false}
              disabled={readOnly}
              data={[
                { value: '', label: 'Whole account' },
                ...organizations.items.map((o) => ({ value: o.id, label: `Organization ${o.name}` })),
                ...(role?.organizationId && !organizations.items.some((o) => o.id === role.organizationId) ? [{ value: role.organizationId, label: `Organization ${role.organizationId}` }] : []),
              ]}
              value={scope}
              onChange={(v) => setScope(v ?? '')}
            />
          )}
          {catalog.isPending ? (
            <Loading />
          ) : catalog.isError ? (
            <ErrorState error={catalog.error} />
          ) : (
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {[...categories].map(([category, perms]) => (
                <Checkbox.Group
                  key={category}
                  label={category}
                  value={[...keys].filter((k) => perms.some((p) => p.key === k))}
                  onChange={(chosen) => setKeys(new Set([...[...keys].filter((k) => !perms.some((p) => p.key === k)), ...chosen]))}
                >
                  <Stack gap={4} mt="xs">
                    {perms.map((p) => (
                      <Checkbox key={p.key} value={p.key} label={p.key} description={p.description || undefined} disabled={readOnly} />
                    ))}
                  </Stack>
                </Checkbox.Group>
              ))}
            </SimpleGrid>
          )}
          {save.isError && <ErrorState error={save.error} title="Role not saved" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {readOnly ? 'Close' : 'Cancel'}
            </Button>
            {!readOnly && (
              <Button type="submit" loading={save.isPending}>
                Save role
              </Button>
            )}
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
