import { Alert, Badge, Button, Card, Checkbox, Code, Container, Group, List, PasswordInput, Select, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import createClient from 'openapi-fetch';
import { type ReactNode, useState } from 'react';
import { ApiError, call, type Schemas } from '../api/client';
import type { paths } from '../api/schema';
import { fillStep, IDP_GUIDES } from '../sso/idp-guides';
import { CopyLine } from '../ui/copy';
import { ConfirmButton, ErrorState, Loading } from '../ui/states';

type SetupState = Schemas['SetupState'];
type SetupTest = Schemas['SetupTest'];

/**
 * The setup link's token: read once from the URL's fragment (never sent to a server, nor in Referer) and kept in
 * memory only (OWASP HTML5 Security Cheat Sheet: no tokens in Web Storage); the fragment is then removed from the
 * address bar and the history. A reload asks for the link again.
 */
let linkToken: string | null = null;
function takeToken(): string | null {
  const hash = window.location.hash.slice(1);
  if (/^tsl1\.[A-Za-z0-9_-]{43}$/.test(hash)) {
    linkToken = hash;
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return linkToken;
}

/** The link's own endpoints only: its token as the bearer, the claim cookie (same origin) with it. */
const setupApi = createClient<paths>({
  baseUrl: '',
  fetch: (request: Request) => {
    const headers = new Headers(request.headers);
    if (linkToken) headers.set('authorization', `Bearer ${linkToken}`);
    return fetch(new Request(request, { headers, credentials: 'same-origin' }));
  },
});

function Section({ title, children, done }: { title: string; children: ReactNode; done?: boolean }) {
  return (
    <Card withBorder component="section" aria-label={title}>
      <Stack gap="sm">
        <Group gap="xs">
          <Title order={2} size="h4">
            {title}
          </Title>
          {done && (
            <Badge color="green" variant="light">
              Done
            </Badge>
          )}
        </Group>
        {children}
      </Stack>
    </Card>
  );
}

/** /setup: the customer IT admin's guided SSO and SCIM setup, reached through a setup link (README "Setup links"). */
export function SetupPage() {
  const [token] = useState(takeToken);
  const testFinished = new URLSearchParams(window.location.search).get('ssoTest');
  if (!token && testFinished) {
    return (
      <Container size="sm" py="xl">
        <Alert title="Test sign-in finished" role="status">
          The result is shown in the setup window. You can close this window.
        </Alert>
      </Container>
    );
  }
  if (!token) {
    return (
      <Container size="sm" py="xl">
        <Alert color="red" title="Open the setup link again" role="alert">
          This page needs the whole setup link your vendor sent you (it ends with a long code after #). Open that link again; if it no longer works, ask your vendor for a new one.
        </Alert>
      </Container>
    );
  }
  return <SetupFlow />;
}

function SetupFlow() {
  const state = useQuery({ queryKey: ['setup'], queryFn: () => call(setupApi.GET('/api/v1/setup')), refetchInterval: (q) => (q.state.data?.scim.tokenIssued && !q.state.data.scim.lastRequestAt ? 5000 : false) });
  const [idpId, setIdpId] = useState<string | null>(null);
  const [finished, setFinished] = useState(false);
  if (finished) {
    return (
      <Container size="sm" py="xl">
        <Alert color="green" title="Setup complete" role="status" data-testid="setup-complete">
          Your sign-in is live. Your vendor's administrators have been notified. This link no longer works.
        </Alert>
      </Container>
    );
  }
  if (state.isPending) return <Loading label="Loading the setup…" />;
  if (state.isError) {
    return (
      <Container size="sm" py="xl">
        <ErrorState error={state.error} title="This setup link cannot be used" onRetry={() => void state.refetch()} />
      </Container>
    );
  }
  const s = state.data;
  const idp = IDP_GUIDES.find((g) => g.id === idpId) ?? null;
  return (
    <Container size="md" py="xl">
      <Stack>
        <Title order={1} size="h2">
          Connect {s.tenantName} to your identity provider
        </Title>
        {s.note && <Text size="sm">Note from your vendor: {s.note}</Text>}
        <Text size="sm">This link works until {new Date(s.expiresAt).toLocaleString()}, for one person at a time.</Text>
        {s.allowed.sso && (
          <Section title="1. Your identity provider" done={idp !== null}>
            <Select label="Identity provider" placeholder="Choose yours" data={IDP_GUIDES.map((g) => ({ value: g.id, label: g.label }))} value={idpId} onChange={setIdpId} />
          </Section>
        )}
        {s.allowed.domains && <DomainsStep state={s} />}
        {s.allowed.sso && idp && <AppStep state={s} idp={idp} />}
        {s.allowed.sso && idp && <ConnectStep state={s} idp={idp} />}
        {s.allowed.sso && s.sso.connection && <TestStep state={s} />}
        {s.allowed.scim && <ScimStep state={s} />}
        <FinishStep state={s} onDone={() => setFinished(true)} />
      </Stack>
    </Container>
  );
}

function useRefresh() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: ['setup'] });
}

