import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
// In your own application: import … from '@tessera-iam/node' and '@tessera-iam/node/fastify'.
import { createIntrospector, createLogoutTokenVerifier, createTesseraAuth, type Introspector, TesseraError } from '../../../packages/node/src/index.js';
import { requirePermission } from '../../../packages/node/src/fastify.js';

export interface HostsAppConfig {
  /** Tessera's PUBLIC_URL. */
  readonly issuer: string;
  /** This application's own public URL (its redirect URI is `<baseUrl>/callback`). */
  readonly baseUrl: string;
  /** The application registered in Tessera (type `web`, with `permissions` in its scopes). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** The identifier of this app's API: the `aud` of the access tokens it accepts (the application's first resource). */
  readonly apiAudience: string;
  /**
   * Strict mode: every page view and API call asks Tessera (introspection) whether the sign-in is still live, so a
   * logout or a deactivation in Tessera ends this app's session on its next request. Off: the session lives until a
   * back-channel logout arrives or the access token expires.
   */
  readonly strict: boolean;
}

interface Session {
  readonly sub: string;
  readonly sid: string | undefined;
  readonly email: string | undefined;
  readonly idToken: string;
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: number;
}

interface Transaction {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly until: number;
}

const SESSION_COOKIE = 'hosts_session';
const TX_COOKIE = 'hosts_tx';
const TX_TTL_MS = 10 * 60_000;

/** The inventory this example guards: what `hosts.view` shows and `patches.deploy` changes. */
const HOSTS = [
  { id: 'web-1', os: 'Debian 12', pendingPatches: 3 },
  { id: 'db-1', os: 'Ubuntu 24.04', pendingPatches: 1 },
];

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;

/**
 * The example application: signs users in through Tessera (openid-client, code + PKCE, state, nonce), keeps its own
 * server-side sessions, serves an API whose routes check permissions with the SDK, ends its sessions on Tessera's
 * back-channel logout, and signs out at Tessera too (RP-initiated logout).
 */
