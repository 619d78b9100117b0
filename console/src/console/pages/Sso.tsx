import { ActionIcon, Alert, Badge, Button, Card, Code, Group, List, Modal, PasswordInput, SegmentedControl, Select, Stack, Switch, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Route, Routes } from 'react-router';
import { api, call, type Schemas } from '../../api/client';
import { ConfirmButton, Empty, ErrorState, Loading } from '../../ui/states';
import { GUIDES } from '../../sso/idp-guides';
import { usePermissions } from '../access';
import { ClientKeys, DocumentRefresh, IdpValues, SpKeys } from './SsoConnectionTools';

type Connection = Schemas['SsoConnection'];
type Rule = { claim: string; operator: 'equals' | 'contains' | 'regex'; value: string; roleId: string };

/** A SAML signing certificate this close to its end gets a warning: the IdP's new one must be added before it expires. */
const EXPIRY_WARNING_DAYS = 30;
const DAY = 86_400_000;


export function SsoPage() {
  return (
    <Routes>
      <Route path="test-finished" element={<TestFinished />} />
      <Route path="*" element={<ConnectionsPage />} />
    </Routes>
  );
}

/** Where the "Test connection" window lands: the outcome is shown in the console window that started it. */
function TestFinished() {
  return (
    <Stack maw={600}>
      <Title order={1} size="h2">
        Test finished
      </Title>
      <Text size="sm">The test sign-in is over. Its outcome is shown in the console window where you started it; you can close this window.</Text>
    </Stack>
  );
}

