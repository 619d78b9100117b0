import type { TestApp } from './app.js';
import { authHeaders } from './login.js';

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A JSON request to the test app, as `who` (a bearer token) or anonymously; the body parsed, if any. */
export async function callApi<T = unknown>(
  t: TestApp,
  who: { accessToken: string } | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = who ? authHeaders(who, body !== undefined) : body !== undefined ? { 'content-type': 'application/json' } : {};
  const response = await fetch(`${t.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}

/** The stable error code of an error response (`{"error": {"code"}}`). */
export function errorCode(response: JsonResponse): string | undefined {
  return (response.body as { error?: { code?: string } } | null)?.error?.code;
}
