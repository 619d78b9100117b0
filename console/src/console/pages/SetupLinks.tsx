import { Alert, Badge, Button, Card, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { ConfirmButton, Empty, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

type SetupLink = Schemas['SetupLink'];

const INTENTS = [
  { value: 'all', label: 'Everything: domains, SSO and SCIM' },
  { value: 'sso', label: 'Domains and SSO' },
  { value: 'scim', label: 'SCIM provisioning only' },
  { value: 'domains', label: 'Domain verification only' },
];
const STATE_COLORS: Record<SetupLink['state'], string> = { pending: 'gray', in_use: 'blue', completed: 'green', expired: 'gray', revoked: 'red' };
const STATE_LABELS: Record<SetupLink['state'], string> = { pending: 'Pending', in_use: 'In use', completed: 'Completed', expired: 'Expired', revoked: 'Revoked' };

/** Setup links: the customer's IT admin connects their IdP through one link (README "Setup links"). */
export function SetupLinksPage() {
  const canManage = usePermissions().has('sso.manage');
  const links = useQuery({ queryKey: ['setup-links'], queryFn: () => call(api.GET('/api/v1/setup-links')) });
  return (
    <Stack>
      <Title order={1} size="h2">
        Setup links
      </Title>
      <Text size="sm">Send a setup link to your customer's IT admin: they connect their identity provider for single sign-on and SCIM themselves, without a Tessera account. Completed setups are recorded in the audit log as setup_link.completed.</Text>
      {canManage && <CreateLink />}
      {links.isPending ? (
        <Loading />
      ) : links.isError ? (
        <ErrorState error={links.error} onRetry={() => void links.refetch()} />
      ) : links.data.items.length === 0 ? (
        <Empty>No setup links yet.</Empty>
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Note</Table.Th>
              <Table.Th>Intent</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>Last activity</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {links.data.items.map((l) => (
              <LinkRow key={l.id} link={l} canManage={canManage} />
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function LinkRow({ link: l, canManage }: { link: SetupLink; canManage: boolean }) {
  const queryClient = useQueryClient();
  const live = l.state === 'pending' || l.state === 'in_use';
  return (
    <Table.Tr data-testid={`setup-link-${l.id}`}>
      <Table.Td>{l.note || '—'}</Table.Td>
      <Table.Td>{l.intent}</Table.Td>
      <Table.Td>
        <Badge variant="light" color={STATE_COLORS[l.state]}>
          {STATE_LABELS[l.state]}
        </Badge>
      </Table.Td>
      <Table.Td>{new Date(l.expiresAt).toLocaleString()}</Table.Td>
      <Table.Td>{l.lastActivityAt ? `${new Date(l.lastActivityAt).toLocaleString()} from ${l.lastIp ?? '?'}` : 'never'}</Table.Td>
      <Table.Td>
        {canManage && live && (
          <ConfirmButton
            label="Revoke"
            title="Revoke this setup link?"
            confirmLabel="Revoke"
            onConfirm={async () => {
              await call(api.POST('/api/v1/setup-links/{id}/revoke', { params: { path: { id: l.id } } }));
              await queryClient.invalidateQueries({ queryKey: ['setup-links'] });
            }}
          >
            It stops working at once, for whoever holds it. What was already set up stays.
          </ConfirmButton>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function CreateLink() {
  const queryClient = useQueryClient();
  const [intent, setIntent] = useState<string | null>('all');
  const [days, setDays] = useState<number | string>(7);
  const [note, setNote] = useState('');
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/setup-links', { body: { intent: (intent ?? 'all') as 'all', expiresIn: Math.round(Number(days) * 86_400), note } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['setup-links'] }),
  });
  return (
    <Card withBorder component="section" aria-label="New setup link">
      <Stack gap="sm">
        <Title order={2} size="h4">
          New setup link
        </Title>
        <Group align="flex-end">
          <Select label="What it may set up" data={INTENTS} value={intent} onChange={setIntent} allowDeselect={false} w={300} />
          <NumberInput label="Valid for (days)" min={1} max={30} value={days} onChange={setDays} w={140} />
          <TextInput label="Note" placeholder="Sent to …" value={note} onChange={(e) => setNote(e.currentTarget.value)} />
          <Button onClick={() => create.mutate()} loading={create.isPending}>
            Create link
          </Button>
        </Group>
        {create.isError && <ErrorState error={create.error} title="Not created" />}
        {create.data && (
          <Alert color="yellow" title="Send this link now: it is not shown again" role="status">
            <CopyLine label="Setup link" value={create.data.url} testId="setup-link-url" />
          </Alert>
        )}
      </Stack>
    </Card>
  );
}
