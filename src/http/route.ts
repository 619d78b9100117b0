import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { AppError } from '../kernel/app-error.js';
import { KernelErrors } from '../kernel/errors.js';
import type { ApiKeyCaller, AuthContext, AuthGuards, ScimCaller } from './auth.js';
import { logError, toAppError } from './error-handler.js';


declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes HTML form posts (server.ts's form parser refuses them elsewhere). */
    formBody?: boolean;
  }
}

/**
 * A route is declared once (DESIGN §6 "defineRoute"): its method and URL, who may call it, the zod schemas that
 * validate its input and output and produce the OpenAPI document, and a handler that receives a typed context.
 * Handlers never see the database, the Fastify request or reply: they read `ctx`, call one service and return
 * the body. The few HTTP effects a route needs (a status, a header, the refresh cookie) go through `ctx.reply`.
 */

/** The response schema of a `204 No Content` answer: the handler returns `null`, Fastify sends no body (RFC 9110 §15.3.5). */
export const NoContent = z.null().describe('No content');

/**
 * Who may call a route: anyone, any live session, a live session whose user holds `permission`, an
 * application's API key as well as a session (`session-or-api-key`: the handler reads `ctx.caller`), or a
 * SCIM client with a bearer token of the directory the URL's `:directoryId` names (`scim-directory`: the
 * handler reads `ctx.directory`).
 */
