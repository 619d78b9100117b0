import { Badge, Button, Checkbox, Group, Modal, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { useMe, usePermissions } from '../access';

type User = Schemas['User'];

export function UsersPage() {
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const permissions = usePermissions();
  const me = useMe();
  const canManage = permissions.has('idp.manage') && permissions.isTenantAdmin;
  const users = useQuery({
    queryKey: ['users', q],
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { ...(q ? { q } : {}), limit: 200 } } })),
    placeholderData: keepPreviousData,
  });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [generated, setGenerated] = useState<string | null>(null);

  const content = (
    <QueryTable
      query={users}
      rows={(d) => d.items}
      rowKey={(u) => u.id}
      empty={q ? 'No user matches the search.' : 'No users yet.'}
      minWidth={700}
      columns={[
        { header: 'Email', cell: (u) => u.email },
        { header: 'Name', cell: (u) => u.name ?? '—' },
        {
          header: 'Status',
          cell: (u) => (
            <Group gap={4}>
              <Badge color={u.active ? 'green' : 'gray'} variant="light">
                {u.active ? 'Active' : 'Deactivated'}
              </Badge>
              {u.isTenantAdmin && <Badge variant="light">Tenant admin</Badge>}
              {u.mustChangePassword && (
                <Badge color="yellow" variant="light">
                  Must change password
                </Badge>
              )}
            </Group>
          ),
        },
        { header: 'Actions', hideHeader: true, cell: (u) => canManage && <UserActions user={u} self={u.id === me.data?.id} onEdit={() => setEditing(u)} onGenerated={setGenerated} /> },
      ]}
    />
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Users
        </Title>
        {canManage && <Button onClick={() => setCreating(true)}>Create user</Button>}
      </Group>
      <TextInput label="Search users" placeholder="Email or name" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={400} />
      {users.isSuccess && (
        <Text size="sm" c="dimmed">
          {users.data.total} {users.data.total === 1 ? 'user' : 'users'}
        </Text>
      )}
      {content}
      <CreateUserModal opened={creating} onClose={() => setCreating(false)} />
      {editing && <EditUserModal user={editing} onClose={() => setEditing(null)} />}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={generated !== null} onClose={() => setGenerated(null)} title="One-time password" centered>
        <Stack>
          <Text size="sm">Give it to the user through a trusted channel. It is shown only once; they must change it at their next sign-in.</Text>
          {generated && <CopyLine label="Password" value={generated} testId="generated-password" />}
          <Group justify="flex-end">
            <Button onClick={() => setGenerated(null)}>Done</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function UserActions({ user, self, onEdit, onGenerated }: { user: User; self: boolean; onEdit: () => void; onGenerated: (password: string) => void }) {
  const queryClient = useQueryClient();
  const done = (message: string) => {
    notifications.show({ message });
    return queryClient.invalidateQueries({ queryKey: ['users'] });
  };
  return (
    <Group gap="xs" justify="flex-end" wrap="nowrap">
      <Button size="xs" variant="default" onClick={onEdit} aria-label={`Edit ${user.email}`}>
        Edit
      </Button>
      <ConfirmButton
        label="End sessions"
        title={`End every session of ${user.email}?`}
        confirmLabel="End sessions"
        color="orange"
        onConfirm={async () => {
          const r = await call(api.DELETE('/api/v1/users/{userId}/sessions', { params: { path: { userId: user.id } } }));
          await done(`${r.revoked} session(s) ended.`);
        }}
      >
        They are signed out everywhere at once and must sign in again.
      </ConfirmButton>
      {!self && (
        <ConfirmButton
          label="Reset password"
          title={`Reset the password of ${user.email}?`}
          confirmLabel="Reset password"
          color="orange"
          onConfirm={async () => {
            const r = await call(api.POST('/api/v1/users/{userId}/reset-password', { params: { path: { userId: user.id } }, body: { mustChangePassword: true } }));
            await done(`The password of ${user.email} was reset.`);
            if (r.generatedPassword) onGenerated(r.generatedPassword);
          }}
        >
          A one-time password is generated and shown once; every session of theirs ends, and they must choose a new password at their next sign-in.
        </ConfirmButton>
      )}
      {!self && (
        <ConfirmButton
          label="Reset MFA"
          title={`Reset two-step verification of ${user.email}?`}
          confirmLabel="Reset MFA"
          color="orange"
          onConfirm={async () => {
            await call(api.DELETE('/api/v1/users/{userId}/mfa', { params: { path: { userId: user.id } } }));
            await done(`Two-step verification of ${user.email} was reset.`);
          }}
        >
          Their authenticator and recovery codes stop working (a lost device); they set it up again at their next sign-in if it is required.
        </ConfirmButton>
      )}
      {user.active && !self && (
        <ConfirmButton
          label="Deactivate"
          title={`Deactivate ${user.email}?`}
          confirmLabel="Deactivate"
          onConfirm={async () => {
            await call(api.DELETE('/api/v1/users/{userId}', { params: { path: { userId: user.id } } }));
            await done(`${user.email} was deactivated.`);
          }}
        >
          They can no longer sign in, and every session of theirs ends at once.
        </ConfirmButton>
      )}
    </Group>
  );
}

function CreateUserModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ email: '', name: '', password: '', isTenantAdmin: false, mustChangePassword: true });
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/users', {
          body: { email: form.email, name: form.name || null, isTenantAdmin: form.isTenantAdmin, ...(form.password ? { password: form.password, mustChangePassword: form.mustChangePassword } : {}) },
        }),
      ),
    onSuccess: (u) => {
      notifications.show({ message: `${u.email} was created.` });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      setForm({ email: '', name: '', password: '', isTenantAdmin: false, mustChangePassword: true });
      onClose();
    },
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={onClose} title="Create user" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <TextInput label="Email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.currentTarget.value })} />
          <TextInput label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          <PasswordInput label="Initial password" description="Leave empty for a user who signs in with SSO or gets a password by reset." autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.currentTarget.value })} />
          <Checkbox label="Must change the password at first sign-in" checked={form.mustChangePassword} disabled={!form.password} onChange={(e) => setForm({ ...form, mustChangePassword: e.currentTarget.checked })} />
          <Checkbox label="Tenant administrator" checked={form.isTenantAdmin} onChange={(e) => setForm({ ...form, isTenantAdmin: e.currentTarget.checked })} />
          {create.isError && <ErrorState error={create.error} title="User not created" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function EditUserModal({ user, onClose }: { user: User; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ name: user.name ?? '', phone: user.phone ?? '', isTenantAdmin: user.isTenantAdmin, active: user.active });
  const save = useMutation({
    mutationFn: () =>
      call(api.PATCH('/api/v1/users/{userId}', { params: { path: { userId: user.id } }, body: { name: form.name || null, phone: form.phone || null, isTenantAdmin: form.isTenantAdmin, ...(form.active !== user.active ? { active: form.active } : {}) } })),
    onSuccess: () => {
      notifications.show({ message: 'Saved.' });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      onClose();
    },
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title={`Edit ${user.email}`} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <TextInput label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          <TextInput label="Phone" value={form.phone} onChange={(e) => setForm({ ...form, phone: e.currentTarget.value })} />
          <Checkbox label="Tenant administrator" checked={form.isTenantAdmin} onChange={(e) => setForm({ ...form, isTenantAdmin: e.currentTarget.checked })} />
          {!user.active && <Checkbox label="Active (reactivate)" checked={form.active} onChange={(e) => setForm({ ...form, active: e.currentTarget.checked })} />}
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
