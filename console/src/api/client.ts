import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type SessionTokens = Schemas['SessionTokens'];
export type LoginResponse = Schemas['LoginResponse'];

/**
 * The session lives in memory only (OWASP HTML5 Security Cheat Sheet: no tokens in Web Storage, where any script of
 * the origin can read them). A reload restores it through the HttpOnly refresh cookie (`POST /auth/refresh`), which
 * no script can read.
 */
export interface Session {
  readonly accessToken: string;
  readonly accountId: string;
  readonly sessionId: string;
}

let current: Session | null = null;
const listeners = new Set<() => void>();

export function getSession(): Session | null {
  return current;
}
export function setSession(tokens: SessionTokens | null): void {
  current = tokens ? { accessToken: tokens.accessToken, accountId: tokens.accountId, sessionId: tokens.sessionId } : null;
  for (const listener of listeners) listener();
}
export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** An error answer of the API: `{error: {code, message, details?}}` (docs/errors.md). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null;
  return new ApiError(body?.error?.code ?? 'internal_error', body?.error?.message ?? response.statusText, response.status, body?.error?.details);
}

let refreshing: Promise<Session | null> | null = null;

/**
 * Rotates the refresh cookie for a new access token. Concurrent callers share one request: a refresh token is
 * single use, and a second use outside the grace window would end the session (reuse detection, RFC 9700 §4.14.2).
 */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= (async () => {
    try {
      const response = await fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin' });
      setSession(response.ok ? ((await response.json()) as SessionTokens) : null);
    } catch {
      setSession(null);
    }
    return current;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** fetch with the access token; an expired token (401) is refreshed once and the request retried. */
async function authorizedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const send = (req: Request, token: string | undefined) => {
    const headers = new Headers(req.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return fetch(new Request(req, { headers, credentials: 'same-origin' }));
  };
  const sentWith = current?.accessToken;
  const response = await send(request, sentWith);
  if (response.status !== 401 || !sentWith) return response;
  const renewed = current && current.accessToken !== sentWith ? current : await refreshSession();
  return renewed ? send(retry, renewed.accessToken) : response;
}

export const api = createClient<paths>({ baseUrl: '', fetch: authorizedFetch });

/** Unwraps an openapi-fetch answer: its data, or an ApiError with the server's code. */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await pending;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError('network_error', 'The server could not be reached.', 0);
  }
  const { data, error, response } = answer;
  if (!response.ok) {
    const body = error as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined;
    throw body?.error?.code ? new ApiError(body.error.code, body.error.message ?? '', response.status, body.error.details) : await errorOf(response);
  }
  return data as T;
}

/** A raw authorized GET (the audit export streams a file, not JSON). */
export async function download(path: string): Promise<Blob> {
  const response = await authorizedFetch(new Request(path));
  if (!response.ok) throw await errorOf(response);
  return response.blob();
}
