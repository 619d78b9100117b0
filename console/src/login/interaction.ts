import { ApiError } from '../api/client';

/**
 * A sign-in an application started at Tessera's OpenID Provider (docs/openid-provider.md): the authorization
 * request sends the browser to `/login?interaction=<uid>`; once the page holds a Tessera session it finishes the
 * interaction with it and follows the provider back to the application. These are the provider's interaction routes,
 * not the JSON API (they live beside oidc-provider's cookies), so they are called with fetch.
 */
const UID = /^[A-Za-z0-9_-]{10,64}$/;

export interface InteractionSummary {
  readonly uid: string;
  readonly prompt: string;
  readonly clientName: string;
  readonly firstParty: boolean;
  readonly scopes: string[];
  readonly loginHint: string | null;
}

/** The interaction id of the page's address, when it is one. */
export function interactionOf(raw: string | null): string | null {
  return raw && UID.test(raw) ? raw : null;
}

async function post(path: string, accessToken?: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) }, body: '{}' });
  } catch {
    throw new ApiError('network_error', 'The server could not be reached.', 0);
  }
  const body = (await response.json().catch(() => null)) as { redirectTo?: string; error?: { code?: string; message?: string } } | null;
  if (!response.ok || !body?.redirectTo) throw new ApiError(body?.error?.code ?? 'internal_error', body?.error?.message ?? '', response.status);
  return body.redirectTo;
}

export async function interactionSummary(uid: string): Promise<InteractionSummary> {
  const response = await fetch(`/oidc/interaction/${uid}/details`, { credentials: 'same-origin' });
  const body = (await response.json().catch(() => null)) as (InteractionSummary & { error?: { code?: string; message?: string } }) | null;
  if (!response.ok || !body) throw new ApiError(body?.error?.code ?? 'internal_error', body?.error?.message ?? '', response.status);
  return body;
}

/** Finishes the interaction with the page's new session; the browser goes where the provider says. */
export const finishInteraction = (uid: string, accessToken: string) => post(`/oidc/interaction/${uid}/login`, accessToken);
export const consentToInteraction = (uid: string) => post(`/oidc/interaction/${uid}/consent`);
export const abortInteraction = (uid: string) => post(`/oidc/interaction/${uid}/abort`);

/** What a scope lets the application read, in words. */
export const SCOPE_WORDS: Readonly<Record<string, string>> = {
  openid: 'Know who you are',
  email: 'Your email address',
  profile: 'Your name',
  permissions: 'Your permissions in the account',
  offline_access: 'Stay signed in while you are away',
};
