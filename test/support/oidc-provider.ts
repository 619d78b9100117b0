import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, type Configuration } from 'oidc-provider';

/**
 * A real OpenID Provider for tests: oidc-provider 9 in-process on 127.0.0.1:<random port>, no UI. The test
 * queues who logs in next; the interaction URL completes login and consent without a page. Hooks rewrite the
 * next token, userinfo or discovery response (attack tests), and `rotateKeys` swaps the signing key.
 */
export interface TestOp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly keys: jose.JWK[];
  addAccount(sub: string, claims: Record<string, unknown>): void;
  queueLogin(sub: string, options?: { amr?: string[]; acr?: string }): void;
  rotateKeys(options?: { keepOld?: boolean }): Promise<string>;
  /**
   * Registers another client (e.g. `token_endpoint_auth_method: 'private_key_jwt'` with a `jwks_uri`), with this
   * OP's redirect URI unless given; a client of the same id is replaced. The provider is rebuilt, as `reload` does.
   */
  registerClient(metadata: ClientMetadata): void;
  /** Rebuilds the provider: what it cached of clients' `jwks_uri` is gone (an IdP whose JWKS cache expired). */
  reload(): void;
  /** fn(body) => body for the next 200 response of the path. */
  tamperNext(path: '/token' | '/me' | '/.well-known/openid-configuration', fn: (body: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>): void;
  /** The `client_assertion` of the last token request that carried one (private_key_jwt). */
  readonly lastClientAssertion: string | undefined;
  close(): Promise<void>;
}

export async function newSigningJwk(alg = 'RS256'): Promise<jose.JWK> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid: `k-${randomUUID().slice(0, 8)}`, alg, use: 'sig' };
}

export async function startOp(options: { redirectUri?: string; clientId?: string; clientSecret?: string; tls?: { key: Buffer | string; cert: Buffer | string }; thinIdToken?: boolean } = {}): Promise<TestOp> {
  const { redirectUri = 'http://127.0.0.1/auth/sso/oidc/callback', clientId = 'tessera-rp', clientSecret = 'rp-secret-rp-secret-rp-secret-32b', tls, thinIdToken = false } = options;
  const accounts = new Map<string, Record<string, unknown>>();
  const loginQueue: { sub: string; amr?: string[]; acr?: string }[] = [];
  const extraClients: ClientMetadata[] = [];
  let lastClientAssertion: string | undefined;
  const tamperQueue: { path: string; fn: (body: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>> }[] = [];

  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = tls ? https.createServer(tls, (req, res) => handler(req, res)) : http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let keys: jose.JWK[] = [await newSigningJwk()];
  let provider: Provider;
  const adapter = memoryAdapter();

  function build(): Provider {
    const configuration: Configuration = {
      clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256' }, ...extraClients],
      jwks: { keys: keys },
      cookies: { keys: ['test-cookie-key-1'] },
      // The OP's own state (interactions, codes, grants) in a store of this test OP, kept across reload(): the
      // same as oidc-provider's development adapter, without its warning in every test's output.
      adapter,
      // The test's clients publish their jwks_uri on 127.0.0.1, which oidc-provider's SSRF guard (a dispatcher
      // refusing special-use addresses) would refuse: a test OP fetches without it.
      fetch: (url, init) => {
        const { dispatcher: _dispatcher, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
        return globalThis.fetch(url, rest);
      },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
      claims: { sid: null, openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      conformIdTokenClaims: thinIdToken,
      acrValues: ['urn:test:mfa', 'urn:test:pwd'],
      findAccount: (_ctx, sub) => {
        const claims = accounts.get(sub);
        return claims ? { accountId: sub, claims: () => ({ sub, ...claims }) } : undefined;
      },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      renderError: (ctx, out, err) => {
        ctx.type = 'json';
        ctx.body = { ...out, detail: err instanceof Error ? err.message : undefined };
      },
    };
    const p = new Provider(issuer, configuration);
    p.use(async (ctx, next) => {
      await next();
      const assertion = (ctx.oidc as { params?: { client_assertion?: unknown } } | undefined)?.params?.client_assertion;
      if (ctx.path === '/token' && typeof assertion === 'string') lastClientAssertion = assertion;
      const hook = tamperQueue[0];
      if (hook && ctx.path === hook.path && ctx.status === 200) {
        tamperQueue.shift();
        ctx.body = await hook.fn(ctx.body as Record<string, unknown>);
      }
    });
    return p;
  }

  async function interaction(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const result: Record<string, unknown> = {};
    let accountId = details.session?.accountId;
    if (details.prompt.name === 'login') {
      const next = loginQueue.shift();
      if (!next) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'no queued test user' }, { mergeWithLastSubmission: false });
        return;
      }
      accountId = next.sub;
      result.login = { accountId, amr: next.amr ?? ['pwd'], ...(next.acr ? { acr: next.acr } : {}), remember: false };
    }
    const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: accountId!, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    const missing = (details.prompt.details as { missingOIDCClaims?: string[] }).missingOIDCClaims;
    if (missing) grant.addOIDCClaims(missing);
    result.consent = { grantId: await grant.save() };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }

  function install(): void {
    provider = build();
    const callback = provider.callback();
    handler = (req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        interaction(req, res).catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      } else void callback(req, res);
    };
  }
  install();

  return {
    issuer,
    clientId,
    clientSecret,
    get keys() {
      return keys;
    },
    get lastClientAssertion() {
      return lastClientAssertion;
    },
    addAccount: (sub, claims) => void accounts.set(sub, claims),
    queueLogin: (sub, o = {}) => void loginQueue.push({ sub, ...o }),
    async rotateKeys({ keepOld = false } = {}) {
      const key = await newSigningJwk();
      keys = keepOld ? [key, ...keys] : [key];
      install();
      return key.kid!;
    },
    registerClient(metadata) {
      const same = extraClients.findIndex((c) => c.client_id === metadata.client_id);
      if (same >= 0) extraClients.splice(same, 1);
      extraClients.push({ redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'RS256', ...metadata });
      install();
    },
    reload: () => install(),
    tamperNext: (path, fn) => void tamperQueue.push({ path, fn }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** oidc-provider's storage interface (its Adapter) over one Map per test OP; entries expire as the OP asks. */
function memoryAdapter() {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const live = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt < Date.now()) store.delete(key);
    return store.get(key)?.payload;
  };
  return class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      store.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
      if (payload.uid) store.set(`${this.model}:uid:${payload.uid}`, { payload, expiresAt: Date.now() + expiresIn * 1000 });
      if (payload.userCode) store.set(`${this.model}:userCode:${payload.userCode}`, { payload, expiresAt: Date.now() + expiresIn * 1000 });
      return Promise.resolve();
    }
    find(id: string): Promise<AdapterPayload | undefined> {
      return Promise.resolve(live(this.key(id)));
    }
    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return Promise.resolve(live(`${this.model}:uid:${uid}`));
    }
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return Promise.resolve(live(`${this.model}:userCode:${userCode}`));
    }
    consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    }
    destroy(id: string): Promise<void> {
      store.delete(this.key(id));
      return Promise.resolve();
    }
    revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
      return Promise.resolve();
    }
  };
}
