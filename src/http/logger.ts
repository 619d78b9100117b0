import type { FastifyServerOptions } from 'fastify';

/** Query parameters whose values are secrets or one-time codes: never written to logs. */
const SECRET_PARAMS = /^(token|access_token|refresh_token|id_token|code|password|secret|client_secret|state|nonce|samlresponse|samlrequest|key|api_key)$/i;

/** The URL as logged: the path, and the query string with secret values replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SECRET_PARAMS.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

/**
 * pino options for Fastify: JSON lines, one request id per request, and secrets redacted wherever they
 * could appear (headers, bodies, any object logged with these property names).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.clientSecret',
  '*.privateKey',
  '*.masterKey',
  '*.apiKey',
  '*.code',
  'password',
  'token',
  'secret',
];

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req(request: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip, userAgent: request.headers?.['user-agent'] };
      },
    },
  };
}