function DomainsStep({ state }: { state: SetupState }) {
  const refresh = useRefresh();
  const [domain, setDomain] = useState('');
  const add = useMutation({ mutationFn: () => call(setupApi.POST('/api/v1/setup/domains', { body: { domain } })), onSuccess: () => { setDomain(''); void refresh(); } });
  const verify = useMutation({ mutationFn: (id: string) => call(setupApi.POST('/api/v1/setup/domains/{id}/verify', { params: { path: { id } } })), onSuccess: () => void refresh() });
  const verified = state.domains.some((d) => d.status === 'verified');
  return (
    <Section title="2. Verify your email domain" done={verified}>
      <Text size="sm">Prove your organisation controls the domain of your users' email addresses: publish a DNS TXT record, then check it.</Text>
      {state.domains.map((d) => (
        <Stack key={d.id} gap={4} data-testid={`domain-${d.domain}`}>
          <Group gap="xs">
            <Text fw={600} size="sm">
              {d.domain}
            </Text>
            <Badge variant="light" color={d.status === 'verified' ? 'green' : 'gray'}>
              {d.status === 'verified' ? 'Verified' : 'Pending'}
            </Badge>
          </Group>
          {d.status !== 'verified' && (
            <>
              <CopyLine label="TXT record name" value={d.verification.name} />
              <CopyLine label="TXT record value" value={d.verification.value} testId="txt-value" />
              <Group>
                <Button size="xs" loading={verify.isPending} onClick={() => verify.mutate(d.id)}>
                  Check {d.domain} now
                </Button>
              </Group>
            </>
          )}
        </Stack>
      ))}
      {verify.isError && <ErrorState error={verify.error} title="Not verified yet" />}
      <Group align="flex-end">
        <TextInput label="Domain" placeholder="example.com" value={domain} onChange={(e) => setDomain(e.currentTarget.value)} />
        <Button onClick={() => add.mutate()} loading={add.isPending} disabled={domain.trim() === ''}>
          Add domain
        </Button>
      </Group>
      {add.isError && <ErrorState error={add.error} title="Not added" />}
    </Section>
  );
}

function AppStep({ state, idp }: { state: SetupState; idp: (typeof IDP_GUIDES)[number] }) {
  const v = state.sso.values;
  const values = { redirectUri: v.oidcRedirectUri, entityId: v.samlEntityId, acsUrl: v.samlAcsUrl, metadataUrl: v.samlMetadataUrl };
  return (
    <Section title={`3. Create the app at ${idp.label}`}>
      <List type="ordered" size="sm" spacing="xs">
        {idp.steps.map((step) => (
          <List.Item key={step}>{fillStep(step, values)}</List.Item>
        ))}
      </List>
      <Stack gap={4} aria-label="Our values to paste at your identity provider" component="section">
        {idp.protocol === 'oidc' ? (
          <CopyLine label="Redirect URI" value={v.oidcRedirectUri} testId="setup-redirect-uri" />
        ) : (
          <>
            <CopyLine label="ACS URL" value={v.samlAcsUrl} testId="setup-acs-url" />
            <CopyLine label="Entity ID" value={v.samlEntityId} testId="setup-entity-id" />
            <CopyLine label="SP metadata URL" value={v.samlMetadataUrl} />
          </>
        )}
      </Stack>
      {idp.doc && (
        <Text size="sm">
          The full guide ships with Tessera as <Code>docs/sso/{idp.doc}</Code>.
        </Text>
      )}
    </Section>
  );
}