function ConnectionsPage() {
  const permissions = usePermissions();
  const canManage = permissions.has('sso.manage') && permissions.isTenantAdmin;
  const connections = useQuery({ queryKey: ['sso-connections'], queryFn: () => call(api.GET('/api/v1/sso/connections')) });
  const [editing, setEditing] = useState<Connection | 'new' | null>(null);

  let content;
  if (connections.isPending) content = <Loading />;
  else if (connections.isError) content = <ErrorState error={connections.error} onRetry={() => void connections.refetch()} />;
  else if (connections.data.items.length === 0) content = <Empty>No SSO connections yet. Add one to let your users sign in through your identity provider.</Empty>;
  else content = connections.data.items.map((c) => <ConnectionCard key={c.id} connection={c} canManage={canManage} onEdit={() => setEditing(c)} />);

  return (
    <Stack maw={1000}>
      <Group justify="space-between">
        <Title order={1} size="h2">
          SSO connections
        </Title>
        {canManage && <Button onClick={() => setEditing('new')}>New connection</Button>}
      </Group>
      <Text size="sm">Users of a connection's verified domains sign in through its identity provider (OpenID Connect or SAML 2.0).</Text>
      <Card withBorder component="section" aria-label="Setup guides">
        <Text size="sm" fw={600}>
          Setup guides
        </Text>
        <Text size="sm">Step-by-step instructions for each identity provider ship with Tessera, in the docs/sso folder:</Text>
        <Group gap="xs" mt={4}>
          {GUIDES.map(([label, file]) => (
            <Text key={file} size="sm">
              {label} <Code>docs/sso/{file}</Code>
            </Text>
          ))}
        </Group>
      </Card>
      {content}
      {editing !== null && <ConnectionModal connection={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

function certificateWarnings(c: Connection, now: number): { subject: string; expired: boolean; notAfter: string }[] {
  return (c.saml?.certificates ?? [])
    .filter((cert) => new Date(cert.notAfter).getTime() - now < EXPIRY_WARNING_DAYS * DAY)
    .map((cert) => ({ subject: cert.subject, notAfter: cert.notAfter, expired: new Date(cert.notAfter).getTime() <= now }));
}

function ConnectionCard({ connection: c, canManage, onEdit }: { connection: Connection; canManage: boolean; onEdit: () => void }) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
  const enable = useMutation({
    mutationFn: () => call(api.POST('/api/v1/sso/connections/{id}/enable', { params: { path: { id: c.id } } })),
    onSuccess: () => {
      notifications.show({ message: `${c.name} is enabled.` });
      void refresh();
    },
  });
  const warnings = certificateWarnings(c, Date.now());
  return (
    <Card withBorder component="section" aria-label={c.name} data-testid={`connection-${c.name}`}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={2} size="h4">
              {c.name}
            </Title>
            <Badge variant="light">{c.type === 'oidc' ? 'OpenID Connect' : 'SAML 2.0'}</Badge>
            <Badge variant="light" color={c.enabled ? 'green' : 'gray'}>
              {c.enabled ? 'Enabled' : 'Disabled'}
            </Badge>
          </Group>
          {canManage && (
            <Group gap="xs">
              <Button size="xs" variant="default" onClick={onEdit} aria-label={`Edit ${c.name}`}>
                Edit
              </Button>
              {c.enabled ? (
                <ConfirmButton
                  label="Disable"
                  title={`Disable ${c.name}?`}
                  confirmLabel="Disable"
                  color="orange"
                  onConfirm={async () => {
                    await call(api.POST('/api/v1/sso/connections/{id}/disable', { params: { path: { id: c.id } } }));
                    await refresh();
                  }}
                >
                  Its users can no longer sign in through it; under Require SSO only break-glass users can sign in.
                </ConfirmButton>
              ) : (
                <Button size="xs" loading={enable.isPending} onClick={() => enable.mutate()}>
                  Enable
                </Button>
              )}
              <ConfirmButton
                label="Delete"
                title={`Delete ${c.name}?`}
                confirmLabel="Delete"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/sso/connections/{id}', { params: { path: { id: c.id } } }));
                  await refresh();
                }}
              >
                The connection and its settings are removed; its users can no longer sign in through it.
              </ConfirmButton>
            </Group>
          )}
        </Group>
        {enable.isError && <ErrorState error={enable.error} title="Not enabled" />}
        <Text size="sm">Domains: {c.domains.length > 0 ? c.domains.join(', ') : 'none'}</Text>
        {warnings.map((w) => (
          <Alert key={w.subject + w.notAfter} color={w.expired ? 'red' : 'yellow'} title={w.expired ? 'Certificate expired' : 'Certificate expires soon'} data-testid="certificate-warning">
            <Text size="sm">
              The IdP signing certificate {w.subject} {w.expired ? 'expired' : 'expires'} on {new Date(w.notAfter).toLocaleDateString()}. Add the IdP's new certificate as a second one before then (Edit → Certificates).
            </Text>
          </Alert>
        ))}
        <IdpValues connection={c} />
        {c.oidc && (
          <Text size="sm">
            Issuer <Code>{c.oidc.issuer}</Code> · client id <Code>{c.oidc.clientId}</Code> · {c.oidc.tokenEndpointAuthMethod} · {c.hasClientSecret ? 'client secret set' : 'no client secret'}
          </Text>
        )}
        {c.saml && (
          <Text size="sm">
            IdP entity ID <Code>{c.saml.idpEntityId}</Code> · {c.saml.certificates.length} certificate(s)
          </Text>
        )}
        <Text size="sm">
          {c.rules.length} mapping rule(s), {c.rulesMode === 'highest_match' ? 'first match wins' : 'every match applies'}
        </Text>
        <DocumentRefresh connection={c} canManage={canManage} />
        {c.oidc?.tokenEndpointAuthMethod === 'private_key_jwt' && <ClientKeys connection={c} canManage={canManage} />}
        {c.saml && <SpKeys connection={c} canManage={canManage} />}
        {canManage && <TestConnection connection={c} />}
      </Stack>
    </Card>
  );
}

/**
 * "Test connection": a dry-run sign-in in a new window (it creates no user, role or session); this window polls the
 * outcome and shows the claims received and what the mapping rules would assign.
 */
function TestConnection({ connection }: { connection: Connection }) {
  const [testId, setTestId] = useState<string | null>(null);
  const start = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/sso/connections/{id}/test', { params: { path: { id: connection.id } }, body: { returnTo: `${window.location.origin}/console/sso/test-finished` } })),
    onSuccess: (started) => {
      setTestId(started.testId);
      window.open(started.url, '_blank', 'noopener');
    },
  });
  const test = useQuery({
    queryKey: ['sso-test', connection.id, testId],
    queryFn: () => call(api.GET('/api/v1/sso/connections/{id}/tests/{testId}', { params: { path: { id: connection.id, testId: testId! } } })),
    enabled: testId !== null,
    refetchInterval: (q) => (q.state.data?.status === 'pending' || q.state.data === undefined ? 2000 : false),
  });
  const outcome = test.data?.outcome as
    | { error?: { code: string; message: string } | null; claims?: Record<string, unknown>; email?: string | null; mapping?: { roles?: unknown[]; refused?: unknown[]; usedDefault?: boolean; matchedRules?: unknown[] } }
    | null
    | undefined;
  return (
    <Stack gap="xs" component="section" aria-label={`Test ${connection.name}`}>
      <Group>
        <Button size="xs" variant="light" loading={start.isPending} onClick={() => start.mutate()}>
          Test connection
        </Button>
        <Text size="xs" c="dimmed">
          Opens a sign-in at the identity provider in a new window. Nothing is created.
        </Text>
      </Group>
      {start.isError && <ErrorState error={start.error} title="Test not started" />}
      {test.isError && <ErrorState error={test.error} title="Test outcome unavailable" />}
      {test.data?.status === 'pending' && <Loading label="Waiting for the test sign-in in the other window…" />}
      {test.data && test.data.status !== 'pending' && (
        <Card withBorder data-testid="test-outcome">
          <Stack gap="xs">
            <Badge color={test.data.status === 'succeeded' ? 'green' : 'red'} variant="light">
              {test.data.status === 'succeeded' ? 'Test succeeded' : 'Test failed'}
            </Badge>
            {outcome?.error && (
              <Text size="sm" role="alert">
                {outcome.error.code}: {outcome.error.message}
              </Text>
            )}
            {outcome?.email && <Text size="sm">Email: {outcome.email}</Text>}
            <Text size="sm" fw={600}>
              Claims received
            </Text>
            <Code block data-testid="test-claims">
              {JSON.stringify(outcome?.claims ?? {}, null, 2)}
            </Code>
            <Text size="sm" fw={600}>
              Mapping result
            </Text>
            <Code block data-testid="test-mapping">
              {JSON.stringify(outcome?.mapping ?? {}, null, 2)}
            </Code>
          </Stack>
        </Card>
      )}
    </Stack>
  );
}

