import { createHostsApp } from './app.js';

/** `tsx src/server.ts` with the environment of README.md. */
const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (see README.md)`);
  return value;
};

const port = Number(process.env.PORT ?? 4000);
const app = await createHostsApp({
  issuer: need('TESSERA_ISSUER'),
  baseUrl: process.env.APP_URL ?? `http://127.0.0.1:${port}`,
  clientId: need('TESSERA_CLIENT_ID'),
  clientSecret: need('TESSERA_CLIENT_SECRET'),
  apiAudience: need('API_AUDIENCE'),
  strict: process.env.STRICT !== 'false',
});
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`hosts dashboard on http://127.0.0.1:${port}\n`);
