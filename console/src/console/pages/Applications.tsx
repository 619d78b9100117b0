import { Alert, Anchor, Badge, Button, Card, Checkbox, Code, Group, Modal, NumberInput, Radio, Select, Stack, Switch, Text, Textarea, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, Route, Routes, useNavigate, useParams } from 'react-router';
import { api, call, type Schemas } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { QueryTable } from '../../ui/query-table';
import { ErrorState, Loading } from '../../ui/states';
import {
  type ApplicationForm,
  AUTH_METHODS,
  createBody,
  configSnippet,
  describeLifetime,
  fieldsOf,
  type FormErrors,
  formOf,
  type Lifetime,
  NEW_APPLICATION,
  SCOPE_DESCRIPTIONS,
  SCOPES,
  TYPES,
  updateBody,
  validate,
} from './application-form';

type Application = Schemas['Application'];
type Created = Application & { clientSecret: string | null };

const KEY = ['applications'];
const listApplications = () => call(api.GET('/api/v1/applications'));
const typeLabel = (type: string) => TYPES.find((t) => t.value === type)?.label ?? type;
const authLabel = (method: string) => (method === 'none' ? 'None (public client, PKCE)' : (AUTH_METHODS.find((m) => m.value === method)?.label ?? method));

/**
 * Applications (docs/openid-provider.md): the product's own apps that sign users in through Tessera's OpenID Provider.
 * `/console/applications` lists them, `/console/applications/:id` shows and edits one. Everything here needs
 * `applications.manage`, which the API checks on every call.
 */
export function ApplicationsPage() {
  return (
    <Routes>
      <Route index element={<ApplicationList />} />
      <Route path=":id" element={<ApplicationDetail />} />
    </Routes>
  );
}

/** The issuer as the provider itself announces it (OpenID Connect Discovery §4: discovery is `<issuer>/.well-known/openid-configuration`). */
function useIssuer(): string {
  const discovery = useQuery({
    queryKey: ['openid-configuration'],
    queryFn: async () => {
      const response = await fetch('/.well-known/openid-configuration');
      if (!response.ok) throw new Error(`discovery answered ${response.status}`);
      return (await response.json()) as { issuer: string };
    },
    staleTime: Infinity,
  });
  // The console is served by the server at PUBLIC_URL: its origin is the issuer when discovery cannot be read.
  return discovery.data?.issuer ?? window.location.origin;
}

function ApplicationList() {
  const applications = useQuery({ queryKey: KEY, queryFn: listApplications });
  const [search, setSearch] = useState('');
  const [type, setType] = useState<string | null>(null);
  const [party, setParty] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  const navigate = useNavigate();
  const q = search.trim().toLowerCase();
  const total = applications.data?.items.length ?? 0;

  const matches = (a: Application) =>
    (q === '' || a.name.toLowerCase().includes(q) || a.clientId.toLowerCase().includes(q)) && (type === null || a.type === type) && (party === null || (party === 'first') === a.firstParty);

  return (
    <Stack maw={1100}>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Applications
        </Title>
        <Button onClick={() => setCreating(true)}>New application</Button>
      </Group>
      <Text size="sm">Your product's apps that sign users in with Tessera through OpenID Connect. Each has a client id, and web and machine apps a client secret.</Text>
      {applications.isSuccess && total === 0 ? (
        <Card withBorder data-testid="applications-empty">
          <Stack align="center" gap="sm" py="md">
            <Text fw={600}>No applications yet.</Text>
            <Text size="sm" ta="center" maw={620}>
              An application is one of your apps (a web site, a single-page app, a mobile app or a backend service) registered here so that it can send its users to Tessera to sign in and
              receive tokens for them. Register one to get its client id and the values to configure.
            </Text>
            <Button onClick={() => setCreating(true)}>Register your first application</Button>
          </Stack>
        </Card>
      ) : (
        <>
          <Group align="flex-end">
            <TextInput label="Search applications" placeholder="Name or client id" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={320} />
            <Select label="Type" placeholder="All types" clearable data={TYPES.map((t) => ({ value: t.value, label: t.label }))} value={type} onChange={setType} w={200} />
            <Select
              label="Party"
              placeholder="First and third party"
              clearable
              data={[
                { value: 'first', label: 'First party' },
                { value: 'third', label: 'Third party' },
              ]}
              value={party}
              onChange={setParty}
              w={220}
            />
          </Group>
          <QueryTable
            query={applications}
            rows={(d) => d.items.filter(matches).sort((a, b) => b.createdAt.localeCompare(a.createdAt))}
            rowKey={(a) => a.id}
            empty="No application matches the search."
            minWidth={800}
            columns={[
              {
                header: 'Name',
                cell: (a) => (
                  <Anchor component={Link} to={`/console/applications/${a.id}`}>
                    {a.name}
                  </Anchor>
                ),
              },
              { header: 'Type', cell: (a) => typeLabel(a.type) },
              { header: 'Client ID', cell: (a) => <Code style={{ wordBreak: 'break-all' }}>{a.clientId}</Code> },
              { header: 'Party', cell: (a) => <Text size="sm" style={{ whiteSpace: 'nowrap' }}>{a.firstParty ? 'First party' : 'Third party (consent)'}</Text> },
              { header: 'Created', cell: (a) => new Date(a.createdAt).toLocaleString() },
            ]}
          />
        </>
      )}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={creating} onClose={() => setCreating(false)} title="New application" size="xl" centered>
        {creating && (
          <CreateApplication
            onCancel={() => setCreating(false)}
            onCreated={(app) => {
              setCreating(false);
              setCreated(app);
            }}
          />
        )}
      </Modal>
      <CredentialsModal
        app={created}
        title="Application created"
        onClose={() => {
          const id = created?.id;
          setCreated(null);
          if (id) void navigate(`/console/applications/${id}`);
        }}
      />
    </Stack>
  );
}

