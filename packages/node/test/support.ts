import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { type JWTPayload, SignJWT } from 'jose';
import type { TestApp } from '../../../test/support/app.js';
import type { TesseraAuth, TesseraAuthContext } from '../src/auth.js';
import * as expressGuards from '../src/express.js';
import * as fastifyGuards from '../src/fastify.js';

export const API_AUDIENCE = 'https://api.hosts.example';

/**
 * A token signed with Tessera's current signing key (the one its JWKS publishes), shaped like its access tokens;
 * `claims` and `header` override. For the cases a real sign-in cannot produce (another issuer, another type, a
 * permissions claim before the provider issues JWT access tokens).
 */
export async function signWithTesseraKey(t: TestApp, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const key = await t.app.services.keys.currentSigningKey();
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: randomUUID(), iss: t.url, aud: API_AUDIENCE, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

export type Framework = 'fastify' | 'express';

/**
 * The same small API on a real Fastify or Express server, guarded by the SDK's middleware:
 * GET /me (any valid token), GET /hosts (hosts.view), GET /deploy (patches.deploy and hosts.view),
 * GET /either (hosts.view or hosts.manage). Each answers the verified context.
 */
export async function startGuardedApi(framework: Framework, auth: TesseraAuth): Promise<{ url: string; close(): Promise<void> }> {
  const answer = (context: TesseraAuthContext | undefined) => ({ sub: context?.claims.sub, permissions: context?.permissions, introspected: context?.introspected });
  if (framework === 'fastify') {
    const app = Fastify();
    app.get('/me', { preHandler: fastifyGuards.authenticate(auth) }, (request) => Promise.resolve(answer(request.tessera)));
    app.get('/hosts', { preHandler: fastifyGuards.requirePermission(auth, 'hosts.view') }, (request) => Promise.resolve(answer(request.tessera)));
    app.get('/deploy', { preHandler: fastifyGuards.requirePermission(auth, 'patches.deploy', 'hosts.view') }, (request) => Promise.resolve(answer(request.tessera)));
    app.get('/either', { preHandler: fastifyGuards.requireAnyPermission(auth, 'hosts.view', 'hosts.manage') }, (request) => Promise.resolve(answer(request.tessera)));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  }
  const app = express();
  app.get('/me', expressGuards.authenticate(auth), (req, res) => void res.json(answer(req.tessera)));
  app.get('/hosts', expressGuards.requirePermission(auth, 'hosts.view'), (req, res) => void res.json(answer(req.tessera)));
  app.get('/deploy', expressGuards.requirePermission(auth, 'patches.deploy', 'hosts.view'), (req, res) => void res.json(answer(req.tessera)));
  app.get('/either', expressGuards.requireAnyPermission(auth, 'hosts.view', 'hosts.manage'), (req, res) => void res.json(answer(req.tessera)));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
