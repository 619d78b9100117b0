import { Anchor, Button, Center, Code, Group, Image, List, Paper, PasswordInput, Radio, Stack, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useNavigate, useParams, useSearchParams } from 'react-router';
import { api, ApiError, call, type LoginResponse, setSession, type SessionTokens } from '../api/client';
import type { paths } from '../api/schema';
import { ErrorState } from '../ui/states';
import { abortInteraction, consentToInteraction, finishInteraction, interactionOf, interactionSummary, SCOPE_WORDS } from './interaction';
import { safeReturnTo } from './return-to';

type Discovery = paths['/auth/sso/discover']['post']['responses'][200]['content']['application/json'];
type Authenticated = Extract<LoginResponse, { status: 'authenticated' }>;
type Enrollment = Extract<LoginResponse, { status: 'mfa_enrollment_required' }>['enrollment'];

type Step =
  | { kind: 'email' }
  | { kind: 'password'; discovery: Discovery | null; breakGlass: boolean }
  | { kind: 'mfa'; challengeToken: string }
  | { kind: 'enroll'; challengeToken: string; enrollment: Enrollment }
  | { kind: 'recovery'; codes: string[]; answer: Authenticated }
  | { kind: 'change'; passwordChangeToken: string }
  | { kind: 'accounts'; identityToken: string; accounts: Authenticated['accounts'] }
  | { kind: 'working'; label: string };

/**
 * The hosted sign-in (README "Signing in and sessions"): email first, then the way the email's domain signs in
 * (`POST /auth/sso/discover`), the password, the second factor (or its enrollment when the tenant requires MFA), a
 * forced password change, the account when there are several, and back to the return URL.
 * At `/t/<slug>/login` the page signs in into the tenant the slug names (as `?tenant=<id>` does at `/login`), so a
 * person who is a user of several tenants is never asked which one.
 */