function CreateApplication({ onCancel, onCreated }: { onCancel: () => void; onCreated: (app: Created) => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState<ApplicationForm>(NEW_APPLICATION);
  const [errors, setErrors] = useState<FormErrors>({});
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/applications', { body: createBody(form) })),
    onSuccess: (app) => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      onCreated(app);
    },
  });
  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const found = validate(form, true);
        setErrors(found);
        if (Object.keys(found).length === 0) create.mutate();
      }}
    >
      <Stack>
        <ApplicationFields form={form} errors={errors} onChange={setForm} creating />
        {Object.keys(errors).length > 0 && (
          <Alert color="red" role="alert" title="Not created">
            Fix the fields marked above.
          </Alert>
        )}
        {create.isError && <ErrorState error={create.error} title="Application not created" />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending}>
            Create application
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function LifetimeInput(props: { label: string; description: string; value: Lifetime; error?: string; onChange: (v: Lifetime) => void }) {
  return (
    <Group align="flex-start" gap="xs" wrap="nowrap">
      <NumberInput label={props.label} description={props.description} min={1} allowDecimal={false} value={props.value.value} error={props.error} onChange={(v) => props.onChange({ ...props.value, value: v })} w={300} />
      <Select
        label="Unit"
        aria-label={`${props.label} unit`}
        description=" "
        allowDeselect={false}
        data={['seconds', 'minutes', 'hours', 'days']}
        value={props.value.unit}
        onChange={(u) => u && props.onChange({ ...props.value, unit: u })}
        w={150}
      />
    </Group>
  );
}

