import { Button, Code, CopyButton, Group, Text } from '@mantine/core';

/** A value an administrator pastes elsewhere (an IdP's form, a DNS record): shown whole, copied with one click. */
export function CopyLine({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <Text size="sm" w={170} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <Code data-testid={testId} style={{ wordBreak: 'break-all' }}>
        {value}
      </Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button size="compact-xs" variant="subtle" onClick={copy} aria-label={`Copy ${label}`}>
            {copied ? 'Copied' : 'Copy'}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}
