import { Badge, Button, Card, Code, CopyButton, Group, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { ConfirmButton, Empty, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

type Domain = NonNullable<Awaited<ReturnType<typeof listDomains>>>['items'][number];
const listDomains = () => call(api.GET('/api/v1/domains'));

export function DomainsPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('domains.manage') && permissions.isTenantAdmin;
  const domains = useQuery({ queryKey: ['domains'], queryFn: listDomains });

  let content;
  if (domains.isPending) content = <Loading />;
  else if (domains.isError) content = <ErrorState error={domains.error} onRetry={() => void domains.refetch()} />;
  else if (domains.data.items.length === 0) content = <Empty>No domains yet. Add your organization's email domain to route its sign-ins here.</Empty>;
  else content = domains.data.items.map((d) => <DomainCard key={d.id} domain={d} canManage={canManage} />);

  return (
    <Stack maw={900}>
      <Title order={1} size="h2">
        Domains
      </Title>
      <Text size="sm">A verified domain sends its users' sign-ins to this workspace, and can require single sign-on.</Text>
      {canManage && <AddDomain />}
      {content}
    </Stack>
  );
}

function AddDomain() {
  const queryClient = useQueryClient();
  const [domain, setDomain] = useState('');
  const add = useMutation({
    mutationFn: () => call(api.POST('/api/v1/domains', { body: { domain: domain.trim() } })),
    onSuccess: (d) => {
      notifications.show({ message: `${d.domain} was added. Publish its TXT record, then verify.` });
      setDomain('');
      void queryClient.invalidateQueries({ queryKey: ['domains'] });
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <Stack gap="xs">
        <Group align="flex-end">
          <TextInput label="Domain" placeholder="example.com" required value={domain} onChange={(e) => setDomain(e.currentTarget.value)} />
          <Button type="submit" loading={add.isPending}>
            Add domain
          </Button>
        </Group>
        {add.isError && <ErrorState error={add.error} title="Domain not added" />}
      </Stack>
    </form>
  );
}

function DomainCard({ domain, canManage }: { domain: Domain; canManage: boolean }) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['domains'] });
  const verify = useMutation({
    mutationFn: () => call(api.POST('/api/v1/domains/{id}/verify', { params: { path: { id: domain.id } } })),
    onSuccess: () => {
      notifications.show({ message: `${domain.domain} is verified.` });
      void refresh();
    },
    onError: () => void refresh(),
  });
  const requireSso = useMutation({
    mutationFn: (on: boolean) => call(api.PATCH('/api/v1/domains/{id}', { params: { path: { id: domain.id } }, body: { requireSso: on } })),
    onSuccess: () => void refresh(),
  });
  const verified = domain.status === 'verified';
  return (
    <Card withBorder component="section" aria-label={domain.domain} data-testid={`domain-${domain.domain}`}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4">
            {domain.domain}
          </Title>
          <Badge color={verified ? 'green' : 'yellow'} variant="light">
            {verified ? 'Verified' : 'Pending verification'}
          </Badge>
        </Group>
        {!verified && (
          <Stack gap={4}>
            <Text size="sm">Add this TXT record at your DNS provider, then press Verify:</Text>
            <RecordLine label="Name" value={domain.verification.name} />
            <RecordLine label="Value" value={domain.verification.value} />
          </Stack>
        )}
        {domain.lastCheckedAt && (
          <Text size="xs" c="dimmed">
            Last checked {new Date(domain.lastCheckedAt).toLocaleString()}
          </Text>
        )}
        {verify.isError && <ErrorState error={verify.error} title="Not verified" />}
        {requireSso.isError && <ErrorState error={requireSso.error} title="Require SSO not changed" />}
        {canManage && (
          <Group justify="space-between">
            <Switch
              label="Require SSO"
              description="Password sign-in is refused for this domain, except for break-glass users."
              checked={domain.requireSso}
              disabled={!verified || requireSso.isPending}
              onChange={(e) => requireSso.mutate(e.currentTarget.checked)}
            />
            <Group gap="xs">
              {!verified && (
                <Button size="xs" loading={verify.isPending} onClick={() => verify.mutate()}>
                  Verify
                </Button>
              )}
              <ConfirmButton
                label="Remove"
                title={`Remove ${domain.domain}?`}
                confirmLabel="Remove"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/domains/{id}', { params: { path: { id: domain.id } } }));
                  await refresh();
                }}
              >
                Its sign-ins will no longer be routed to this workspace, and Require SSO stops applying.
              </ConfirmButton>
            </Group>
          </Group>
        )}
      </Stack>
    </Card>
  );
}

function RecordLine({ label, value }: { label: string; value: string }) {
  return (
    <Group gap="xs" wrap="nowrap">
      <Text size="sm" w={50}>
        {label}
      </Text>
      <Code data-testid={`txt-${label.toLowerCase()}`}>{value}</Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button size="compact-xs" variant="subtle" onClick={copy} aria-label={`Copy the record ${label.toLowerCase()}`}>
            {copied ? 'Copied' : 'Copy'}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}