const splitList = (text: string) => text.split(/[\s,]+/).filter(Boolean);
const splitPems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

function ConnectionModal({ connection, onClose }: { connection: Connection | null; onClose: () => void }) {
  const queryClient = useQueryClient();
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => call(api.GET('/api/v1/roles')) });
  const [type, setType] = useState<'oidc' | 'saml'>(connection?.type ?? 'oidc');
  const [form, setForm] = useState({
    name: connection?.name ?? '',
    domains: connection?.domains.join(', ') ?? '',
    enabled: connection?.enabled ?? false,
    issuer: connection?.oidc?.issuer ?? '',
    clientId: connection?.oidc?.clientId ?? '',
    clientSecret: '',
    scopes: connection?.oidc?.scopes ?? 'openid email profile',
    authMethod: (connection?.oidc?.tokenEndpointAuthMethod ?? 'client_secret_basic') as 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt',
    samlSource: 'xml' as 'xml' | 'url' | 'manual',
    metadataXml: '',
    metadataUrl: connection?.saml?.metadataUrl ?? '',
    idpEntityId: connection?.saml?.idpEntityId ?? '',
    ssoUrl: connection?.saml?.ssoUrl ?? '',
    certificates: '',
    defaultRoleId: connection?.defaultRoleId ?? null,
    rulesMode: connection?.rulesMode ?? 'highest_match',
  });
  const [rules, setRules] = useState<Rule[]>((connection?.rules ?? []).map((r) => ({ claim: r.claim, operator: r.operator as Rule['operator'], value: r.value, roleId: r.roleId })));
  const set = (patch: Partial<typeof form>) => setForm({ ...form, ...patch });

  const samlInput = () =>
    form.samlSource === 'xml'
      ? { metadataXml: form.metadataXml }
      : form.samlSource === 'url'
        ? { metadataUrl: form.metadataUrl }
        : { idpEntityId: form.idpEntityId, ssoUrl: form.ssoUrl, certificates: splitPems(form.certificates) };
  const save = useMutation({
    mutationFn: async () => {
      const common = { name: form.name.trim(), domains: splitList(form.domains), defaultRoleId: form.defaultRoleId, rulesMode: form.rulesMode, rules: rules.map((r) => ({ ...r, organizationId: null })) };
      if (connection === null) {
        if (type === 'oidc') {
          return call(
            api.POST('/api/v1/sso/connections', {
              body: { ...common, type: 'oidc', enabled: form.enabled, oidc: { issuer: form.issuer.trim(), clientId: form.clientId.trim(), scopes: form.scopes, tokenEndpointAuthMethod: form.authMethod, ...(form.clientSecret ? { clientSecret: form.clientSecret } : {}) } },
            }),
          );
        }
        return call(api.POST('/api/v1/sso/connections', { body: { ...common, type: 'saml', enabled: form.enabled, saml: samlInput() } }));
      }
      const oidc = type === 'oidc' ? { oidc: { issuer: form.issuer.trim(), clientId: form.clientId.trim(), scopes: form.scopes, tokenEndpointAuthMethod: form.authMethod } } : {};
      const samlChanged = type === 'saml' && (form.samlSource === 'xml' ? form.metadataXml !== '' : form.samlSource === 'url' ? form.metadataUrl !== (connection.saml?.metadataUrl ?? '') : true);
      const updated = await call(api.PATCH('/api/v1/sso/connections/{id}', { params: { path: { id: connection.id } }, body: { ...common, ...oidc, ...(samlChanged ? { saml: samlInput() } : {}) } }));
      // The client secret is write-only and changes through its own call, only when a new one was typed.
      if (type === 'oidc' && form.clientSecret) await call(api.POST('/api/v1/sso/connections/{id}/secret', { params: { path: { id: connection.id } }, body: { clientSecret: form.clientSecret } }));
      return updated;
    },
    onSuccess: (c) => {
      notifications.show({ message: `Connection ${c.name} saved.` });
      void queryClient.invalidateQueries({ queryKey: ['sso-connections'] });
      onClose();
    },
  });
  const roleOptions = (roles.data?.items ?? []).filter((r) => !r.system).map((r) => ({ value: r.id, label: r.name }));
  const title = connection ? `Edit ${connection.name}` : 'New SSO connection';
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title={title} size="xl" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          {connection === null && (
            <SegmentedControl
              aria-label="Protocol"
              value={type}
              onChange={(v) => setType(v)}
              data={[
                { value: 'oidc', label: 'OpenID Connect' },
                { value: 'saml', label: 'SAML 2.0' },
              ]}
            />
          )}
          <TextInput label="Name" description="Shown on the sign-in button: Continue with …" required value={form.name} onChange={(e) => set({ name: e.currentTarget.value })} />
          <TextInput label="Domains" description="Comma-separated email domains this connection serves; each must be verified" value={form.domains} onChange={(e) => set({ domains: e.currentTarget.value })} />
          {connection === null && <Switch label="Enabled" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />}
          {type === 'oidc' ? (
            <>
              <TextInput label="Issuer" description="Exactly as the IdP spells it (a trailing slash matters); https only" required value={form.issuer} onChange={(e) => set({ issuer: e.currentTarget.value })} />
              <TextInput label="Client ID" required value={form.clientId} onChange={(e) => set({ clientId: e.currentTarget.value })} />
              <Select
                label="Client authentication"
                allowDeselect={false}
                value={form.authMethod}
                onChange={(v) => v && set({ authMethod: v })}
                data={[
                  { value: 'client_secret_basic', label: 'Client secret (HTTP Basic)' },
                  { value: 'client_secret_post', label: 'Client secret (in the body)' },
                  { value: 'private_key_jwt', label: 'Private key JWT (Tessera generates the key pair)' },
                ]}
              />
              {form.authMethod !== 'private_key_jwt' && (
                <PasswordInput
                  label="Client secret"
                  description={connection?.hasClientSecret ? 'Write-only: a secret is set. Leave empty to keep it.' : 'Write-only: stored encrypted, never shown again.'}
                  autoComplete="off"
                  required={connection === null}
                  value={form.clientSecret}
                  onChange={(e) => set({ clientSecret: e.currentTarget.value })}
                />
              )}
              <TextInput label="Scopes" description="Space-separated; must include openid" value={form.scopes} onChange={(e) => set({ scopes: e.currentTarget.value })} />
            </>
          ) : (
            <>
              <SegmentedControl
                aria-label="IdP settings from"
                value={form.samlSource}
                onChange={(v) => set({ samlSource: v })}
                data={[
                  { value: 'xml', label: 'Metadata XML' },
                  { value: 'url', label: 'Metadata URL' },
                  { value: 'manual', label: 'Entity ID, SSO URL, certificates' },
                ]}
              />
              {form.samlSource === 'xml' && (
                <Textarea label="IdP metadata XML" description={connection ? 'Paste to import again; leave empty to keep the current settings.' : 'Paste the XML your IdP gives.'} autosize minRows={4} maxRows={10} value={form.metadataXml} onChange={(e) => set({ metadataXml: e.currentTarget.value })} />
              )}
              {form.samlSource === 'url' && <TextInput label="IdP metadata URL" description="https; fetched now and on refresh" value={form.metadataUrl} onChange={(e) => set({ metadataUrl: e.currentTarget.value })} />}
              {form.samlSource === 'manual' && (
                <>
                  <TextInput label="IdP entity ID" value={form.idpEntityId} onChange={(e) => set({ idpEntityId: e.currentTarget.value })} />
                  <TextInput label="IdP SSO URL" value={form.ssoUrl} onChange={(e) => set({ ssoUrl: e.currentTarget.value })} />
                  <Textarea label="Certificates" description="PEM; one, or two during the IdP's rotation" autosize minRows={4} maxRows={10} value={form.certificates} onChange={(e) => set({ certificates: e.currentTarget.value })} />
                </>
              )}
            </>
          )}
          <Select label="Default role" description="Held when no rule matches; never Account Administrator" clearable data={roleOptions} value={form.defaultRoleId} onChange={(v) => set({ defaultRoleId: v })} />
          <RulesEditor rules={rules} onChange={setRules} roleOptions={roleOptions} mode={form.rulesMode} onModeChange={(m) => set({ rulesMode: m })} />
          {save.isError && <ErrorState error={save.error} title="Connection not saved" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save connection
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function RulesEditor(props: { rules: Rule[]; onChange: (rules: Rule[]) => void; roleOptions: { value: string; label: string }[]; mode: 'highest_match' | 'additive'; onModeChange: (m: 'highest_match' | 'additive') => void }) {
  const { rules, onChange } = props;
  const update = (i: number, patch: Partial<Rule>) => onChange(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <Stack gap="xs" component="fieldset" style={{ border: 'none', padding: 0, margin: 0 }}>
      <Text component="legend" size="sm" fw={600}>
        Mapping rules
      </Text>
      <Select
        label="When several rules match"
        allowDeselect={false}
        value={props.mode}
        onChange={(v) => v && props.onModeChange(v)}
        data={[
          { value: 'highest_match', label: 'The first matching rule wins (order from most to least privileged)' },
          { value: 'additive', label: "Every matching rule's role is held" },
        ]}
      />
      {rules.length === 0 ? (
        <Text size="sm" c="dimmed">
          No rules: everyone gets the default role.
        </Text>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Claim</Table.Th>
              <Table.Th>Operator</Table.Th>
              <Table.Th>Value</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>
                <span className="mantine-visually-hidden">Remove</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rules.map((r, i) => (
              <Table.Tr key={i}>
                <Table.Td>
                  <TextInput aria-label={`Rule ${i + 1} claim`} value={r.claim} onChange={(e) => update(i, { claim: e.currentTarget.value })} />
                </Table.Td>
                <Table.Td>
                  <Select aria-label={`Rule ${i + 1} operator`} allowDeselect={false} value={r.operator} onChange={(v) => v && update(i, { operator: v })} data={['equals', 'contains', 'regex']} />
                </Table.Td>
                <Table.Td>
                  <TextInput aria-label={`Rule ${i + 1} value`} value={r.value} onChange={(e) => update(i, { value: e.currentTarget.value })} />
                </Table.Td>
                <Table.Td>
                  <Select aria-label={`Rule ${i + 1} role`} data={props.roleOptions} value={r.roleId || null} onChange={(v) => update(i, { roleId: v ?? '' })} />
                </Table.Td>
                <Table.Td>
                  <ActionIcon variant="subtle" color="red" aria-label={`Remove rule ${i + 1}`} onClick={() => onChange(rules.filter((_, j) => j !== i))}>
                    ✕
                  </ActionIcon>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group>
        <Button size="xs" variant="default" onClick={() => onChange([...rules, { claim: 'groups', operator: 'equals', value: '', roleId: '' }])}>
          Add rule
        </Button>
      </Group>
    </Stack>
  );
}

/** Break-glass users (Security page): the tenant administrators who may sign in with password + TOTP past Require SSO. */
export function BreakGlassSection() {
  const permissions = usePermissions();
  const canManage = permissions.has('sso.manage') && permissions.isTenantAdmin;
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ['break-glass'], queryFn: () => call(api.GET('/api/v1/sso/break-glass')) });
  const [email, setEmail] = useState('');
  const replace = (userIds: string[]) =>
    call(api.PUT('/api/v1/sso/break-glass', { body: { userIds } })).then(() => queryClient.invalidateQueries({ queryKey: ['break-glass'] }));
  const add = useMutation({
    mutationFn: async () => {
      const found = await call(api.GET('/api/v1/users', { params: { query: { q: email.trim(), limit: 5 } } }));
      const user = found.items.find((u) => u.email.toLowerCase() === email.trim().toLowerCase());
      if (!user) throw new Error('no such user');
      await replace([...(list.data?.items.map((i) => i.userId) ?? []), user.id]);
      setEmail('');
    },
  });
  let content;
  if (list.isPending) content = <Loading />;
  else if (list.isError) content = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0) content = <Empty>No break-glass users. Name one before turning on Require SSO.</Empty>;
  else
    content = (
      <List spacing={4} data-testid="break-glass-users">
        {list.data.items.map((u) => (
          <List.Item key={u.userId}>
            <Group gap="xs">
              <Text size="sm">{u.email ?? u.userId}</Text>
              {!u.usable && (
                <Badge color="red" variant="light">
                  Not usable: no longer an active tenant administrator
                </Badge>
              )}
              {canManage && (
                <ConfirmButton label="Remove" title={`Remove ${u.email ?? 'this user'} from break-glass?`} confirmLabel="Remove" onConfirm={() => replace(list.data.items.filter((i) => i.userId !== u.userId).map((i) => i.userId))}>
                  They will no longer be able to sign in with a password while Require SSO is on.
                </ConfirmButton>
              )}
            </Group>
          </List.Item>
        ))}
      </List>
    );
  return (
    <Card withBorder component="section" aria-label="Break-glass users">
      <Stack gap="sm">
        <Title order={2} size="h4">
          Break-glass users
        </Title>
        <Text size="sm">Tenant administrators who may still sign in with password and two-step verification when Require SSO is on, for when the identity provider is down.</Text>
        {content}
        {canManage && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              add.mutate();
            }}
          >
            <Group align="flex-end">
              <TextInput label="Add a break-glass user" placeholder="admin@example.com" value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
              <Button type="submit" loading={add.isPending}>
                Add
              </Button>
            </Group>
            {add.isError &&
              (add.error instanceof Error && add.error.message === 'no such user' ? (
                <Alert color="red" role="alert" mt="xs">
                  No user has this email address.
                </Alert>
              ) : (
                <ErrorState error={add.error} title="Not added" />
              ))}
          </form>
        )}
        {permissions.isTenantAdmin && <BreakGlassLogins />}
      </Stack>
    </Card>
  );
}