/** The settings of an application, shown for its type. The type and the client authentication are chosen once, at creation. */
function ApplicationFields({ form, errors, onChange, creating }: { form: ApplicationForm; errors: FormErrors; onChange: (f: ApplicationForm) => void; creating: boolean }) {
  const f = fieldsOf(form.type);
  const set = (patch: Partial<ApplicationForm>) => onChange({ ...form, ...patch });
  return (
    <Stack>
      <TextInput label="Name" description="Shown to users on the sign-in and consent pages" required value={form.name} error={errors.name} onChange={(e) => set({ name: e.currentTarget.value })} />
      {creating && (
        <Radio.Group label="Type" description="Decides how the application proves who it is; it cannot be changed later" value={form.type} onChange={(v) => set({ type: v })}>
          <Stack gap="xs" mt="xs">
            {TYPES.map((t) => (
              <Radio key={t.value} value={t.value} label={t.label} description={t.description} />
            ))}
          </Stack>
        </Radio.Group>
      )}
      {f.redirects && (
        <>
          <Textarea
            label="Redirect URIs"
            description="One per line. Where Tessera sends the user back with the code; compared character for character. https (http only on localhost)."
            required
            autosize
            minRows={2}
            maxRows={6}
            value={form.redirectUris}
            error={errors.redirectUris}
            onChange={(e) => set({ redirectUris: e.currentTarget.value })}
          />
          <Textarea
            label="Post-logout redirect URIs"
            description="One per line, optional. Where the user may land after signing out from the application."
            autosize
            minRows={1}
            maxRows={6}
            value={form.postLogoutRedirectUris}
            error={errors.postLogoutRedirectUris}
            onChange={(e) => set({ postLogoutRedirectUris: e.currentTarget.value })}
          />
        </>
      )}
      {f.origins && (
        <Textarea
          label="Allowed origins"
          description="One per line, such as https://app.example.com: the origins whose scripts may call the token and userinfo endpoints (CORS)."
          autosize
          minRows={1}
          maxRows={6}
          value={form.allowedOrigins}
          error={errors.allowedOrigins}
          onChange={(e) => set({ allowedOrigins: e.currentTarget.value })}
        />
      )}
      <Textarea
        label="APIs (resource identifiers)"
        description="Optional, one per line: the APIs this application obtains access tokens for (an https URL or a URN such as urn:example:api, RFC 8707). The first is the audience (aud) of its access tokens unless the app asks for another; with none, the audience is the client id."
        autosize
        minRows={1}
        maxRows={6}
        value={form.resources}
        error={errors.resources}
        onChange={(e) => set({ resources: e.currentTarget.value })}
      />
      {f.backchannel && (
        <>
          <TextInput
            label="Back-channel logout URI"
            description="Optional. Where Tessera POSTs a logout token when a user's session ends, so the app can end its own (OpenID Connect Back-Channel Logout). https (http only on localhost)."
            value={form.backchannelLogoutUri}
            error={errors.backchannelLogoutUri}
            onChange={(e) => set({ backchannelLogoutUri: e.currentTarget.value })}
          />
          <Switch
            label="The app needs the session id (sid) in logout tokens"
            description="Tessera always sends it; this records that the app relies on it."
            checked={form.backchannelLogoutSessionRequired}
            disabled={form.backchannelLogoutUri.trim() === ''}
            onChange={(e) => set({ backchannelLogoutSessionRequired: e.currentTarget.checked })}
          />
        </>
      )}
      {f.authMethod && creating && (
        <Select
          label="Client authentication"
          description="How the application authenticates at the token endpoint; a client secret is shown once after creation"
          allowDeselect={false}
          data={AUTH_METHODS.map((m) => ({ value: m.value, label: m.label }))}
          value={form.authMethod}
          onChange={(v) => v && set({ authMethod: v })}
        />
      )}
      {f.authMethod && form.authMethod === 'private_key_jwt' && (
        <Textarea
          label="Public keys (JWKS)"
          description={
            creating
              ? 'The JSON Web Key Set whose private keys sign the application\'s assertions: {"keys": [ … ]}, public keys only.'
              : 'Leave empty to keep the current keys, or paste a new JSON Web Key Set to replace them.'
          }
          required={creating}
          autosize
          minRows={4}
          maxRows={12}
          styles={{ input: { fontFamily: 'monospace' } }}
          value={form.jwks}
          error={errors.jwks}
          onChange={(e) => set({ jwks: e.currentTarget.value })}
        />
      )}
      {f.scopes && (
        <Checkbox.Group label="Scopes" description="What the application may ask for" value={form.scopes} error={errors.scopes} onChange={(v) => set({ scopes: v })}>
          <Stack gap={6} mt="xs">
            {SCOPES.map((s) => (
              <Checkbox key={s} value={s} label={`${s} — ${SCOPE_DESCRIPTIONS[s]}`} />
            ))}
          </Stack>
        </Checkbox.Group>
      )}
      <Switch
        label="First-party application"
        description={
          form.firstParty
            ? 'Your own application: users are not asked for consent.'
            : "Someone else's application: users see a consent screen naming the application and what it asks for, and must agree."
        }
        checked={form.firstParty}
        onChange={(e) => set({ firstParty: e.currentTarget.checked })}
      />
      <LifetimeInput label="Access token lifetime" description="1 minute to 24 hours" value={form.accessTtl} error={errors.accessTtl} onChange={(accessTtl) => set({ accessTtl })} />
      {f.refreshTtl && (
        <LifetimeInput label="Refresh token lifetime" description="5 minutes to 365 days (with offline_access)" value={form.refreshTtl} error={errors.refreshTtl} onChange={(refreshTtl) => set({ refreshTtl })} />
      )}
    </Stack>
  );
}

