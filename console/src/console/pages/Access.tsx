import { Badge, Card, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import { Empty, ErrorState, Loading } from '../../ui/states';
import { useMyAccess } from '../access';

/** My access: the accounts I may enter, their organizations, and each permission with where it comes from. */
export function AccessPage() {
  const access = useMyAccess();
  let content;
  if (access.isPending) content = <Loading />;
  else if (access.isError) content = <ErrorState error={access.error} onRetry={() => void access.refetch()} />;
  else if (access.data.accounts.length === 0) content = <Empty>You hold no role in any account.</Empty>;
  else
    content = access.data.accounts.map((account) => {
      const organizationName = (id: string) => account.organizations.find((o) => o.id === id)?.name ?? id;
      return (
      <Card key={account.accountId} withBorder component="section" aria-label={account.name}>
        <Stack gap="sm">
          <Title order={2} size="h4">
            {account.name}
          </Title>
          <Text size="sm">Organizations: {account.organizations.length ? account.organizations.map((o) => o.name).join(', ') : 'none'}</Text>
          {account.permissions.length === 0 ? (
            <Empty>No permissions in this account.</Empty>
          ) : (
            <Table.ScrollContainer minWidth={600}>
              <Table striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Permission</Table.Th>
                    <Table.Th>From</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {account.permissions.map((p) => (
                    <Table.Tr key={p.key}>
                      <Table.Td>
                        <Code>{p.key}</Code>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {p.sources.map((s) => (
                            <Badge key={s.assignmentId} variant="light" tt="none">
                              {s.role} · {s.source} · {s.organizationId ? `in ${organizationName(s.organizationId)}` : 'whole account'}
                              {s.expiresAt ? ` · until ${new Date(s.expiresAt).toLocaleDateString()}` : ''}
                            </Badge>
                          ))}
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Stack>
      </Card>
      );
    });
  return (
    <Stack maw={900}>
      <Title order={1} size="h2">
        My access
      </Title>
      {content}
    </Stack>
  );
}
