/**
 * The one error model. A code is `feature.reason` (or a protocol code the standards fix), maps to one
 * HTTP status and one public message, and is documented in docs/errors.md (a test enforces it).
 * `detail` is internal: it is logged, never sent.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

/**
 * Every error code of the server, as one union (`ErrorCode`). Each `*.errors.ts` adds its codes to this
 * registry by declaration merging, next to its `defineErrors` call, so `new AppError(code)` compiles only for a
 * declared code and a caller can `switch` over the codes exhaustively:
 *
 *     export const RbacErrors = defineErrors({ 'rbac.role_in_use': { status: 409, message: '…' } });
 *     declare module '../../kernel/app-error.js' {
 *       interface ErrorCodeRegistry extends Record<keyof typeof RbacErrors, true> {}
 *     }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface ErrorCodeRegistry {}
export type ErrorCode = Extract<keyof ErrorCodeRegistry, string>;

const registry = new Map<string, ErrorSpec>();

/** Declares a feature's error codes; every call adds them to the catalog that docs/errors.md must cover. */
export function defineErrors<const T extends Record<string, ErrorSpec>>(specs: T): { readonly [K in keyof T]: K } {
  const codes = {} as Record<string, string>;
  for (const [code, spec] of Object.entries(specs)) {
    const existing = registry.get(code);
    if (existing && (existing.status !== spec.status || existing.message !== spec.message)) {
      throw new Error(`error code ${code} is defined twice with different meanings`);
    }
    registry.set(code, spec);
    codes[code] = code;
  }
  return codes as { readonly [K in keyof T]: K };
}

/** Every code declared so far, with its status and public message. */
export function errorCatalog(): ReadonlyMap<string, ErrorSpec> {
  return registry;
}

export interface AppErrorOptions {
  /** Replaces the catalog's public message with a more precise one that is still safe to show. */
  message?: string;
  /** Internal detail for logs; never rendered to clients. */
  detail?: unknown;
  /** Public, structured next steps sent as `error.details` (e.g. where to sign in instead); never secrets. */
  details?: Readonly<Record<string, unknown>>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const spec = registry.get(code);
    if (!spec) throw new Error(`unknown error code ${code}: declare it with defineErrors()`);
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.detail = options.detail;
    this.details = options.details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