export function LoginPage() {
  const [params] = useSearchParams();
  const { slug } = useParams();
  const navigate = useNavigate();
  const returnTo = safeReturnTo(params.get('returnTo'), window.location.origin);
  const tenant = useQuery({
    queryKey: ['tenant-by-slug', slug],
    queryFn: () => call(api.GET('/auth/tenants/by-slug/{slug}', { params: { path: { slug: slug ?? '' } } })),
    enabled: slug !== undefined,
    retry: false,
  });
  const tenantId = slug !== undefined ? tenant.data?.tenantId : (params.get('tenant') ?? undefined);
  // A sign-in an application started (OpenID Provider): the page ends by handing its session to the provider.
  const interaction = interactionOf(params.get('interaction'));
  const app = useQuery({ queryKey: ['interaction', interaction], queryFn: () => interactionSummary(interaction!), enabled: interaction !== null, retry: false });
  const [email, setEmail] = useState(() => params.get('login_hint') ?? '');
  const [step, setStep] = useState<Step>(() => (params.get('sso') === '1' && !params.get('error') ? { kind: 'working', label: 'Finishing single sign-on…' } : { kind: 'email' }));
  // Back from the identity provider with a refusal: `?error=<code>` (README "Signing in with SSO", step 6).
  const [error, setError] = useState<unknown>(() => {
    const code = params.get('error');
    return code ? new ApiError(code, '', 0) : null;
  });
  const [busy, setBusy] = useState(false);

  function finish(tokens: SessionTokens) {
    setSession(tokens);
    if (interaction !== null) {
      void run(async () => window.location.assign(await finishInteraction(interaction, tokens.accessToken)));
      return;
    }
    if (returnTo.startsWith('/console')) void navigate(returnTo, { replace: true });
    else window.location.assign(returnTo);
  }

  /** One place that reads every login answer, whichever step produced it. */
  function onAnswer(answer: LoginResponse) {
    setError(null);
    switch (answer.status) {
      case 'mfa_required':
        return setStep({ kind: 'mfa', challengeToken: answer.challengeToken });
      case 'mfa_enrollment_required':
        return setStep({ kind: 'enroll', challengeToken: answer.challengeToken, enrollment: answer.enrollment });
      case 'password_change_required':
        return setStep({ kind: 'change', passwordChangeToken: answer.passwordChangeToken });
      case 'authenticated':
        if (answer.recoveryCodes?.length) return setStep({ kind: 'recovery', codes: answer.recoveryCodes, answer: { ...answer, recoveryCodes: [] } });
        if (answer.session) return finish(answer.session);
        // Without a session (several accounts) the answer carries the identity token that picks one (README "Signing in").
        if (answer.identityToken) setStep({ kind: 'accounts', identityToken: answer.identityToken, accounts: answer.accounts });
    }
  }

  async function run(work: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  // Back from the identity provider: trade the one-time result cookie for the login answer, once.
  const ssoResultAsked = useRef(false);
  useEffect(() => {
    if (params.get('sso') !== '1' || params.get('error') || ssoResultAsked.current) return;
    ssoResultAsked.current = true;
    call(api.POST('/auth/sso/result')).then(onAnswer, (err: unknown) => {
      setError(err);
      setStep({ kind: 'email' });
    });
  }, []);

  function startSso(discovery: Discovery) {
    if (!discovery.connection) return;
    const start = new URL(discovery.connection.startUrl, window.location.origin);
    const back = new URLSearchParams({ sso: '1', returnTo, ...(interaction !== null ? { interaction } : {}) });
    start.searchParams.set('returnTo', `${slug !== undefined ? `/t/${encodeURIComponent(slug)}/login` : '/login'}?${back.toString()}`);
    window.location.assign(start.href);
  }

  const onEmail = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const discovery = await call(api.POST('/auth/sso/discover', { body: { email } }));
      setStep({ kind: 'password', discovery: discovery.method === 'sso' ? discovery : null, breakGlass: false });
    });
  };

  let body: ReactNode;
  switch (step.kind) {
    case 'working':
      body = <Text role="status">{step.label}</Text>;
      break;
    case 'email':
      body = (
        <form onSubmit={onEmail}>
          <Stack>
            <TextInput label="Email" type="email" autoComplete="username" required autoFocus value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <Button type="submit" loading={busy}>
              Continue
            </Button>
          </Stack>
        </form>
      );
      break;
    case 'password':
      body = (
        <PasswordStep
          email={email}
          discovery={step.discovery}
          breakGlass={step.breakGlass}
          busy={busy}
          onBreakGlass={() => setStep({ ...step, breakGlass: true })}
          onSso={startSso}
          onChangeEmail={() => setStep({ kind: 'email' })}
          onSubmit={(password) =>
            run(async () => {
              try {
                onAnswer(await call(api.POST('/auth/login', { body: { email, password, ...(tenantId ? { tenantId } : {}) } })));
              } catch (err) {
                // The domain requires SSO: show the way in the answer names instead of the password.
                const connection = err instanceof ApiError && err.code === 'sso_required' ? (err.details?.connection as Discovery['connection'] | undefined) : undefined;
                if (connection) setStep({ kind: 'password', discovery: { method: 'sso', connection, ssoRequired: true }, breakGlass: false });
                throw err;
              }
            })
          }
        />
      );
      break;
    case 'mfa':
      body = (
        <CodeForm
          intro="Enter the 6-digit code from your authenticator app, or one of your recovery codes."
          label="Authentication code"
          busy={busy}
          onSubmit={(code) => run(async () => onAnswer(await call(api.POST('/auth/login/mfa', { body: { challengeToken: step.challengeToken, code } }))))}
        />
      );
      break;
    case 'enroll':
      body = (
        <Stack>
          <Text size="sm">Your organization requires two-step verification. Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, Authy…), then enter the code it shows.</Text>
          <Center>
            <Image src={step.enrollment.qrCodeDataUrl} alt="QR code to add this account to an authenticator app" w={200} h={200} />
          </Center>
          <Text size="sm">
            Or enter this key by hand: <Code data-testid="totp-secret">{step.enrollment.secret}</Code>
          </Text>
          <CodeForm label="Code from the app" busy={busy} onSubmit={(code) => run(async () => onAnswer(await call(api.POST('/auth/login/mfa', { body: { challengeToken: step.challengeToken, code } }))))} />
        </Stack>
      );
      break;
    case 'recovery':
      body = (
        <Stack>
          <Text size="sm">Two-step verification is on. Save these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only now.</Text>
          <List data-testid="recovery-codes" spacing={2}>
            {step.codes.map((c) => (
              <List.Item key={c}>
                <Code>{c}</Code>
              </List.Item>
            ))}
          </List>
          <Button onClick={() => onAnswer(step.answer)}>I have saved them, continue</Button>
        </Stack>
      );
      break;
    case 'change':
      body = <NewPasswordForm autoFocus busy={busy} onSubmit={(newPassword) => run(async () => onAnswer(await call(api.POST('/auth/password/change', { body: { passwordChangeToken: step.passwordChangeToken, newPassword } }))))} />;
      break;
    case 'accounts':
      body = (
        <AccountPicker
          accounts={step.accounts}
          busy={busy}
          onPick={(accountId) =>
            run(async () => {
              finish(await call(api.POST('/auth/select-account', { body: { accountId }, headers: { authorization: `Bearer ${step.identityToken}` } })));
            })
          }
        />
      );
      break;
  }

  // A third-party application asks before it reads anything (first-party ones never ask).
  if (interaction !== null && app.data?.prompt === 'consent') {
    body = (
      <Stack>
        <Text size="sm">{app.data.clientName} asks to:</Text>
        <List spacing={2}>
          {app.data.scopes.map((scope) => (
            <List.Item key={scope}>{SCOPE_WORDS[scope] ?? scope}</List.Item>
          ))}
        </List>
        <Group>
          <Button loading={busy} onClick={() => void run(async () => window.location.assign(await consentToInteraction(interaction)))}>
            Allow
          </Button>
          <Button variant="default" disabled={busy} onClick={() => void run(async () => window.location.assign(await abortInteraction(interaction)))}>
            Deny
          </Button>
        </Group>
      </Stack>
    );
  } else if (interaction !== null && app.data) {
    body = (
      <Stack>
        {body}
        <Anchor component="button" type="button" size="sm" onClick={() => void run(async () => window.location.assign(await abortInteraction(interaction)))}>
          Cancel and return to {app.data.clientName}
        </Anchor>
      </Stack>
    );
  }
  if (interaction !== null && app.isError) body = <ErrorState error={app.error} title="This sign-in request cannot continue" />;

  // The tenant-specific page waits for its tenant, and offers no form for a slug no tenant has.
  if (slug !== undefined && tenant.isPending) body = <Text role="status">Loading…</Text>;
  if (slug !== undefined && tenant.isError) body = <ErrorState error={tenant.error} title="Unknown sign-in address" />;
  const title =
    interaction !== null && app.data?.prompt === 'consent'
      ? `Allow ${app.data.clientName}?`
      : step.kind === 'email' && app.data
        ? `Sign in to continue to ${app.data.clientName}`
        : step.kind === 'email' && tenant.data
          ? `Sign in to ${tenant.data.name}`
          : TITLES[step.kind];

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <Stack>
          <Title order={1} size="h2">
            {title}
          </Title>
          {error !== null && <ErrorState error={error} title="Sign-in did not work" />}
          {body}
        </Stack>
      </Paper>
    </Center>
  );
}

