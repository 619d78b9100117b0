import { Button, Card, Group, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { CopyLine } from '../../ui/copy';
import { ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

/** The tenant's own sign-in address, `/t/<slug>/login` (README "Tenant-specific sign-in URL"). */
export function signInUrl(slug: string): string {
  return `${window.location.origin}/t/${slug}/login`;
}

/** The tenant's slug: read with idp.view, changed by tenant administrators with idp.manage (the old address stops working). */
export function TenantSlugSection() {
  const tenant = useQuery({ queryKey: ['tenant'], queryFn: () => call(api.GET('/api/v1/tenant')) });
  return (
    <Card withBorder component="section" aria-labelledby="tenant-signin-title">
      <Stack>
        <Title order={2} size="h4" id="tenant-signin-title">
          Sign-in address
        </Title>
        {tenant.isPending ? <Loading /> : tenant.isError ? <ErrorState error={tenant.error} onRetry={() => void tenant.refetch()} /> : <SlugForm tenant={tenant.data} />}
      </Stack>
    </Card>
  );
}

function SlugForm({ tenant }: { tenant: { id: string; name: string; slug: string } }) {
  const permissions = usePermissions();
  const canManage = permissions.has('idp.manage') && permissions.isTenantAdmin;
  const queryClient = useQueryClient();
  const [slug, setSlug] = useState(tenant.slug);
  const save = useMutation({
    mutationFn: () => call(api.PATCH('/api/v1/tenant', { body: { slug: slug.trim() } })),
    onSuccess: (t) => {
      setSlug(t.slug);
      notifications.show({ message: `The sign-in address is now ${signInUrl(t.slug)}.` });
      void queryClient.invalidateQueries({ queryKey: ['tenant'] });
    },
  });
  return (
    <Stack>
      <Text size="sm">People of {tenant.name} sign in at this address; it never asks which workspace they belong to.</Text>
      <CopyLine label="Sign-in URL" value={signInUrl(tenant.slug)} testId="tenant-signin-url" />
      {canManage ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Stack>
            <TextInput
              label="Slug"
              description="2–63 lowercase letters, digits and hyphens. Changing it stops the old address at once."
              required
              maxLength={63}
              value={slug}
              onChange={(e) => setSlug(e.currentTarget.value)}
            />
            {save.isError && <ErrorState error={save.error} title="Slug not changed" />}
            <Group>
              <Button type="submit" loading={save.isPending} disabled={slug.trim() === tenant.slug || !slug.trim()}>
                Change slug
              </Button>
            </Group>
          </Stack>
        </form>
      ) : (
        <Text size="sm">Only a tenant administrator can change the slug.</Text>
      )}
    </Stack>
  );
}
