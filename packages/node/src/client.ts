import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './api-schema.js';
import { TesseraApiError, TesseraError } from './errors.js';

export type { paths } from './api-schema.js';
export type TesseraClient = Client<paths>;

export interface RetryOptions {
  /** Retries after the first attempt (default 2, at most 5). */
  readonly retries?: number;
  /** First backoff delay when the answer names no Retry-After (ms, default 200; doubled each time, with jitter). */
  readonly baseDelayMs?: number;
  /** No single wait is longer: a Retry-After beyond it ends the retries (ms, default 10 s). */
  readonly maxDelayMs?: number;
}

export interface TesseraClientOptions {
  /** Tessera's base URL (`PUBLIC_URL`). */
  readonly baseUrl: string;
  /** A fixed bearer token (an API key, or an access token), or… */
  readonly token?: string;
  /** …a function that returns a current one, called before every attempt (refresh it there). */
  readonly getToken?: () => string | Promise<string>;
  readonly retry?: RetryOptions;
  readonly fetch?: (request: Request) => Promise<Response>;
}

/**
 * RFC 9110 §9.2.2: only idempotent methods are repeated; a POST or PATCH that failed may still have taken effect.
 * 502/503/504 and network errors are the failures another attempt can fix (a gateway or an instance going away);
 * 429 is not retried: its Retry-After is the caller's to honour.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRIABLE = new Set([502, 503, 504]);

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fetch under the typed client: authorization, bounded retries, and Tessera's error body as a TesseraApiError. */
export function createTesseraFetch(options: TesseraClientOptions): (request: Request) => Promise<Response> {
  if (options.token !== undefined && options.getToken) throw new TesseraError('configuration_invalid', 'Pass token or getToken, not both.');
  const retries = Math.min(Math.max(options.retry?.retries ?? 2, 0), 5);
  const baseDelay = options.retry?.baseDelayMs ?? 200;
  const maxDelay = options.retry?.maxDelayMs ?? 10_000;
  const fetchImpl = options.fetch ?? ((request: Request) => fetch(request));

  return async (request) => {
    const canRetry = IDEMPOTENT.has(request.method.toUpperCase());
    for (let attempt = 0; ; attempt++) {
      const outgoing = request.clone();
      const token = options.getToken ? await options.getToken() : options.token;
      if (token !== undefined) outgoing.headers.set('authorization', `Bearer ${token}`);
      let response: Response | undefined;
      let networkError: unknown;
      try {
        response = await fetchImpl(outgoing);
      } catch (error) {
        networkError = error;
      }
      const retriable = canRetry && attempt < retries && (response === undefined || RETRIABLE.has(response.status));
      if (retriable) {
        const backoff = Math.random() * baseDelay * 2 ** attempt;
        const wait = response ? (retryAfterMs(response.headers.get('retry-after')) ?? backoff) : backoff;
        if (wait <= maxDelay) {
          await response?.body?.cancel();
          await sleep(wait);
          continue;
        }
      }
      if (!response) throw networkError;
      if (!response.ok) throw await apiErrorOf(response);
      return response;
    }
  };
}

async function apiErrorOf(response: Response): Promise<TesseraApiError> {
  const text = await response.text().catch(() => '');
  let body: { error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown } } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  const code = typeof error?.code === 'string' ? error.code : `http_${response.status}`;
  const message = typeof error?.message === 'string' ? error.message : `Tessera answered HTTP ${response.status}.`;
  return new TesseraApiError(response.status, code, message, typeof error?.requestId === 'string' ? error.requestId : undefined, error?.details);
}

/**
 * The typed REST client of Tessera's API (`/api/v1/*`, types generated from its OpenAPI document). An error answer
 * rejects with a `TesseraApiError` carrying the error catalog's `code`; `data` is always set on success.
 *
 *   const tessera = createTesseraClient({ baseUrl, token: process.env.TESSERA_API_KEY });
 *   const { data } = await tessera.GET('/api/v1/me/access');
 */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/$/, ''), fetch: createTesseraFetch(options) });
}
