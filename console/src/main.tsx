import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import { type CSSVariablesResolver, createTheme, defaultVariantColorsResolver, MantineProvider, type VariantColorsResolver } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { ApiError } from './api/client';
import { ConsoleRoot } from './console/Shell';
import { LoginPage } from './login/LoginPage';
import { SetupPage } from './setup/SetupPage';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal (4xx) will not change by asking again; a network error or a 5xx may.
      retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
      refetchOnWindowFocus: false,
    },
  },
});

/**
 * WCAG 2.1 AA contrast (1.4.3, 4.5:1 for small text): Mantine's defaults put shade-6 text on tinted backgrounds
 * (light and subtle variants: badges, navigation, secondary buttons) and a gray-6 "dimmed" text, both under 4.5:1 on
 * white. Filled colors use shade 8, tinted variants the page's text color, dimmed text gray-7.
 */
const variantColorResolver: VariantColorsResolver = (input) => {
  const colors = defaultVariantColorsResolver(input);
  if (input.variant === 'light') return { ...colors, color: 'var(--mantine-color-black)' };
  if (input.variant === 'subtle') return { ...colors, color: 'var(--mantine-color-blue-9)' };
  return colors;
};
// A field's error (its message, text and border) in red-8 too: Mantine's light red-6 is under 4.5:1 on white.
const cssVariablesResolver: CSSVariablesResolver = () => ({ variables: {}, light: { '--mantine-color-dimmed': 'var(--mantine-color-gray-7)', '--mantine-color-error': 'var(--mantine-color-red-8)' }, dark: {} });
const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: 8,
  variantColorResolver,
  // Icon-only close buttons (modals, notifications) need a name for screen readers (WCAG 4.1.2).
  components: { CloseButton: { defaultProps: { 'aria-label': 'Close' } } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver}>
      <Notifications />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/t/:slug/login" element={<LoginPage />} />
            <Route path="/setup" element={<SetupPage />} />
            <Route path="/console/*" element={<ConsoleRoot />} />
            <Route path="*" element={<Navigate to="/console" replace />} />
          </Routes>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
