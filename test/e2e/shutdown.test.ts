import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer } from '../../src/main.js';
import { testTempDir } from '../support/temp-dir.js';

describe('graceful shutdown', () => {
  it('finishes the request in flight, refuses new connections, then closes the database', async () => {
    const config = loadConfig({
      TESSERA_DATA_DIR: testTempDir('shutdown'),
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const running = await startServer(config, {
      print: () => {},
      beforeListen: (app) => {
        app.http.get('/test/slow', { schema: { hide: true } }, async () => {
          arrived();
          await gate;
          return { finished: true };
        });
      },
    });
    // Whatever fails below, the request is let go and the server and its database are closed before the
    // data directory is removed.
    onTestFinished(async () => {
      release();
      await running.shutdown('test finished');
    });

    const slow = fetch(`${running.address}/test/slow`).then(async (r) => ({ status: r.status, body: (await r.json()) as unknown }));
    await inFlight;
    const stopping = running.shutdown('test');
    const readiness = await running.app.services.health.readiness();
    expect(readiness.checks.draining).toBe(true);
    await expect(fetch(`${running.address}/healthz`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });

    release();
    expect(await slow).toEqual({ status: 200, body: { finished: true } });
    await stopping;
    await expect(running.app.db.globalWork(() => Promise.resolve(1))).rejects.toThrow('driver has already been destroyed');
  });
});
