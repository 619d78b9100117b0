import { Alert, Badge, Button, Group, Modal, MultiSelect, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState } from '../../ui/states';
import { useMyAccess, useSession } from '../access';

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : 'never');

/** The account's API keys: scoped to permissions the creator holds, shown once at creation, revocable. */
export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => call(api.GET('/api/v1/api-keys')) });
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<string | null>(null);

  const content = (
    <QueryTable
      query={keys}
      rows={(d) => d.items.filter((k) => k.revokedAt === null)}
      rowKey={(k) => k.id}
      empty="No API keys. Create one for a script or a service that calls the API."
      minWidth={700}
      highlightOnHover={false}
      columns={[
        { header: 'Name', cell: (k) => k.name },
        {
          header: 'Permissions',
          cell: (k) => (
            <Group gap={4}>
              {k.permissions.map((p) => (
                <Badge key={p} variant="light">
                  {p}
                </Badge>
              ))}
            </Group>
          ),
        },
        { header: 'Created', cell: (k) => when(k.createdAt) },
        { header: 'Last used', cell: (k) => when(k.lastUsedAt) },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (k) => (
            <ConfirmButton
              label="Revoke"
              title={`Revoke ${k.name}?`}
              confirmLabel="Revoke"
              onConfirm={async () => {
                await call(api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: k.id } } }));
                await queryClient.invalidateQueries({ queryKey: ['api-keys'] });
              }}
            >
              Every call made with this key is refused from now on.
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
          API keys
        </Title>
        <Button onClick={() => setCreating(true)}>Create API key</Button>
      </Group>
      <Text size="sm">A key acts for the account with the permissions it is scoped to, and never more than its creator holds.</Text>
      {content}
      {creating && (
        <CreateKeyModal
          onClose={() => setCreating(false)}
          onCreated={(key) => {
            setCreating(false);
            setShown(key);
            void queryClient.invalidateQueries({ queryKey: ['api-keys'] });
          }}
        />
      )}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={shown !== null} onClose={() => setShown(null)} title="Your new API key" centered size="lg">
        <Stack>
          <Alert color="yellow" title="Shown only once">
            Copy it now: only its hash is kept, and it cannot be shown again.
          </Alert>
          {shown && <CopyLine label="API key" value={shown} testId="api-key" />}
          <Group justify="flex-end">
            <Button onClick={() => setShown(null)}>I have copied it</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function CreateKeyModal({ onClose, onCreated }: { onClose: () => void; onCreated: (key: string) => void }) {
  const session = useSession();
  const access = useMyAccess();
  const held = access.data?.accounts.find((a) => a.accountId === session?.accountId)?.permissions.map((p) => p.key) ?? [];
  const [name, setName] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/api-keys', { body: { name: name.trim(), permissions } })),
    onSuccess: (k) => onCreated(k.key),
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title="Create API key" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <TextInput label="Name" description="What uses it, e.g. nightly export" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <MultiSelect label="Permissions" description="Only permissions you hold" data={[...new Set(held)].sort()} value={permissions} onChange={setPermissions} searchable />
          {create.isError && <ErrorState error={create.error} title="Key not created" />}
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