/**
 * Every sign-in past Require SSO with a break-glass account (audited `sso.login.break_glass`), newest first, for
 * tenant administrators: each one should match an IdP outage someone can explain.
 */
function BreakGlassLogins() {
  const logins = useInfiniteQuery({
    queryKey: ['break-glass-logins'],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET('/api/v1/sso/break-glass/logins', { params: { query: { limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  let content;
  if (logins.isPending) content = <Loading label="Loading break-glass sign-ins…" />;
  else if (logins.isError) content = <ErrorState error={logins.error} title="Break-glass sign-ins unavailable" onRetry={() => void logins.refetch()} />;
  else {
    const items = logins.data.pages.flatMap((p) => p.items);
    content =
      items.length === 0 ? (
        <Empty>No break-glass sign-ins: nobody has signed in past Require SSO.</Empty>
      ) : (
        <Table data-testid="break-glass-logins">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Who</Table.Th>
              <Table.Th>From</Table.Th>
              <Table.Th>Factors</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((l) => (
              <Table.Tr key={`${l.at}-${l.userId ?? ''}`}>
                <Table.Td>{new Date(l.at).toLocaleString()}</Table.Td>
                <Table.Td>{l.email ?? l.userId ?? 'unknown'}</Table.Td>
                <Table.Td>
                  <Text size="sm">{l.ip ?? 'unknown address'}</Text>
                  {l.userAgent && (
                    <Text size="xs" c="dimmed" lineClamp={1} title={l.userAgent}>
                      {l.userAgent}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{l.amr.join(' + ') || 'none recorded'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      );
  }
  return (
    <Stack gap="xs" component="section" aria-label="Break-glass sign-ins">
      <Title order={3} size="h5">
        Break-glass sign-ins
      </Title>
      <Text size="sm">Every sign-in with password and two-step verification past Require SSO, newest first.</Text>
      {content}
      {logins.hasNextPage && (
        <Group>
          <Button size="xs" variant="default" loading={logins.isFetchingNextPage} onClick={() => void logins.fetchNextPage()}>
            Show older
          </Button>
        </Group>
      )}
    </Stack>
  );
}
