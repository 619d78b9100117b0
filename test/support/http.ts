import type { TestApp } from './app.js';

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Sent as `Authorization: Bearer …`. */
  readonly token?: string;
  readonly cookie?: string;
  readonly headers?: Record<string, string>;
}

/** One JSON request to a server at `baseUrl`; the answer's body parsed, if any. Every suite's requests go through here. */
export async function requestJson<T = unknown>(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<JsonResponse<T> & { response: Response }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers, response };
}

/** A JSON request to the test app, as `who` (a bearer token) or anonymously. */
export function callApi<T = unknown>(t: TestApp, who: { accessToken: string } | null, method: string, path: string, body?: unknown): Promise<JsonResponse<T>> {
  return requestJson<T>(t.url, method, path, { body, token: who?.accessToken });
}

/** The stable error code of an error response (`{"error": {"code"}}`). */
export function errorCode(response: JsonResponse): string | undefined {
  return (response.body as { error?: { code?: string } } | null)?.error?.code;
}