const TITLES: Record<Step['kind'], string> = {
  email: 'Sign in to Tessera',
  password: 'Sign in to Tessera',
  mfa: 'Two-step verification',
  enroll: 'Set up two-step verification',
  recovery: 'Your recovery codes',
  change: 'Choose a new password',
  accounts: 'Choose an account',
  working: 'Signing in',
};

function PasswordStep(props: {
  email: string;
  discovery: Discovery | null;
  breakGlass: boolean;
  busy: boolean;
  onBreakGlass: () => void;
  onSso: (d: Discovery) => void;
  onChangeEmail: () => void;
  onSubmit: (password: string) => Promise<void>;
}) {
  const [password, setPassword] = useState('');
  const { discovery } = props;
  // Require SSO: the password is for break-glass users only, behind an explicit link (README "Require SSO").
  const showPassword = !discovery?.ssoRequired || props.breakGlass;
  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" data-testid="login-email">
          {props.email}
        </Text>
        <Anchor component="button" type="button" size="sm" onClick={props.onChangeEmail}>
          Use another email
        </Anchor>
      </Group>
      {discovery && (
        <Button variant={showPassword ? 'light' : 'filled'} onClick={() => props.onSso(discovery)}>
          Continue with {discovery.connection?.name ?? 'single sign-on'}
        </Button>
      )}
      {showPassword ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void props.onSubmit(password);
          }}
        >
          <Stack>
            <PasswordInput label="Password" autoComplete="current-password" required autoFocus value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <Button type="submit" loading={props.busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      ) : (
        <Anchor component="button" type="button" size="sm" onClick={props.onBreakGlass}>
          Workspace owner? Sign in with password
        </Anchor>
      )}
    </Stack>
  );
}

function CodeForm(props: { intro?: string; label: string; busy: boolean; onSubmit: (code: string) => Promise<void> }) {
  const [code, setCode] = useState('');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSubmit(code.trim());
      }}
    >
      <Stack>
        {props.intro && <Text size="sm">{props.intro}</Text>}
        <TextInput label={props.label} autoComplete="one-time-code" inputMode="text" required autoFocus value={code} onChange={(e) => setCode(e.currentTarget.value)} />
        <Button type="submit" loading={props.busy}>
          Verify
        </Button>
      </Stack>
    </form>
  );
}

export function NewPasswordForm(props: { busy: boolean; onSubmit: (password: string) => Promise<void>; intro?: string; autoFocus?: boolean }) {
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const mismatch = repeat.length > 0 && repeat !== password;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!mismatch) void props.onSubmit(password);
      }}
    >
      <Stack>
        <Text size="sm">{props.intro ?? 'Your password must be changed before you continue. Use at least 8 characters; a phrase of several words works well.'}</Text>
        <PasswordInput label="New password" autoComplete="new-password" required autoFocus={props.autoFocus ?? false} value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
        <PasswordInput label="Repeat the new password" autoComplete="new-password" required value={repeat} error={mismatch ? 'The passwords differ.' : undefined} onChange={(e) => setRepeat(e.currentTarget.value)} />
        <Button type="submit" loading={props.busy} disabled={mismatch}>
          Change password
        </Button>
      </Stack>
    </form>
  );
}

function AccountPicker(props: { accounts: Authenticated['accounts']; busy: boolean; onPick: (id: string) => Promise<void> }) {
  const [choice, setChoice] = useState(props.accounts[0]?.id ?? '');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void props.onPick(choice);
      }}
    >
      <Stack>
        <Radio.Group label="Account" value={choice} onChange={setChoice}>
          <Stack gap="xs" mt="xs">
            {props.accounts.map((a) => (
              <Radio key={a.id} value={a.id} label={a.name} />
            ))}
          </Stack>
        </Radio.Group>
        <Button type="submit" loading={props.busy} disabled={!choice}>
          Continue
        </Button>
      </Stack>
    </form>
  );
}
