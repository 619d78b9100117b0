import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engines } from '../../../test/support/databases.js';
import { startTestServices, type TestServices } from '../../../test/support/app.js';
import { newId } from '../../kernel/ids.js';
import { addressRefusal } from '../../net/outbound-network.js';

// The SIEM webhook's URL comes from a tenant administrator: delivery goes through the outbound network guard
// (OWASP SSRF Prevention Cheat Sheet, "network layer"), the same rule as SSO issuers, with the webhook's own operator
// settings (TESSERA_WEBHOOK_ALLOW_LOOPBACK, TESSERA_WEBHOOK_PRIVATE_NETWORKS). A refused address is a failed
// delivery whose recorded reason names the setting, retried like any other failure.

const operator = { type: 'system', id: 'cli' } as const;

/** A receiver on `host` that records what it is sent; `answer` chooses the response. */
async function receiver(host: string, answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end()) {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return { hits, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A non-loopback address of this machine in private or reserved space (most hosts and CI runners have one). */
const privateAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal && addressRefusal(i.address, { allowLoopback: true, privateNetworks: [] }) !== undefined)?.address;

describe.each(engines())('audit webhook network guard [%s]', (engine) => {
  const opened: TestServices[] = [];
  const receivers: { close(): Promise<void> }[] = [];
  async function services(env: Record<string, string>): Promise<TestServices> {
    const s = await startTestServices(engine, { env });
    opened.push(s);
    return s;
  }
  async function listen(...args: Parameters<typeof receiver>) {
    const r = await receiver(...args);
    receivers.push(r);
    return r;
  }
  async function tenantWithWebhook(s: TestServices, url: string): Promise<string> {
    const tenant = newId();
    await s.database.db.tenantWork(tenant, (tx) => s.services.tenants.createTenantWithAccount(tx, tenant, { tenantName: `SIEM ${tenant.slice(-8)}`, accountName: 'Main' }));
    await s.services.audit.setWebhook(tenant, operator, { url, secret: 'a-secret-of-the-receiver-0123456789' });
    return tenant;
  }
  async function outbox(s: TestServices, tenant: string) {
    return s.database.db.tenantWork(tenant, (tx) => tx.selectFrom('audit_outbox').select(['seq', 'attempts', 'last_error']).orderBy('seq').execute());
  }

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  afterAll(async () => {
    for (const r of receivers.splice(0)) await r.close();
  });

  it('refuses a loopback receiver (literal or a name resolving to it) unless TESSERA_WEBHOOK_ALLOW_LOOPBACK is set', async () => {
    const siem = await listen('127.0.0.1');
    const strict = await services({});
    for (const host of ['127.0.0.1', 'localhost']) {
      const tenant = await tenantWithWebhook(strict, `http://${host}:${siem.port}/hook?token=receiver-token-1`);
      expect(await strict.services.audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
      const [pending] = await outbox(strict, tenant);
      expect(pending?.attempts).toBe(1);
      expect(pending?.last_error).toMatch(/^refused: .*loopback address.*TESSERA_WEBHOOK_ALLOW_LOOPBACK/);
      // The recorded reason carries neither the receiver's token nor the signing secret.
      expect(pending!.last_error).not.toMatch(/receiver-token-1|a-secret-of-the-receiver/);
    }
    expect(siem.hits).toEqual([]);

    const allowed = await services({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'true' });
    const tenant = await tenantWithWebhook(allowed, `http://127.0.0.1:${siem.port}/hook`);
    expect(await allowed.services.audit.deliverOutbox()).toEqual({ delivered: 1, failed: 0 });
    expect(siem.hits).toEqual(['/hook']);
    expect(await outbox(allowed, tenant)).toEqual([]);
  });

  it('refuses private and link-local literals (cloud metadata), also with loopback allowed; a refusal is retried with backoff', async () => {
    const s = await services({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'true' });
    const tenant = await tenantWithWebhook(s, 'http://169.254.169.254/latest/meta-data/');
    expect(await s.services.audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
    expect(await outbox(s, tenant)).toMatchObject([{ attempts: 1, last_error: 'refused: 169.254.169.254: 169.254.169.254 is a private or reserved address (allow its network with TESSERA_WEBHOOK_PRIVATE_NETWORKS)' }]);
    s.clock.advance(5_000);
    expect(await s.services.audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
    expect(await outbox(s, tenant)).toMatchObject([{ attempts: 2 }]);

    const other = await tenantWithWebhook(s, 'https://[::ffff:10.1.2.3]/hook');
    await s.services.audit.deliverOutbox();
    expect((await outbox(s, other))[0]?.last_error).toMatch(/^refused: .*TESSERA_WEBHOOK_PRIVATE_NETWORKS/);
  });

  it.skipIf(privateAddress === undefined)('delivers to a private address only when TESSERA_WEBHOOK_PRIVATE_NETWORKS lists its network', async () => {
    const siem = await listen(privateAddress!);
    const url = `http://${privateAddress}:${siem.port}/internal-siem`;
    const strict = await services({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'true', TESSERA_WEBHOOK_PRIVATE_NETWORKS: '10.250.0.0/16' });
    const refused = await tenantWithWebhook(strict, url);
    expect(await strict.services.audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
    expect((await outbox(strict, refused))[0]?.last_error).toMatch(/^refused: .*private or reserved address/);
    expect(siem.hits).toEqual([]);

    const listed = await services({ TESSERA_WEBHOOK_PRIVATE_NETWORKS: `10.250.0.0/16,${privateAddress}/32` });
    const tenant = await tenantWithWebhook(listed, url);
    expect(await listed.services.audit.deliverOutbox()).toEqual({ delivered: 1, failed: 0 });
    expect(siem.hits).toEqual(['/internal-siem']);
    expect(await outbox(listed, tenant)).toEqual([]);
  });

  it('never follows a redirect: a receiver answering 3xx towards an internal host is a failed delivery', async () => {
    const internal = await listen('127.0.0.1');
    const bouncer = await listen('127.0.0.1', (res) => res.writeHead(307, { location: `http://127.0.0.1:${internal.port}/admin/delete-everything` }).end());
    const s = await services({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'true' });
    const tenant = await tenantWithWebhook(s, `http://127.0.0.1:${bouncer.port}/hook`);
    expect(await s.services.audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
    expect(await outbox(s, tenant)).toMatchObject([{ attempts: 1, last_error: 'HTTP 307: redirect not followed' }]);
    expect(bouncer.hits).toEqual(['/hook']);
    expect(internal.hits).toEqual([]);
  });
});
