import { Alert, Button, Card, Group, Modal, NumberInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { ConfirmButton, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

type AuditSettings = Schemas['AuditSettings'];

/**
 * Audit retention and the SIEM webhook (README "Audit log"): read with audit.view; changed by tenant administrators
 * holding security.manage. The webhook's signing secret is shown once, when the webhook is set, and never again.
 */
export function AuditSettingsSection() {
  const settings = useQuery({ queryKey: ['audit-settings'], queryFn: () => call(api.GET('/api/v1/audit/settings')) });
  return (
    <Card withBorder component="section" aria-labelledby="audit-settings-title">
      <Stack>
        <Title order={2} size="h4" id="audit-settings-title">
          Audit log retention and SIEM
        </Title>
        {settings.isPending ? <Loading /> : settings.isError ? <ErrorState error={settings.error} onRetry={() => void settings.refetch()} /> : <AuditSettingsForm settings={settings.data} />}
      </Stack>
    </Card>
  );
}

function AuditSettingsForm({ settings }: { settings: AuditSettings }) {
  const permissions = usePermissions();
  const canManage = permissions.has('security.manage') && permissions.isTenantAdmin;
  const queryClient = useQueryClient();
  const [days, setDays] = useState<number>(settings.retentionDays);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: (body: Schemas['AuditSettingsPatch']) => call(api.PATCH('/api/v1/audit/settings', { body })),
    onSuccess: (answer) => {
      const { webhookSecret, ...view } = answer;
      queryClient.setQueryData(['audit-settings'], view);
      void queryClient.invalidateQueries({ queryKey: ['audit-settings'] });
      if (webhookSecret) {
        setUrl('');
        setSecret(webhookSecret);
      } else notifications.show({ message: 'Audit settings saved.' });
    },
  });
  return (
    <Stack>
      {!canManage && <Text size="sm">Only a tenant administrator with the security.manage permission can change these settings.</Text>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate({ retentionDays: days });
        }}
      >
        <Group align="flex-end">
          <NumberInput
            label="Keep audit events (days)"
            description={`${settings.minRetentionDays}–${settings.maxRetentionDays} days; the default is ${settings.defaultRetentionDays} (7 years). Older events are removed; the chain still verifies.`}
            min={settings.minRetentionDays}
            max={settings.maxRetentionDays}
            allowDecimal={false}
            // The server states the bounds in its refusal (audit.invalid_settings); clamping would silently change the value.
            clampBehavior="none"
            value={days}
            disabled={!canManage}
            onChange={(v) => setDays(Number(v) || 0)}
            w={420}
          />
          {canManage && (
            <Button type="submit" loading={change.isPending && change.variables.retentionDays !== undefined} disabled={days === settings.retentionDays}>
              Save retention
            </Button>
          )}
        </Group>
      </form>
      <Stack gap="xs">
        <Text size="sm" fw={500}>
          SIEM webhook
        </Text>
        <Text size="sm">Every new audit event is POSTed as JSON to this URL, signed with HMAC-SHA256 in the X-Tessera-Signature header.</Text>
        <Text size="sm" data-testid="audit-webhook-url">
          {settings.webhook ? `Delivering to ${settings.webhook.url}` : 'No webhook: events are not streamed.'}
        </Text>
        {canManage && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              change.mutate({ webhook: { url: url.trim() } });
            }}
          >
            <Group align="flex-end">
              <TextInput
                label={settings.webhook ? 'New webhook URL' : 'Webhook URL'}
                description={settings.webhook ? 'Replacing the webhook also replaces its signing secret.' : 'An https:// URL of your SIEM'}
                type="url"
                required
                value={url}
                onChange={(e) => setUrl(e.currentTarget.value)}
                w={420}
              />
              <Button type="submit" loading={change.isPending && change.variables.webhook !== undefined} disabled={!url.trim()}>
                {settings.webhook ? 'Replace webhook' : 'Set webhook'}
              </Button>
              {settings.webhook && (
                <ConfirmButton size="sm" label="Remove webhook" title="Remove the SIEM webhook?" confirmLabel="Remove" onConfirm={() => change.mutateAsync({ webhook: null })}>
                  Events are no longer sent to {settings.webhook.url}; deliveries still pending are dropped.
                </ConfirmButton>
              )}
            </Group>
          </form>
        )}
      </Stack>
      {change.isError && <ErrorState error={change.error} title="Not saved" />}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={secret !== null} onClose={() => setSecret(null)} title="Webhook signing secret" centered size="lg">
        <Stack>
          <Alert color="yellow" title="Shown only once">
            Give it to your SIEM to verify each request. It is stored encrypted and cannot be shown again; set the webhook again for a new one.
          </Alert>
          {secret && <CopyLine label="Signing secret" value={secret} testId="audit-webhook-secret" />}
          <Group justify="flex-end">
            <Button onClick={() => setSecret(null)}>I have copied it</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
