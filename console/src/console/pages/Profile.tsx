import { Badge, Button, Card, Center, Code, Group, Image, List, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { NewPasswordForm } from '../../login/LoginPage';
import { QueryTable } from '../../ui/query-table';
import { ConfirmButton, ErrorState, Loading } from '../../ui/states';
import { useMe } from '../access';

export function ProfilePage() {
  return (
    <Stack maw={900}>
      <Title order={1} size="h2">
        My profile
      </Title>
      <NameCard />
      <PasswordCard />
      <MfaCard />
      <SessionsCard />
    </Stack>
  );
}

function NameCard() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [name, setName] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (value: string) => call(api.PATCH('/api/v1/me', { body: { name: value || null } })),
    onSuccess: () => {
      notifications.show({ message: 'Name saved.' });
      void queryClient.invalidateQueries({ queryKey: ['me'] });
    },
  });
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  return (
    <Card withBorder component="section" aria-labelledby="profile-name">
      <Title order={2} size="h4" id="profile-name" mb="sm">
        Name
      </Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate((name ?? me.data.name ?? '').trim());
        }}
      >
        <Stack>
          <Text size="sm">Email: {me.data.email}</Text>
          <TextInput label="Name" value={name ?? me.data.name ?? ''} onChange={(e) => setName(e.currentTarget.value)} maxLength={200} />
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          <Group>
            <Button type="submit" loading={save.isPending}>
              Save name
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function PasswordCard() {
  const [current, setCurrent] = useState('');
  const [key, setKey] = useState(0);
  const change = useMutation({
    mutationFn: (newPassword: string) => call(api.POST('/api/v1/me/password', { body: { currentPassword: current, newPassword } })),
    onSuccess: () => {
      notifications.show({ message: 'Password changed. Your other sessions were ended.' });
      setCurrent('');
      setKey((k) => k + 1);
    },
  });
  return (
    <Card withBorder component="section" aria-labelledby="profile-password">
      <Title order={2} size="h4" id="profile-password" mb="sm">
        Password
      </Title>
      <Stack>
        <PasswordInput label="Current password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.currentTarget.value)} />
        <NewPasswordForm key={key} busy={change.isPending} intro="Your other sessions end when the password changes." onSubmit={(p) => change.mutateAsync(p).then(() => undefined, () => undefined)} />
        {change.isError && <ErrorState error={change.error} title="Password not changed" />}
      </Stack>
    </Card>
  );
}