export type RouteAuth = 'public' | 'session' | 'session-or-api-key' | 'scim-directory' | { readonly permission: string };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSchema {
  readonly tags: readonly string[];
  readonly summary: string;
  readonly description?: string;
  /** Left out of the OpenAPI document. */
  readonly hide?: boolean;
  readonly params?: z.ZodType;
  readonly querystring?: z.ZodType;
  readonly body?: z.ZodType;
  /** Left out for a route that answers without a body (a 204). */
  readonly response: Readonly<Record<number, z.ZodType>>;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** The request input, parsed by the route's schemas. */
export interface RouteInput<S extends RouteSchema> {
  readonly params: Parsed<S['params']>;
  readonly query: Parsed<S['querystring']>;
  readonly body: Parsed<S['body']>;
}

/** Where a request comes from: for audit events, throttling and the session list. */
export interface RequestMeta {
  readonly ip: string;
  readonly userAgent: string | null;
}

/** The signed-in caller as the audit log records it. */
export interface RequestActor {
  readonly type: 'user';
  readonly id: string;
  readonly ip: string;
  readonly userAgent: string | null;
}

/** The HTTP effects a handler may have besides its body. */
export interface ReplyControl {
  /** The status of the answer, when it is not the route's declared `status`. */
  status(code: number): void;
  header(name: string, value: string): void;
  setCookie(name: string, value: string, options: CookieSerializeOptions): void;
  clearCookie(name: string, options: CookieSerializeOptions): void;
}

export interface PublicContext<S extends RouteSchema> {
  readonly input: RouteInput<S>;
  readonly meta: RequestMeta;
  readonly headers: IncomingHttpHeaders;
  readonly cookies: Readonly<Record<string, string | undefined>>;
  readonly reply: ReplyControl;
  /** The query string as received (still percent-encoded): what a SAML HTTP-Redirect signature covers (saml-bindings §3.4.4.1). */
  readonly rawQuery: string;
}

export interface SessionContext<S extends RouteSchema> extends PublicContext<S> {
  readonly tenantId: string;
  readonly accountId: string;
  readonly userId: string;
  /** The caller, as the per-request session read returned it (DESIGN §3 step 2). */
  readonly principal: AuthContext;
  readonly actor: RequestActor;
}

/** Who called a `session-or-api-key` route: a signed-in user (its session) or an API key of an account. */
export type Caller = ({ readonly kind: 'session' } & AuthContext) | ApiKeyCaller;

/**
 * A body sent as it is, past the response schema, with its own content type: a stream (an export of any size,
 * in constant memory) or a JSON document serialized once ahead and served to every caller (the JWKS).
 */
export class RawBody {
  constructor(
    readonly payload: string | Readable,
    readonly contentType: string,
  ) {}
}


export interface CallerContext<S extends RouteSchema> extends PublicContext<S> {
  readonly caller: Caller;
}

export interface ScimContext<S extends RouteSchema> extends PublicContext<S> {
  readonly directory: ScimCaller;
}

export type RouteContext<S extends RouteSchema, A extends RouteAuth> = A extends 'public'
  ? PublicContext<S>
  : A extends 'session-or-api-key'
    ? CallerContext<S>
    : A extends 'scim-directory'
      ? ScimContext<S>
      : SessionContext<S>;

/**
 * What a handler may return: the input side of any of the route's response schemas, or a raw body; nothing
 * when it declares no response (a 204).
 */
type ResponseBody<S extends RouteSchema> =
  S['response'] extends Readonly<Record<number, z.ZodType>>
    ? [keyof S['response']] extends [never]
      ? void
      : { [K in keyof S['response']]: S['response'][K] extends z.ZodNull ? null | void : S['response'][K] extends z.ZodType ? z.input<S['response'][K]> : never }[keyof S['response']] | RawBody
    : void;

export interface RouteDefinition<S extends RouteSchema, A extends RouteAuth> {
  readonly method: HttpMethod;
  readonly url: string;
  readonly auth: A;
  readonly schema: S;
  /** The status of a successful answer (default 200). */
  readonly status?: number;
  /** Headers every answer of the route carries (e.g. `cache-control: no-store` on token endpoints). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Probes and key documents are fetched constantly: log them only when something goes wrong. */
  readonly logLevel?: 'warn';
  /**
   * Requests one client (its IP, per `TESSERA_TRUST_PROXY`) may make per minute on this instance; more answer
   * 429 `rate_limited` with `Retry-After`. For public routes whose every request costs a write or a lookup.
   */
  readonly perMinutePerIp?: number;
  /** A smaller cap on the body than the server's (TESSERA_BODY_LIMIT), enforced before parsing (413). */
  readonly bodyLimit?: number;
  /** Accepts an HTML form post (application/x-www-form-urlencoded) besides JSON: the SAML ACS only. */
  readonly formBody?: true;
  handler(ctx: RouteContext<S, A>): Promise<ResponseBody<S>>;
}

/** A declared route with its types erased, as a feature's route list holds it. */
export interface Route {
  readonly method: HttpMethod;
  readonly url: string;
  readonly auth: RouteAuth;
  readonly schema: RouteSchema;
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly logLevel?: 'warn';
  readonly perMinutePerIp?: number;
  readonly bodyLimit?: number;
  readonly formBody?: true;
  handler(ctx: SessionContext<RouteSchema>): Promise<unknown>;
}

/** Declares a route; the handler's context and return type follow from `auth` and `schema`. */
export function defineRoute<const S extends RouteSchema, const A extends RouteAuth>(definition: RouteDefinition<S, A>): Route {
  return definition as unknown as Route;
}

function userAgentOf(request: FastifyRequest): string | null {
  const ua = request.headers['user-agent'];
  return typeof ua === 'string' ? ua : null;
}

/**
 * One context per request; its methods live on the prototype so that building it costs one small object
 * (the authenticated hot path builds one per request).
 */
class Context {
  chosenStatus: number | undefined = undefined;
  constructor(
    private readonly request: FastifyRequest,
    private readonly fastifyReply: FastifyReply,
  ) {}
  get input() {
    const r = this.request;
    return { params: r.params, query: r.query, body: r.body };
  }
  get meta(): RequestMeta {
    return { ip: this.request.ip, userAgent: userAgentOf(this.request) };
  }
  get headers() {
    return this.request.headers;
  }
  get cookies() {
    return this.request.cookies;
  }
  get rawQuery(): string {
    const url = this.request.url;
    const at = url.indexOf('?');
    return at < 0 ? '' : url.slice(at + 1);
  }
  get reply(): ReplyControl {
    return this;
  }
  get caller(): Caller {
    return this.request.apiKey ?? { kind: 'session', ...this.request.auth! };
  }
  get directory(): ScimCaller {
    return this.request.scim!;
  }
  get principal(): AuthContext {
    return this.request.auth!;
  }
  get tenantId() {
    return this.request.auth!.tenantId;
  }
  get accountId() {
    return this.request.auth!.accountId;
  }
  get userId() {
    return this.request.auth!.userId;
  }
  get actor(): RequestActor {
    return { type: 'user', id: this.request.auth!.userId, ip: this.request.ip, userAgent: userAgentOf(this.request) };
  }
  status(code: number): void {
    this.chosenStatus = code;
  }
  header(name: string, value: string): void {
    void this.fastifyReply.header(name, value);
  }
  setCookie(name: string, value: string, options: CookieSerializeOptions): void {
    void this.fastifyReply.setCookie(name, value, options);
  }
  clearCookie(name: string, options: CookieSerializeOptions): void {
    void this.fastifyReply.clearCookie(name, options);
  }
}

function guardFor(auth: RouteAuth, guards: AuthGuards): preHandlerAsyncHookHandler | undefined {
  if (auth === 'public') return undefined;
  if (auth === 'session') return guards.requireSession;
  if (auth === 'session-or-api-key') return guards.requireSessionOrApiKey;
  if (auth === 'scim-directory') return guards.requireScimDirectory;
  return guards.requirePermission(auth.permission);
}

/** Mounts declared routes on the server: guard, schemas, then the handler with its context. */
export function registerRoutes(app: FastifyInstance, guards: AuthGuards, routes: readonly Route[]): void {
  for (const route of routes) {
    const { method, url, auth, schema, status = 200, headers, logLevel, perMinutePerIp, bodyLimit, formBody } = route;
    const guard = guardFor(auth, guards);
    // The route's headers go on every answer, a refusal by the guard or the handler included (token
    // endpoints' errors are `no-store` too, RFC 6749 §5.1), so they are set before the guard runs.
    const setHeaders = headers ? [async (_request: FastifyRequest, reply: FastifyReply) => void reply.headers(headers)] : [];
    const onRequest = [...setHeaders, ...(guard ? [guard] : [])];
    app.route({
      method,
      url,
      schema: schema as never,
      ...(logLevel ? { logLevel } : {}),
      ...(bodyLimit !== undefined ? { bodyLimit } : {}),
      // Route config: @fastify/rate-limit (registered with global: false) reads `rateLimit`; the form-body parser
      // reads `formBody`.
      ...(perMinutePerIp || formBody
        ? { config: { ...(formBody ? { formBody } : {}), ...(perMinutePerIp ? { rateLimit: { max: perMinutePerIp, timeWindow: 60_000 } } : {}) } }
        : {}),
      ...(onRequest.length > 0 ? { onRequest } : {}),
      handler: async (request, reply) => {
        const ctx = new Context(request, reply);
        const body = await route.handler(ctx);
        if (body instanceof RawBody) return reply.code(ctx.chosenStatus ?? status).type(body.contentType).send(body.payload);
        return reply.code(ctx.chosenStatus ?? status).send(body);
      },
    });
  }
}

/** How a protocol's routes answer: its media type and its error document (SCIM: RFC 7644 §3.12). */
export interface ProtocolFrame {
  /** URL prefix of the protocol's routes. */
  readonly prefix: string;
  /** Accepted as a JSON body besides `application/json`, and the content type of every answer. */
  readonly mediaType: string;
  /** The protocol's error document for an error of the one error model. */
  renderError(error: AppError): { readonly status: number; readonly body: unknown };
}

/**
 * Mounts a protocol's routes in their own Fastify scope: requests may send the protocol's media type, every
 * answer carries it, and every error — a refusal by a guard or a handler, a schema failure, an unknown URL
 * under the prefix — is mapped to the one error model first, then rendered in the protocol's error document.
 * The rest of the API keeps `{"error": …}`.
 */
export async function registerProtocolRoutes(app: FastifyInstance, guards: AuthGuards, routes: readonly Route[], frame: ProtocolFrame): Promise<void> {
  await app.register(
    (scope, _options, done) => {
      scope.addContentTypeParser(frame.mediaType, { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'ignore'));
      scope.addHook('onSend', (_request, reply, payload, done) => {
        void reply.header('content-type', `${frame.mediaType}; charset=utf-8`);
        done(null, payload);
      });
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const appError = toAppError(error);
        logError(request, error, appError);
        const { status, body } = frame.renderError(appError);
        return reply.code(status).send(body);
      });
      scope.setNotFoundHandler((request, reply) => {
        const { status, body } = frame.renderError(new AppError(KernelErrors.not_found, { message: `No route ${request.method} ${request.url.split('?')[0]}.` }));
        return reply.code(status).send(body);
      });
      registerRoutes(scope, guards, routes);
      done();
    },
    { prefix: frame.prefix },
  );
}
