import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkPermissions, refusalOf, type TesseraAuth, type TesseraAuthContext } from './auth.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own augmentation point for `req`.
  namespace Express {
    interface Request {
      /** Set by the Tessera middleware once the bearer token is accepted. */
      tessera?: TesseraAuthContext;
    }
  }
}

function guard(auth: TesseraAuth, check: (context: TesseraAuthContext) => void): RequestHandler {
  return function tesseraGuard(req: Request, res: Response, next: NextFunction) {
    (req.tessera ? Promise.resolve(req.tessera) : auth.authenticate(req.headers.authorization))
      .then((context) => {
        req.tessera = context;
        check(context);
        next();
      })
      .catch((error: unknown) => {
        let refusal;
        try {
          refusal = refusalOf(error, auth.realm);
        } catch (unexpected) {
          next(unexpected);
          return;
        }
        res.status(refusal.status).set(refusal.headers).json(refusal.body);
      });
  };
}

/** Middleware: a valid access token is required (401 otherwise); its context is `req.tessera`. */
export const authenticate = (auth: TesseraAuth): RequestHandler => guard(auth, () => undefined);

/** Middleware: a valid access token carrying every one of `keys` (401 / 403 otherwise). */
export const requirePermission = (auth: TesseraAuth, ...keys: [string, ...string[]]): RequestHandler => guard(auth, (c) => checkPermissions(c, keys, 'all'));

/** Middleware: a valid access token carrying at least one of `keys` (401 / 403 otherwise). */
export const requireAnyPermission = (auth: TesseraAuth, ...keys: [string, ...string[]]): RequestHandler => guard(auth, (c) => checkPermissions(c, keys, 'any'));