function MfaCard() {
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: ['me', 'mfa'], queryFn: () => call(api.GET('/api/v1/me/mfa')) });
  const [password, setPassword] = useState('');
  const [setup, setSetup] = useState<Schemas['MfaSetup'] | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['me', 'mfa'] });
  const start = useMutation({
    mutationFn: () => call(api.POST('/api/v1/me/mfa/setup', { body: { currentPassword: password } })),
    onSuccess: (s) => {
      setSetup(s);
      setPassword('');
    },
  });
  const verify = useMutation({
    mutationFn: () => call(api.POST('/api/v1/me/mfa/verify', { body: { code: code.trim() } })),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      setSetup(null);
      setCode('');
      refresh();
    },
  });
  const disable = useMutation({
    mutationFn: () => call(api.POST('/api/v1/me/mfa/disable', { body: { currentPassword: password } })),
    onSuccess: () => {
      setPassword('');
      setCodes(null);
      notifications.show({ message: 'Two-step verification is off.' });
      refresh();
    },
  });

  let content;
  if (status.isPending) content = <Loading />;
  else if (status.isError) content = <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  else if (setup)
    content = (
      <form
        onSubmit={(e) => {
          e.preventDefault();
          verify.mutate();
        }}
      >
        <Stack>
          <Text size="sm">Scan this code with your authenticator app, then enter the code it shows.</Text>
          <Center>
            <Image src={setup.qrCodeDataUrl} alt="QR code to add this account to an authenticator app" w={200} h={200} />
          </Center>
          <Text size="sm">
            Or enter this key by hand: <Code data-testid="totp-secret">{setup.secret}</Code>
          </Text>
          <TextInput label="Code from the app" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.currentTarget.value)} />
          {verify.isError && <ErrorState error={verify.error} title="Not turned on" />}
          <Group>
            <Button type="submit" loading={verify.isPending}>
              Turn on
            </Button>
          </Group>
        </Stack>
      </form>
    );
  else if (status.data.enabled)
    content = (
      <Stack>
        <Group>
          <Badge color="green">On</Badge>
          <Text size="sm" data-testid="recovery-remaining">
            {status.data.recoveryCodesRemaining} recovery codes remaining
          </Text>
        </Group>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            disable.mutate();
          }}
        >
          <Stack>
            <PasswordInput label="Current password (to turn it off)" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            {disable.isError && <ErrorState error={disable.error} title="Not turned off" />}
            <Group>
              <Button type="submit" color="red" variant="light" loading={disable.isPending}>
                Turn off two-step verification
              </Button>
            </Group>
          </Stack>
        </form>
      </Stack>
    );
  else
    content = (
      <form
        onSubmit={(e) => {
          e.preventDefault();
          start.mutate();
        }}
      >
        <Stack>
          <Group>
            <Badge color="gray">Off</Badge>
            <Text size="sm">Protect your sign-in with a code from an authenticator app.</Text>
          </Group>
          <PasswordInput label="Current password" description="Needed unless you signed in within the last 5 minutes." autoComplete="current-password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          {start.isError && <ErrorState error={start.error} title="Setup not started" />}
          <Group>
            <Button type="submit" loading={start.isPending}>
              Set up two-step verification
            </Button>
          </Group>
        </Stack>
      </form>
    );

  return (
    <Card withBorder component="section" aria-labelledby="profile-mfa">
      <Title order={2} size="h4" id="profile-mfa" mb="sm">
        Two-step verification
      </Title>
      {codes && (
        <Stack mb="md">
          <Text size="sm">Save these recovery codes somewhere safe; each works once and they are shown only now.</Text>
          <List data-testid="recovery-codes" spacing={2}>
            {codes.map((c) => (
              <List.Item key={c}>
                <Code>{c}</Code>
              </List.Item>
            ))}
          </List>
        </Stack>
      )}
      {content}
    </Card>
  );
}

function SessionsCard() {
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: ['me', 'sessions'], queryFn: () => call(api.GET('/api/v1/me/sessions')) });
  const content = (
    <QueryTable
      query={sessions}
      rows={(d) => d.sessions}
      rowKey={(s) => s.id}
      empty="No live sessions."
      highlightOnHover={false}
      columns={[
        { header: 'Device', cell: (s) => shortAgent(s.userAgent) },
        { header: 'Account', cell: (s) => s.accountName },
        { header: 'Address', cell: (s) => s.ip ?? '—' },
        { header: 'Last seen', cell: (s) => new Date(s.lastSeenAt).toLocaleString() },
        {
          header: 'Actions',
          hideHeader: true,
          cell: (s) =>
            s.current ? (
              <Badge variant="light">This session</Badge>
            ) : (
              <ConfirmButton
                label="Revoke"
                title="Revoke this session?"
                confirmLabel="Revoke"
                onConfirm={async () => {
                  await call(api.DELETE('/api/v1/me/sessions/{sessionId}', { params: { path: { sessionId: s.id } } }));
                  await queryClient.invalidateQueries({ queryKey: ['me', 'sessions'] });
                }}
              >
                The device signed in there will have to sign in again.
              </ConfirmButton>
            ),
        },
      ]}
    />
  );
  return (
    <Card withBorder component="section" aria-labelledby="profile-sessions">
      <Title order={2} size="h4" id="profile-sessions" mb="sm">
        My sessions
      </Title>
      {content}
    </Card>
  );
}

export function shortAgent(agent: string | null): string {
  if (!agent) return 'Unknown device';
  const browser = /(Edg|Chrome|Firefox|Safari)\/[\d.]+/.exec(agent)?.[0] ?? agent.slice(0, 40);
  const os = /\(([^;)]+)/.exec(agent)?.[1];
  return os ? `${browser} on ${os}` : browser;
}
