import { AppShell, Button, Group, NavLink, Select, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { type ReactElement, useEffect, useState } from 'react';
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api, call, refreshSession, setSession } from '../api/client';
import { ErrorState, Loading, NoAccess } from '../ui/states';
import { useMe, useMyAccess, usePermissions, useSession } from './access';
import { AccessPage } from './pages/Access';
import { AuditPage } from './pages/Audit';
import { DomainsPage } from './pages/Domains';
import { GroupsPage } from './pages/Groups';
import { ProfilePage } from './pages/Profile';
import { RolesPage } from './pages/Roles';
import { SecurityPage } from './pages/Security';
import { SsoPage } from './pages/Sso';
import { ScimPage } from './pages/Scim';
import { SetupLinksPage } from './pages/SetupLinks';
import { AssignmentsPage } from './pages/Assignments';
import { OrganizationsPage } from './pages/Organizations';
import { ApiKeysPage } from './pages/ApiKeys';
import { ApplicationsPage } from './pages/Applications';
import { UsersPage } from './pages/Users';

/**
 * The console's pages and the permission each needs to be shown (the API checks again on every call). A page with
 * `deniedState` answers its URL with a "you don't have access" state for users without the permission; the others
 * send such users to their profile.
 */
const PAGES: readonly { path: string; label: string; permission: string | null; element: ReactElement; deniedState?: boolean }[] = [
  { path: 'profile', label: 'My profile', permission: null, element: <ProfilePage /> },
  { path: 'access', label: 'My access', permission: null, element: <AccessPage /> },
  { path: 'users', label: 'Users', permission: 'idp.view', element: <UsersPage /> },
  { path: 'groups', label: 'Groups', permission: 'idp.view', element: <GroupsPage /> },
  { path: 'domains', label: 'Domains', permission: 'domains.view', element: <DomainsPage /> },
  { path: 'sso', label: 'SSO connections', permission: 'sso.view', element: <SsoPage /> },
  { path: 'scim', label: 'SCIM directories', permission: 'scim.manage', element: <ScimPage /> },
  { path: 'organizations', label: 'Organizations', permission: 'organizations.view', element: <OrganizationsPage /> },
  { path: 'setup-links', label: 'Setup links', permission: 'sso.view', element: <SetupLinksPage /> },
  { path: 'roles', label: 'Roles', permission: 'roles.view', element: <RolesPage /> },
  { path: 'assignments', label: 'Role assignments', permission: 'access_grants.view', element: <AssignmentsPage /> },
  { path: 'applications', label: 'Applications', permission: 'applications.manage', element: <ApplicationsPage />, deniedState: true },
  { path: 'api-keys', label: 'API keys', permission: 'security.manage', element: <ApiKeysPage /> },
  { path: 'security', label: 'Security settings', permission: 'idp.view', element: <SecurityPage /> },
  { path: 'audit', label: 'Audit log', permission: 'audit.view', element: <AuditPage /> },
];

/** `/console/*`: restores the session from the refresh cookie on a reload, else sends the browser to sign in. */
export function ConsoleRoot() {
  const session = useSession();
  const location = useLocation();
  const [restoring, setRestoring] = useState(session === null);
  useEffect(() => {
    if (session !== null) return;
    let live = true;
    void refreshSession().then(() => live && setRestoring(false));
    return () => {
      live = false;
    };
    // Only on entering the console: a later sign-out navigates to /login itself.
  }, []);
  if (session) return <Shell />;
  if (restoring) return <Loading label="Opening the console…" />;
  return <Navigate to={`/login?${new URLSearchParams({ returnTo: location.pathname + location.search }).toString()}`} replace />;
}

function Shell() {
  const permissions = usePermissions();
  const me = useMe();
  const location = useLocation();
  const visible = PAGES.filter((p) => p.permission === null || permissions.has(p.permission));
  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={2} size="h4">
            Tessera
          </Title>
          <Group>
            <AccountSwitcher />
            <Text size="sm" data-testid="signed-in-as">
              {me.data?.email}
            </Text>
            <SignOut />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Console">
        {visible.map((p) => (
          <NavLink key={p.path} component={Link} to={`/console/${p.path}`} label={p.label} variant="filled" active={location.pathname.startsWith(`/console/${p.path}`)} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        {me.isError ? (
          <ErrorState error={me.error} onRetry={() => void me.refetch()} />
        ) : !permissions.ready ? (
          <Loading />
        ) : (
          <Routes>
            {visible.map((p) => (
              <Route key={p.path} path={`${p.path}/*`} element={p.element} />
            ))}
            {PAGES.filter((p) => p.deniedState && !visible.includes(p)).map((p) => (
              <Route key={p.path} path={`${p.path}/*`} element={<NoAccess page={p.label} permission={p.permission ?? ''} />} />
            ))}
            <Route path="*" element={<Navigate to="/console/profile" replace />} />
          </Routes>
        )}
      </AppShell.Main>
    </AppShell>
  );
}

/** The accounts the user may enter; choosing one starts a session there (`POST /auth/switch-account`). */
function AccountSwitcher() {
  const session = useSession();
  const access = useMyAccess();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const accounts = access.data?.accounts ?? [];
  if (accounts.length < 2) return accounts[0] ? <Text size="sm">{accounts[0].name}</Text> : null;
  return (
    <Group gap="xs">
      <Select
        aria-label="Account"
        size="xs"
        allowDeselect={false}
        data={accounts.map((a) => ({ value: a.accountId, label: a.name }))}
        value={session?.accountId ?? null}
        onChange={(accountId) => {
          if (!accountId || accountId === session?.accountId) return;
          setError(null);
          call(api.POST('/auth/switch-account', { body: { accountId } }))
            .then((tokens) => {
              setSession(tokens);
              queryClient.clear();
              void navigate('/console/profile');
            })
            .catch(setError);
        }}
      />
      {error !== null && <ErrorState error={error} title="Switching failed" />}
    </Group>
  );
}

function SignOut() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return (
    <Button
      size="xs"
      variant="default"
      onClick={() => {
        void call(api.POST('/auth/logout'))
          .catch(() => undefined)
          .then((answer) => {
            // A SAML session whose IdP has a logout URL answers { redirectTo }: the browser carries our signed
            // LogoutRequest to the IdP (SAML single logout), which sends it back to the sign-in page.
            const redirectTo = (answer as { redirectTo?: unknown } | undefined)?.redirectTo;
            // Leave the console first, so that it does not see the session end and ask to sign in again.
            if (typeof redirectTo === 'string') window.location.assign(redirectTo);
            else void navigate('/login', { replace: true });
            setSession(null);
            queryClient.clear();
          });
      }}
    >
      Sign out
    </Button>
  );
}
