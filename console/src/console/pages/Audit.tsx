import { Alert, Badge, Button, Code, Group, Modal, Select, Stack, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, download, type Schemas } from '../../api/client';
import { Empty, ErrorState, Loading } from '../../ui/states';
import { usePermissions } from '../access';

type AuditEvent = Schemas['AuditEvent'];
interface Filters {
  actor: string;
  action: string;
  outcome: '' | 'success' | 'failure';
  from: string;
  to: string;
}
const EMPTY: Filters = { actor: '', action: '', outcome: '', from: '', to: '' };

/** The filters as the API takes them: only the ones set, times as ISO 8601 instants. */
function query(f: Filters) {
  const q: { actor?: string; action?: string; outcome?: 'success' | 'failure'; from?: string; to?: string } = {};
  if (f.actor.trim()) q.actor = f.actor.trim();
  if (f.action.trim()) q.action = f.action.trim();
  if (f.outcome) q.outcome = f.outcome;
  if (f.from) q.from = new Date(f.from).toISOString();
  if (f.to) q.to = new Date(f.to).toISOString();
  return q;
}

export function AuditPage() {
  const permissions = usePermissions();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [selected, setSelected] = useState<AuditEvent | null>(null);
  const events = useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET('/api/v1/audit/events', { params: { query: { ...query(filters), limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const rows = events.data?.pages.flatMap((p) => p.events) ?? [];

  let content;
  if (events.isPending) content = <Loading />;
  else if (events.isError) content = <ErrorState error={events.error} onRetry={() => void events.refetch()} />;
  else if (rows.length === 0) content = <Empty>No event matches these filters.</Empty>;
  else
    content = (
      <>
        <Table.ScrollContainer minWidth={800}>
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Details</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((e) => (
                <Table.Tr key={e.seq}>
                  <Table.Td>{new Date(e.occurredAt).toLocaleString()}</Table.Td>
                  <Table.Td>
                    <Code>{e.action}</Code>
                  </Table.Td>
                  <Table.Td>{e.actor.email ?? e.actor.id ?? e.actor.type}</Table.Td>
                  <Table.Td>
                    <Badge color={e.outcome === 'success' ? 'green' : 'red'} variant="light">
                      {e.outcome}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Button size="compact-xs" variant="subtle" onClick={() => setSelected(e)} aria-label={`Details of event ${e.seq}`}>
                      Details
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        {events.hasNextPage && (
          <Group>
            <Button variant="default" loading={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
              Load older events
            </Button>
          </Group>
        )}
      </>
    );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Audit log
        </Title>
      </Group>
      <ChainStatus />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <Group align="flex-end" wrap="wrap">
          <TextInput label="Actor" description="Email or id" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })} />
          <TextInput label="Action" description="Name or prefix, e.g. auth.login" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })} />
          <Select
            label="Outcome"
            description="Success or failure"
            data={[
              { value: '', label: 'Any' },
              { value: 'success', label: 'Success' },
              { value: 'failure', label: 'Failure' },
            ]}
            value={draft.outcome}
            allowDeselect={false}
            onChange={(v) => setDraft({ ...draft, outcome: (v ?? '') })}
          />
          <TextInput label="From" description="Local time" type="datetime-local" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />
          <TextInput label="To" description="Local time" type="datetime-local" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />
          <Button type="submit">Filter</Button>
          <Button
            variant="default"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
            }}
          >
            Clear
          </Button>
        </Group>
      </form>
      {permissions.has('audit.export') && <Export filters={filters} />}
      {content}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={selected !== null} onClose={() => setSelected(null)} title={selected ? `Event ${selected.seq}: ${selected.action}` : ''} size="lg">
        {selected && (
          <Stack gap="xs">
            <Text size="sm">Time: {selected.occurredAt}</Text>
            <Text size="sm">
              Actor: {selected.actor.type} {selected.actor.email ?? selected.actor.id ?? ''} {selected.actor.ip ? `from ${selected.actor.ip}` : ''}
            </Text>
            <Text size="sm">Target: {selected.target ? `${selected.target.type} ${selected.target.id}` : '—'}</Text>
            <Text size="sm">
              Outcome: {selected.outcome}
              {selected.errorCode ? ` (${selected.errorCode})` : ''}
            </Text>
            <Code block data-testid="event-details">
              {JSON.stringify(selected.details, null, 2)}
            </Code>
            <Text size="xs" c="dimmed">
              Hash {selected.hash}
            </Text>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}

type BreakReason = NonNullable<Schemas['AuditVerifyReport']['break']>['reason'];

/** What each kind of break means (the chain rule of README "Audit log": each event's hash covers it and the previous hash). */
const BREAK_KINDS: Record<BreakReason, string> = {
  hash_mismatch: 'the event was changed after it was written (its hash no longer matches its content)',
  prev_hash_mismatch: 'an event before it was removed or replaced (it does not link to the previous hash)',
  sequence_gap: 'events are missing (the sequence numbers have a gap)',
  time_reversed: 'the event is dated before the one preceding it',
  head_mismatch: 'the newest events were removed (the chain head does not match the last event)',
};

const events = (n: number) => `${n} ${n === 1 ? 'event' : 'events'}`;

/** The hash chain's verification (`GET /api/v1/audit/verify`): verified, or broken at event N and how; verified again on demand. */
function ChainStatus() {
  const chain = useQuery({ queryKey: ['audit', 'verify'], queryFn: () => call(api.GET('/api/v1/audit/verify')) });
  const again = (
    <Group>
      <Button size="xs" variant="light" loading={chain.isFetching} onClick={() => void chain.refetch()}>
        Verify now
      </Button>
    </Group>
  );
  if (chain.isPending) return <Loading label="Verifying the hash chain…" />;
  if (chain.isError) return <ErrorState error={chain.error} title="The hash chain could not be verified" onRetry={() => void chain.refetch()} />;
  const report = chain.data;
  const from = report.start.seq === 0 ? 'the first event' : `the retention checkpoint at event ${report.start.seq}`;
  return (
    <Alert
      color={report.ok ? 'green' : 'red'}
      variant="light"
      role={report.ok ? 'status' : 'alert'}
      title={report.ok ? 'Hash chain verified' : `Hash chain broken at event ${report.break?.seq ?? '?'}`}
      data-testid="chain-status"
      data-chain-ok={String(report.ok)}
    >
      <Stack gap="xs">
        {report.ok ? (
          <Text size="sm">
            {events(report.checked)} verified, from {from} to event {report.lastSeq}: none was changed, removed or reordered.
          </Text>
        ) : (
          <>
            <Text size="sm" data-testid="chain-break">
              Event {report.break?.seq}: {report.break ? BREAK_KINDS[report.break.reason] : 'unknown'} ({report.break?.reason}). {events(report.checked)} before it verified.
            </Text>
            <Text size="sm">The log was altered in the database. Keep an export, restore from a backup and investigate; the operator can run tessera audit verify.</Text>
          </>
        )}
        <Text size="xs">Checked {new Date(chain.dataUpdatedAt).toLocaleString()}</Text>
        {again}
      </Stack>
    </Alert>
  );
}

function Export({ filters }: { filters: Filters }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  async function save(format: 'json' | 'csv') {
    setBusy(format);
    setError(null);
    try {
      const params = new URLSearchParams({ ...query(filters), format });
      const blob = await download(`/api/v1/audit/export?${params.toString()}`);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `audit-events.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }
  return (
    <Stack gap="xs">
      <Group>
        <Text size="sm">Export the filtered events:</Text>
        <Button size="xs" variant="light" loading={busy === 'json'} onClick={() => void save('json')}>
          Export JSON
        </Button>
        <Button size="xs" variant="light" loading={busy === 'csv'} onClick={() => void save('csv')}>
          Export CSV
        </Button>
      </Group>
      {error !== null && <ErrorState error={error} title="Export failed" />}
    </Stack>
  );
}
