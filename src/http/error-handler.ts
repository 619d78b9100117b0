import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, isAppError } from '../kernel/app-error.js';
import { KernelErrors } from '../kernel/errors.js';

/** The one error body: `{"error": {"code", "message", "requestId"}}`, plus `details` when the error names next steps. */
export function sendError(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  return reply.code(error.status).send({ error: { code: error.code, message: error.message, requestId: request.id, ...(error.details ? { details: error.details } : {}) } });
}

function validationMessage(error: FastifyError): string {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = error.validationContext ?? 'request';
    // The provider's element type names a fastify path its package exports do not resolve; it is fastify's own.
    const issues: readonly FastifySchemaValidationError[] = error.validation;
    return issues
      .map((issue) => {
        const where = issue.instancePath ? `${context}${issue.instancePath.replace(/\//g, '.')}` : context;
        return `${where}: ${issue.message}`;
      })
      .join('; ');
  }
  return error.message;
}

/** Maps every thrown error to the stable error model; nothing internal reaches the client. */
export function toAppError(error: FastifyError): AppError {
  if (isAppError(error)) return error;
  if (error.validation) return new AppError(KernelErrors.invalid_request, { message: validationMessage(error) });
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(KernelErrors.payload_too_large);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(KernelErrors.unsupported_media_type);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(KernelErrors.invalid_request, { message: "Body cannot be empty when content-type is 'application/json'." });
  }
  if (error.statusCode === 429) return new AppError(KernelErrors.rate_limited);
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError(KernelErrors.invalid_request, { message: `Malformed JSON body: ${error.message}` });
  }
  // Other 4xx errors raised by Fastify itself describe the client's request and are safe to show.
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500 && error.code?.startsWith('FST_')) {
    return new AppError(KernelErrors.invalid_request, { message: error.message });
  }
  return new AppError(KernelErrors.internal_error, { cause: error });
}

/** Logs a refused or failed request: internal failures with their cause, refusals with their code. */
export function logError(request: FastifyRequest, error: FastifyError, appError: AppError): void {
  if (appError.status >= 500) {
    request.log.error({ err: error, code: appError.code, detail: appError.detail, responseSerialization: isResponseSerializationError(error) }, 'request failed');
  } else {
    request.log.info({ code: appError.code, detail: appError.detail }, 'request refused');
  }
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    logError(request, error, appError);
    // RFC 9110 §10.2.3: a throttled refusal that knows how long the wait is says so.
    const retryAfter = (appError.detail as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (appError.status === 429 && typeof retryAfter === 'number' && retryAfter > 0) reply.header('retry-after', String(retryAfter));
    return sendError(reply, request, appError);
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, request, new AppError(KernelErrors.not_found, { message: `No route ${request.method} ${request.url.split('?')[0]}.` })));
}
