import { Button, Card, Group, NumberInput, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';
import { AuditSettingsSection } from './AuditSettings';
import { BreakGlassSection } from './Sso';
import { TenantSlugSection } from './TenantSlug';

type Settings = Schemas['TenantSecuritySettings'];

/** The tenant's security policy (README "Tenant security settings"): read with idp.view, changed by tenant administrators. */
export function SecurityPage() {
  const permissions = usePermissions();
  const settings = useQuery({ queryKey: ['security-settings'], queryFn: () => call(api.GET('/api/v1/tenant/security-settings')) });
  return (
    <Stack maw={700}>
      <Title order={1} size="h2">
        Security settings
      </Title>
      {settings.isPending ? <Loading /> : settings.isError ? <ErrorState error={settings.error} onRetry={() => void settings.refetch()} /> : <SettingsForm settings={settings.data} />}
      <TenantSlugSection />
      {permissions.has('sso.view') && <BreakGlassSection />}
      {permissions.has('audit.view') && <AuditSettingsSection />}
    </Stack>
  );
}

function SettingsForm({ settings }: { settings: Settings }) {
  const permissions = usePermissions();
  const canManage = permissions.has('idp.manage') && permissions.isTenantAdmin;
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    mfaRequired: settings.mfaRequired,
    sessionHours: settings.sessionLifetimeSeconds / 3600,
    refreshHours: settings.refreshLifetimeSeconds / 3600,
    domains: settings.allowedEmailDomains.join(', '),
    restrictEmailDomains: settings.restrictEmailDomains,
  });
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH('/api/v1/tenant/security-settings', {
          body: {
            mfaRequired: form.mfaRequired,
            sessionLifetimeSeconds: Math.round(form.sessionHours * 3600),
            refreshLifetimeSeconds: Math.round(form.refreshHours * 3600),
            allowedEmailDomains: form.domains.split(/[\s,]+/).filter(Boolean),
            restrictEmailDomains: form.restrictEmailDomains,
          },
        }),
      ),
    onSuccess: () => {
      notifications.show({ message: 'Security settings saved.' });
      void queryClient.invalidateQueries({ queryKey: ['security-settings'] });
    },
  });
  return (
    <Card withBorder>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          {!canManage && <Text size="sm">Only a tenant administrator can change these settings.</Text>}
          <Switch label="Require two-step verification" description="Users without it set it up at their next sign-in." checked={form.mfaRequired} disabled={!canManage} onChange={(e) => setForm({ ...form, mfaRequired: e.currentTarget.checked })} />
          <NumberInput label="Session lifetime (hours)" description="Absolute; refreshing never extends it. 5 minutes to 30 days." min={1 / 12} max={720} decimalScale={2} value={form.sessionHours} disabled={!canManage} onChange={(v) => setForm({ ...form, sessionHours: Number(v) || 0 })} />
          <NumberInput label="Refresh lifetime (hours)" description="A session unused this long ends; at most the session lifetime." min={1 / 12} max={720} decimalScale={2} value={form.refreshHours} disabled={!canManage} onChange={(v) => setForm({ ...form, refreshHours: Number(v) || 0 })} />
          <TextInput label="Allowed email domains" description="Comma-separated, e.g. example.com, example.org" value={form.domains} disabled={!canManage} onChange={(e) => setForm({ ...form, domains: e.currentTarget.value })} />
          <Switch label="Refuse users outside the allowed domains" checked={form.restrictEmailDomains} disabled={!canManage} onChange={(e) => setForm({ ...form, restrictEmailDomains: e.currentTarget.checked })} />
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          {canManage && (
            <Group>
              <Button type="submit" loading={save.isPending}>
                Save settings
              </Button>
            </Group>
          )}
        </Stack>
      </form>
    </Card>
  );
}
