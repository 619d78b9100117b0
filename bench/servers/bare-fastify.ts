// The baseline: Fastify with no plugins, answering the same JSON as /healthz. Prints its URL on stdout.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/healthz', () => Promise.resolve({ status: 'ok' }));
app.get('/.well-known/jwks.json', () => Promise.resolve({ keys: [] }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
if (address && typeof address === 'object') process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