function ConnectStep({ state, idp }: { state: SetupState; idp: (typeof IDP_GUIDES)[number] }) {
  const refresh = useRefresh();
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [clientSecret, setClientSecret] = useState('');
  const [metadataUrl, setMetadataUrl] = useState('');
  const [metadataXml, setMetadataXml] = useState('');
  const domains = state.domains.filter((d) => d.status === 'verified').map((d) => d.domain);
  const save = useMutation({
    mutationFn: () =>
      call(
        setupApi.POST('/api/v1/setup/sso/connection', {
          body:
            idp.protocol === 'oidc'
              ? { type: 'oidc', name: idp.label, domains, oidc: { issuer: issuer.trim(), clientId: clientId.trim(), clientSecret } }
              : { type: 'saml', name: idp.label, domains, saml: metadataUrl.trim() ? { metadataUrl: metadataUrl.trim() } : { metadataXml } },
        } as never),
      ),
    onSuccess: () => void refresh(),
  });
  const c = state.sso.connection;
  return (
    <Section title={`4. Paste ${idp.label}'s values`} done={c !== null}>
      {c ? (
        <Text size="sm" data-testid="connection-saved">
          Connection "{c.name}" saved ({c.type === 'oidc' ? 'OpenID Connect' : 'SAML 2.0'}); it goes live when you finish.
        </Text>
      ) : (
        <>
          {idp.protocol === 'oidc' ? (
            <>
              <TextInput label="Issuer" description={idp.issuerHint} value={issuer} onChange={(e) => setIssuer(e.currentTarget.value)} />
              <TextInput label="Client ID" value={clientId} onChange={(e) => setClientId(e.currentTarget.value)} />
              <PasswordInput label="Client secret" value={clientSecret} onChange={(e) => setClientSecret(e.currentTarget.value)} />
            </>
          ) : (
            <>
              <TextInput label="IdP metadata URL" value={metadataUrl} onChange={(e) => setMetadataUrl(e.currentTarget.value)} />
              <Textarea label="Or the IdP metadata XML" autosize minRows={3} maxRows={8} value={metadataXml} onChange={(e) => setMetadataXml(e.currentTarget.value)} />
            </>
          )}
          {domains.length === 0 && state.allowed.domains && <Text size="sm">Verify a domain above first: sign-in works only for the verified domains.</Text>}
          <Group>
            <Button onClick={() => save.mutate()} loading={save.isPending}>
              Save connection
            </Button>
          </Group>
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
        </>
      )}
    </Section>
  );
}

function TestStep({ state }: { state: SetupState }) {
  const refresh = useRefresh();
  const [testId, setTestId] = useState<string | null>(state.sso.testId);
  const start = useMutation({
    mutationFn: () => call(setupApi.POST('/api/v1/setup/sso/tests', { body: { returnTo: `${window.location.origin}/setup` } })),
    onSuccess: (started) => {
      setTestId(started.testId);
      window.open(started.url, 'tessera-setup-test');
      void refresh();
    },
  });
  const test = useQuery({
    queryKey: ['setup-test', testId],
    enabled: testId !== null,
    queryFn: () => call(setupApi.GET('/api/v1/setup/sso/tests/{testId}', { params: { path: { testId: testId! } } })),
    refetchInterval: (q) => (q.state.data?.status === 'pending' ? 2000 : false),
  });
  return (
    <Section title="5. Test sign-in" done={test.data?.status === 'succeeded'}>
      <Text size="sm">Sign in through your identity provider in a new window. Nothing is created: you see what it sends and the role you would get.</Text>
      <Group>
        <Button onClick={() => start.mutate()} loading={start.isPending}>
          Test sign-in
        </Button>
      </Group>
      {start.isError && <ErrorState error={start.error} title="Test not started" />}
      {test.isError && !(test.error instanceof ApiError && test.error.code === 'sso.test_not_found') && <ErrorState error={test.error} title="Test result unavailable" />}
      {test.data && <TestResult test={test.data} />}
    </Section>
  );
}

