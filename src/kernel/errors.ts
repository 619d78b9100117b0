import { defineErrors } from './app-error.js';

/** Codes every part of the server may raise. Feature codes live in each feature's *.errors.ts. */
export const KernelErrors = defineErrors({
  invalid_request: { status: 400, message: 'The request is not valid.' },
  not_found: { status: 404, message: 'Not found.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type; send application/json.' },
  permission_denied: { status: 403, message: 'You do not have the permission this action needs.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  internal_error: { status: 500, message: 'Internal error. Quote the request id when reporting it.' },
  service_unavailable: { status: 503, message: 'The server is not ready or is shutting down; retry shortly.' },
});

declare module './app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof KernelErrors, true> {}
}