export async function createHostsApp(config: HostsAppConfig): Promise<FastifyInstance> {
  const issuer = new URL(config.issuer);
  const insecure = issuer.protocol === 'http:';
  const client = await oidc.discovery(issuer, config.clientId, undefined, oidc.ClientSecretBasic(config.clientSecret), insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
  const introspection = { clientId: config.clientId, clientSecret: config.clientSecret };
  const auth = createTesseraAuth({ issuer: config.issuer, audience: config.apiAudience, ...(config.strict ? { introspection } : {}) });
  const introspector: Introspector | undefined = config.strict ? createIntrospector({ issuer: config.issuer, ...introspection }) : undefined;
  const logoutTokens = createLogoutTokenVerifier({ issuer: config.issuer, clientId: config.clientId });

  const sessions = new Map<string, Session>();
  const transactions = new Map<string, Transaction>();
  const secure = new URL(config.baseUrl).protocol === 'https:';
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure };

  const app = Fastify({ logger: false });
  await app.register(cookie);
  // OIDC Back-Channel Logout 1.0 §2.5: the logout token arrives as an application/x-www-form-urlencoded POST.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const endSession = (reply: FastifyReply, id: string | undefined) => {
    if (id) sessions.delete(id);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
  };

  /** The caller's session, still live at Tessera (strict mode) and with a current access token; else undefined. */
  async function liveSession(request: FastifyRequest, reply: FastifyReply): Promise<Session | undefined> {
    const id = request.cookies[SESSION_COOKIE];
    const session = id ? sessions.get(id) : undefined;
    if (!session) return undefined;
    if (session.expiresAt <= Date.now() + 10_000) {
      if (!session.refreshToken) return void endSession(reply, id);
      try {
        const tokens = await oidc.refreshTokenGrant(client, session.refreshToken);
        session.accessToken = tokens.access_token;
        session.refreshToken = tokens.refresh_token ?? session.refreshToken;
        session.expiresAt = Date.now() + (tokens.expires_in ?? 60) * 1000;
      } catch {
        // invalid_grant: the Tessera session behind the refresh token ended.
        return void endSession(reply, id);
      }
    }
    if (introspector && !(await introspector.introspect(session.accessToken)).active) return void endSession(reply, id);
    return session;
  }

  app.get('/', async (request, reply) => {
    const session = await liveSession(request, reply);
    const body = session
      ? `<p>Signed in as <strong>${escape(session.email ?? session.sub)}</strong>.</p><p><a href="/hosts">Hosts</a></p><form method="post" action="/logout"><button>Sign out</button></form>`
      : `<p>You are signed out.</p><p><a href="/login">Sign in with Tessera</a></p>`;
    return reply.type('text/html').send(page('Hosts dashboard', body));
  });

  app.get('/login', async (_request, reply) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const txId = randomBytes(32).toString('base64url');
    const now = Date.now();
    for (const [key, tx] of transactions) if (tx.until <= now) transactions.delete(key);
    transactions.set(txId, { verifier, state, nonce, until: now + TX_TTL_MS });
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: `${config.baseUrl}/callback`,
      scope: 'openid email profile permissions offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return reply.setCookie(TX_COOKIE, txId, { ...cookieOptions, maxAge: TX_TTL_MS / 1000 }).redirect(url.href, 303);
  });

  app.get('/callback', async (request, reply) => {
    const txId = request.cookies[TX_COOKIE];
    const tx = txId ? transactions.get(txId) : undefined;
    if (txId) transactions.delete(txId);
    reply.clearCookie(TX_COOKIE, cookieOptions);
    if (!tx || tx.until <= Date.now()) return reply.code(400).type('text/html').send(page('Sign-in failed', '<p>The sign-in expired. <a href="/login">Try again</a>.</p>'));
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(client, new URL(request.url, config.baseUrl), { pkceCodeVerifier: tx.verifier, expectedState: tx.state, expectedNonce: tx.nonce, idTokenExpected: true });
    } catch {
      return reply.code(400).type('text/html').send(page('Sign-in failed', '<p>Tessera did not sign you in. <a href="/login">Try again</a>.</p>'));
    }
    const claims = tokens.claims()!;
    const id = randomBytes(32).toString('base64url');
    sessions.set(id, {
      sub: claims.sub,
      sid: typeof claims.sid === 'string' ? claims.sid : undefined,
      email: typeof claims.email === 'string' ? claims.email : undefined,
      idToken: tokens.id_token!,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + (tokens.expires_in ?? 60) * 1000,
    });
    return reply.setCookie(SESSION_COOKIE, id, cookieOptions).redirect('/', 303);
  });

  // The page is a client of the app's own API, with the session's access token: the API decides, with the SDK.
  app.get('/hosts', async (request, reply) => {
    const session = await liveSession(request, reply);
    if (!session) return reply.redirect('/', 303);
    const res = await app.inject({ method: 'GET', url: '/api/hosts', headers: { authorization: `Bearer ${session.accessToken}` } });
    if (res.statusCode !== 200) {
      const code = (res.json<{ error?: { code?: string } }>().error?.code ?? 'error');
      return reply.code(res.statusCode).type('text/html').send(page('Hosts', `<p>Not allowed (${escape(code)}).</p>`));
    }
    const rows = res.json<{ hosts: typeof HOSTS }>().hosts.map((h) => `<li>${escape(h.id)} — ${escape(h.os)}, ${h.pendingPatches} pending</li>`).join('');
    return reply.type('text/html').send(page('Hosts', `<ul>${rows}</ul>`));
  });

  app.get('/api/hosts', { preHandler: requirePermission(auth, 'hosts.view') }, () => Promise.resolve({ hosts: HOSTS }));
  app.post('/api/hosts/:id/patch', { preHandler: requirePermission(auth, 'patches.deploy') }, (request) =>
    Promise.resolve({ host: (request.params as { id: string }).id, deployedBy: request.tessera!.claims.sub }),
  );

  // OIDC Back-Channel Logout 1.0 §2.8: validate the logout token, end the sessions it names, answer 200 (400 when
  // invalid), never cached.
  app.post('/backchannel-logout', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const token = (request.body as Record<string, string> | undefined)?.logout_token;
    try {
      const claims = await logoutTokens.verifyLogoutToken(token ?? '');
      for (const [id, session] of sessions) {
        if (claims.sid !== undefined ? session.sid === claims.sid : session.sub === claims.sub) sessions.delete(id);
      }
      return reply.code(200).send();
    } catch (error) {
      if (!(error instanceof TesseraError)) throw error;
      return reply.code(400).send({ error: 'invalid_request', error_description: error.code });
    }
  });

  // RP-initiated logout 1.0: end this app's session, then the Tessera session (id_token_hint names it).
  app.post('/logout', async (request, reply) => {
    const id = request.cookies[SESSION_COOKIE];
    const session = id ? sessions.get(id) : undefined;
    endSession(reply, id);
    if (!session) return reply.redirect('/', 303);
    const url = oidc.buildEndSessionUrl(client, { id_token_hint: session.idToken, post_logout_redirect_uri: `${config.baseUrl}/` });
    return reply.redirect(url.href, 303);
  });

  return app;
}