function TestResult({ test }: { test: SetupTest }) {
  if (test.status === 'pending') return <Loading label="Waiting for the sign-in in the other window…" />;
  if (test.status === 'failed') {
    return (
      <Alert color="red" title="The test sign-in failed" role="alert" data-testid="test-failed">
        <Text size="sm">
          {test.error?.message} <Code>{test.error?.code}</Code>
        </Text>
        <Text size="sm">Fix the value at your identity provider or above, then test again.</Text>
      </Alert>
    );
  }
  return (
    <Alert color="green" title="The test sign-in succeeded" role="status" data-testid="test-succeeded">
      <Stack gap={4}>
        <Text size="sm">Signed in as {test.email}{test.wouldBeProvisioned ? ' (a new user would be created)' : ''}.</Text>
        <Text size="sm">Roles the rules would give: {test.roles.length === 0 ? 'none' : test.roles.length}.</Text>
        <Text size="sm">Claims received:</Text>
        <Code block>{JSON.stringify(test.claims, null, 2)}</Code>
      </Stack>
    </Alert>
  );
}

function ScimStep({ state }: { state: SetupState }) {
  const refresh = useRefresh();
  const [token, setToken] = useState<string | null>(null);
  const create = useMutation({ mutationFn: () => call(setupApi.POST('/api/v1/setup/scim/directory', { body: {} })), onSuccess: () => void refresh() });
  const issue = useMutation({ mutationFn: () => call(setupApi.POST('/api/v1/setup/scim/token')), onSuccess: (t) => { setToken(t.token); void refresh(); } });
  const d = state.scim.directory;
  return (
    <Section title="6. User provisioning (SCIM)" done={state.scim.lastRequestAt !== null}>
      {!d ? (
        <>
          <Text size="sm">Let your identity provider create, update and deactivate users automatically.</Text>
          <Group>
            <Button onClick={() => create.mutate()} loading={create.isPending}>
              Create SCIM directory
            </Button>
          </Group>
          {create.isError && <ErrorState error={create.error} title="Not created" />}
        </>
      ) : (
        <>
          <CopyLine label="SCIM base URL" value={d.baseUrl} testId="scim-base-url" />
          {token ? (
            <Alert color="yellow" title="Copy the token now: it is not shown again" role="status">
              <CopyLine label="Bearer token" value={token} testId="scim-token" />
            </Alert>
          ) : state.scim.tokenIssued ? (
            <Text size="sm">The token was issued and shown once.</Text>
          ) : (
            <Group>
              <Button onClick={() => issue.mutate()} loading={issue.isPending}>
                Create SCIM token
              </Button>
            </Group>
          )}
          {issue.isError && <ErrorState error={issue.error} title="No token" />}
          <Text size="sm" data-testid="scim-last-request" aria-live="polite">
            Last request received: {state.scim.lastRequestAt ? new Date(state.scim.lastRequestAt).toLocaleString() : 'none yet (this updates by itself)'}
          </Text>
        </>
      )}
    </Section>
  );
}

function FinishStep({ state, onDone }: { state: SetupState; onDone: () => void }) {
  const [requireSso, setRequireSso] = useState(false);
  return (
    <Section title="Finish">
      <Text size="sm">Finishing enables the sign-in for your users and ends this link.</Text>
      {state.allowed.sso && <Checkbox label="Require SSO for the verified domains (password sign-in is refused, break-glass users excepted)" checked={requireSso} onChange={(e) => setRequireSso(e.currentTarget.checked)} />}
      <Group>
        <ConfirmButton
          label="Finish setup"
          title="Finish the setup?"
          confirmLabel="Finish"
          color="blue"
          size="sm"
          onConfirm={async () => {
            await call(setupApi.POST('/api/v1/setup/complete', { body: { requireSso } }));
            onDone();
          }}
        >
          The connection goes live now and this link stops working. Your vendor can change anything later.
        </ConfirmButton>
      </Group>
      <Text size="sm">Need to stop? Close this page; you can come back through the link until it expires, and your vendor can revoke it.</Text>
    </Section>
  );
}
