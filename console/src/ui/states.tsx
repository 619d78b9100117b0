import { Alert, Button, Center, Code, Group, Loader, Modal, Stack, Text, Title } from '@mantine/core';
import { type ReactNode, useState } from 'react';
import { ApiError } from '../api/client';
import { humanError, REASON_CODES } from '../errors';

/** The human message and next step of any error (docs/errors.md codes through one table, errors.ts). */
export function describeError(error: unknown): { code: string; message: string; next: string; reason?: string } {
  if (error instanceof ApiError) return { code: error.code, ...humanError(error.code, error.message), ...(REASON_CODES.has(error.code) && error.message ? { reason: error.message } : {}) };
  return { code: 'internal_error', ...humanError('internal_error') };
}

export function ErrorState({ error, title = 'Something went wrong', onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  const { code, message, next, reason } = describeError(error);
  return (
    <Alert color="red" title={title} role="alert" data-error-code={code}>
      <Stack gap="xs">
        <Text size="sm">{message}</Text>
        {reason && <Text size="sm" data-testid="error-reason">{reason}</Text>}
        <Text size="sm">{next}</Text>
        {onRetry && (
          <Group>
            <Button size="xs" variant="light" color="red" onClick={onRetry}>
              Try again
            </Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" aria-hidden />
        <Text size="sm">{label}</Text>
      </Group>
    </Center>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Center py="xl">
      <Text c="dimmed" size="sm">
        {children}
      </Text>
    </Center>
  );
}

/**
 * A destructive action behind a confirmation dialog (OWASP: destructive actions need an explicit second step).
 */
export function ConfirmButton(props: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  size?: 'xs' | 'sm';
  color?: string;
  disabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      setOpen(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button size={props.size ?? 'xs'} variant="light" color={props.color ?? 'red'} disabled={props.disabled} onClick={() => setOpen(true)}>
        {props.label}
      </Button>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={open} onClose={() => setOpen(false)} title={props.title} centered>
        <Stack>
          <Text size="sm">{props.children}</Text>
          {error !== null && <ErrorState error={error} title="Not done" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button color={props.color ?? 'red'} loading={busy} onClick={() => void confirm()}>
              {props.confirmLabel}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

/**
 * What a page reached by its URL shows to a user whose roles do not allow it: its name, that access is missing and
 * the permission to ask for. The navigation hides such pages; the API refuses their calls either way.
 */
export function NoAccess({ page, permission }: { page: string; permission: string }) {
  return (
    <Stack maw={700}>
      <Title order={1} size="h2">
        {page}
      </Title>
      <Alert color="yellow" title="You don't have access to this page" data-testid="no-access">
        <Text size="sm">
          It needs the permission <Code>{permission}</Code> in this account. Ask an administrator for a role that includes it, or switch to an account where you have it.
        </Text>
      </Alert>
    </Stack>
  );
}