/** The values an application is configured with: client id, issuer, discovery URL, and a short openid-client setup. */
function ConfigureValues({ app }: { app: Application }) {
  const issuer = useIssuer();
  return (
    <Stack gap="xs">
      <CopyLine label="Client ID" value={app.clientId} testId="application-client-id" />
      <CopyLine label="Issuer" value={issuer} testId="application-issuer" />
      <CopyLine label="Discovery URL" value={`${issuer}/.well-known/openid-configuration`} testId="application-discovery-url" />
      <Text size="sm" fw={600} mt="xs">
        Example setup (Node.js, openid-client)
      </Text>
      {/* Wrapped, and reachable by keyboard should it still scroll (WCAG 2.1.1). */}
      <Code block data-testid="application-snippet" tabIndex={0} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
        {configSnippet(app, issuer)}
      </Code>
    </Stack>
  );
}

/** A new client secret, shown this once (only its hash is stored), with the values the application needs. */
function CredentialsModal({ app, title, onClose }: { app: Created | null; title: string; onClose: () => void }) {
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={app !== null} onClose={onClose} title={title} size="xl" centered>
      {app && (
        <Stack>
          {app.clientSecret !== null && (
            <>
              <Alert color="yellow" title="Copy the client secret now: you will not see it again">
                Only its hash is kept. If it is lost, rotate the secret: the application then needs the new one.
              </Alert>
              <CopyLine label="Client secret" value={app.clientSecret} testId="application-client-secret" />
            </>
          )}
          <ConfigureValues app={app} />
          <Group justify="flex-end">
            <Button onClick={onClose}>{app.clientSecret !== null ? 'I have copied the secret' : 'Done'}</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

function ApplicationDetail() {
  const { id = '' } = useParams();
  const application = useQuery({ queryKey: [...KEY, id], queryFn: () => call(api.GET('/api/v1/applications/{id}', { params: { path: { id } } })) });
  const back = (
    <Anchor component={Link} to="/console/applications" size="sm">
      ← All applications
    </Anchor>
  );
  if (application.isPending) return <Loading />;
  if (application.isError)
    return (
      <Stack maw={1100}>
        {back}
        <ErrorState error={application.error} onRetry={() => void application.refetch()} />
      </Stack>
    );
  const app = application.data;
  return (
    <Stack maw={1100}>
      {back}
      <Group justify="space-between">
        <Title order={1} size="h2">
          {app.name}
        </Title>
        <Group gap="xs">
          <Badge variant="light">{typeLabel(app.type)}</Badge>
          <Badge variant="light" color={app.firstParty ? 'blue' : 'grape'}>
            {app.firstParty ? 'First party' : 'Third party'}
          </Badge>
        </Group>
      </Group>
      <Card withBorder component="section" aria-label="Configure your app">
        <Stack gap="sm">
          <Title order={2} size="h4">
            Configure your app
          </Title>
          <ConfigureValues app={app} />
          <Text size="sm">
            Client authentication: {authLabel(app.tokenEndpointAuthMethod)}. Access tokens live {describeLifetime(app.accessTokenTtlSeconds)}
            {app.type !== 'machine' ? `, refresh tokens ${describeLifetime(app.refreshTokenTtlSeconds)}` : ''}. Registered {new Date(app.createdAt).toLocaleString()}, last changed{' '}
            {new Date(app.updatedAt).toLocaleString()}.
          </Text>
          <RotateSecret app={app} />
        </Stack>
      </Card>
      <EditApplication key={app.updatedAt} app={app} />
      <DeleteApplication app={app} />
    </Stack>
  );
}

function RotateSecret({ app }: { app: Application }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [rotated, setRotated] = useState<Created | null>(null);
  const rotate = useMutation({
    mutationFn: () => call(api.POST('/api/v1/applications/{id}/secret', { params: { path: { id: app.id } } })),
    onSuccess: (answer) => {
      setConfirming(false);
      setRotated(answer);
      void queryClient.invalidateQueries({ queryKey: KEY });
    },
  });
  if (app.tokenEndpointAuthMethod !== 'client_secret_basic' && app.tokenEndpointAuthMethod !== 'client_secret_post') return null;
  return (
    <Group>
      <Button variant="light" color="orange" onClick={() => setConfirming(true)}>
        Rotate secret
      </Button>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={confirming} onClose={() => setConfirming(false)} title={`Rotate the secret of ${app.name}?`} centered>
        <Stack>
          <Text size="sm">A new client secret is created and the current one stops working at once: the application is refused until it uses the new secret.</Text>
          {rotate.isError && <ErrorState error={rotate.error} title="Secret not rotated" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button color="orange" loading={rotate.isPending} onClick={() => rotate.mutate()}>
              Rotate secret
            </Button>
          </Group>
        </Stack>
      </Modal>
      <CredentialsModal app={rotated} title="New client secret" onClose={() => setRotated(null)} />
    </Group>
  );
}

function EditApplication({ app }: { app: Application }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState<ApplicationForm>(() => formOf(app));
  const [errors, setErrors] = useState<FormErrors>({});
  const save = useMutation({
    mutationFn: () => call(api.PATCH('/api/v1/applications/{id}', { params: { path: { id: app.id } }, body: updateBody(form) })),
    onSuccess: async (saved) => {
      notifications.show({ message: `${saved.name} saved.` });
      queryClient.setQueryData([...KEY, app.id], saved);
      await queryClient.invalidateQueries({ queryKey: KEY, exact: true });
    },
  });
  return (
    <Card withBorder component="section" aria-label="Settings">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const found = validate(form, false);
          setErrors(found);
          if (Object.keys(found).length === 0) save.mutate();
        }}
      >
        <Stack>
          <Title order={2} size="h4">
            Settings
          </Title>
          <ApplicationFields form={form} errors={errors} onChange={setForm} creating={false} />
          {Object.keys(errors).length > 0 && (
            <Alert color="red" role="alert" title="Not saved">
              Fix the fields marked above.
            </Alert>
          )}
          {save.isError && <ErrorState error={save.error} title="Settings not saved" />}
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending}>
              Save settings
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

/** Deleting is typed out (the name), as a mistaken delete breaks every sign-in of the application at once. */
function DeleteApplication({ app }: { app: Application }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/applications/{id}', { params: { path: { id: app.id } } })),
    onSuccess: async () => {
      notifications.show({ message: `${app.name} deleted.` });
      queryClient.removeQueries({ queryKey: [...KEY, app.id] });
      await queryClient.invalidateQueries({ queryKey: KEY, exact: true });
      void navigate('/console/applications');
    },
  });
  return (
    <Card withBorder component="section" aria-label="Delete">
      <Group justify="space-between">
        <Text size="sm">Deleting the application stops its sign-ins and its tokens from being accepted at once.</Text>
        <Button variant="light" color="red" onClick={() => setOpen(true)}>
          Delete application
        </Button>
      </Group>
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={open}
        onClose={() => {
          setOpen(false);
          setTyped('');
        }}
        title={`Delete ${app.name}?`}
        centered
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (typed === app.name) remove.mutate();
          }}
        >
          <Stack>
            <Text size="sm">Its client id stops working at once and cannot be restored. Type the application's name to confirm.</Text>
            <TextInput label="Application name" placeholder={app.name} value={typed} onChange={(e) => setTyped(e.currentTarget.value)} autoComplete="off" />
            {remove.isError && <ErrorState error={remove.error} title="Application not deleted" />}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setOpen(false)}>
                Cancel
              </Button>
              <Button type="submit" color="red" disabled={typed !== app.name} loading={remove.isPending}>
                Delete
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Card>
  );
}
