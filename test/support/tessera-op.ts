import * as oidc from 'openid-client';
import { expect } from 'vitest';
import type { Engine } from '../../src/db/database.js';
import { startTestApp, type TestApp } from './app.js';
import { callApi } from './http.js';
import type { LoggedIn } from './login.js';
import { freePort } from './user-agent.js';

/**
 * Tessera as the OpenID Provider in tests: a server whose PUBLIC_URL (the issuer) is its own loopback address, a
 * real relying party (`openid-client` 6) against it, and a small cookie-keeping "browser" that follows the
 * authorization request through the interaction to the hosted sign-in's finish call, as the login page does.
 */
export async function startOpTestApp(engine: Engine, options: { consoleDir?: string } = {}): Promise<TestApp> {
  const port = await freePort();
  return startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}` }, ...options });
}

export interface RegisteredApp {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret: string | null;
  readonly accountId: string;
}

export async function registerApp(t: TestApp, admin: LoggedIn, body: Record<string, unknown>): Promise<RegisteredApp> {
  const res = await callApi<RegisteredApp & { error?: unknown }>(t, admin, 'POST', '/api/v1/applications', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** openid-client's view of Tessera for one application (discovery from the issuer, http allowed on loopback). */
export async function relyingParty(t: TestApp, app: RegisteredApp, auth?: oidc.ClientAuth): Promise<oidc.Configuration> {
  const clientAuth = auth ?? (app.clientSecret ? oidc.ClientSecretBasic(app.clientSecret) : oidc.None());
  return oidc.discovery(new URL(t.url), app.clientId, undefined, clientAuth, { execute: [oidc.allowInsecureRequests] });
}

/** A browser's cookies for one origin (name → value), kept across redirects. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

/** One browser request: no automatic redirects, cookies sent and kept. */
export async function browse(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie: jar.header() } });
  jar.store(response);
  return response;
}

/** Follows redirects on the server's origin until one leaves it (the application's callback) or a page answers. */
export async function followOnServer(t: TestApp, jar: CookieJar, url: string): Promise<{ response: Response; url: string }> {
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    if (!current.startsWith(t.url)) return { response: new Response(null, { status: 204 }), url: current };
    const response = await browse(jar, current);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
    // The hosted sign-in is a page: the test plays its part.
    if (location.startsWith('/login')) return { response, url: current };
    current = new URL(location, current).href;
  }
  throw new Error('too many redirects');
}

export interface AuthorizationRequest {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
}

export async function authorizationRequest(rp: oidc.Configuration, params: Record<string, string>): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp, { scope: 'openid email profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce, ...params });
  return { url, verifier, state, nonce };
}

/** Starts an authorization request in the browser: the interaction id and the sign-in URL it was sent to. */
export async function startInteraction(t: TestApp, jar: CookieJar, url: URL): Promise<{ uid: string; signIn: string }> {
  const { response, url: at } = await followOnServer(t, jar, url.href);
  expect(response.status, `stopped at ${at}`).toBe(303);
  const location = response.headers.get('location')!;
  expect(location, `stopped at ${at}`).toMatch(/^\/login\?interaction=/);
  return { uid: new URL(location, t.url).searchParams.get('interaction')!, signIn: location };
}

/** What the login page does once it holds a session: finish the interaction with it, then follow to the application. */
export async function finishWithSession(t: TestApp, jar: CookieJar, uid: string, session: { accessToken: string }): Promise<{ status: number; body: unknown; callback?: URL }> {
  const res = await browse(jar, `${t.url}/oidc/interaction/${uid}/login`, { method: 'POST', headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' }, body: '{}' });
  const body = (await res.json()) as { redirectTo?: string };
  if (res.status !== 200 || !body.redirectTo) return { status: res.status, body };
  const { url } = await followOnServer(t, jar, body.redirectTo);
  return { status: res.status, body, callback: new URL(url) };
}

/** The whole sign-in of a browser with a fresh Tessera session, up to the application's callback URL. */
export async function signIn(t: TestApp, jar: CookieJar, request: AuthorizationRequest, session: { accessToken: string }): Promise<URL> {
  const { uid } = await startInteraction(t, jar, request.url);
  const done = await finishWithSession(t, jar, uid, session);
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return done.callback!;
}
