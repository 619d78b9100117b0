import { unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';

/**
 * The embedded database belongs to one process: a second one must never open its files while the server runs.
 * So `tessera backup` asks the running server for the snapshot over a Unix socket in the data directory, which is
 * 0700 (data-dir.ts): only the user running Tessera can connect. The exchange: the client writes `snapshot\n`; the
 * server answers a status byte (0 ok, 1 error), a length (u64 BE) and that many bytes (the gzip tarball, or the
 * error's message). Nothing else is served.
 */
export const SOCKET_NAME = 'control.sock';

export function socketPath(dataDir: string): string {
  return path.join(dataDir, SOCKET_NAME);
}

function frame(status: 0 | 1, body: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head[0] = status;
  head.writeBigUInt64BE(BigInt(body.length), 1);
  return Buffer.concat([head, body]);
}

/** Listens on the data directory's control socket; a stale socket left by a crash is replaced. */
export async function serveSnapshots(dataDir: string, snapshot: () => Promise<Buffer>, onError: (error: unknown) => void = () => {}): Promise<{ close(): Promise<void> }> {
  const file = socketPath(dataDir);
  if (await serverAnswers(dataDir)) throw new Error(`another Tessera server is running on ${dataDir} (it answers on ${file})`);
  try {
    unlinkSync(file);
  } catch {
    // none left behind
  }
  const server: Server = createServer((socket) => {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (!received.includes('\n')) {
        if (received.length > 64) socket.destroy();
        return;
      }
      if (received !== 'snapshot\n') {
        socket.end(frame(1, Buffer.from('unknown request')));
        return;
      }
      snapshot().then(
        (bytes) => socket.end(frame(0, bytes)),
        (error: unknown) => {
          onError(error);
          socket.end(frame(1, Buffer.from('the snapshot failed; see the server log')));
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Whether a server answers on the data directory's control socket. */
export function serverAnswers(dataDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath(dataDir));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Asks the server running on `dataDir` for a snapshot; undefined when none runs there (no socket, or a stale one).
 * `progress(received, total)` follows the transfer.
 */
export function requestSnapshot(dataDir: string, progress: (received: number, total: number) => void = () => {}): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath(dataDir));
    const chunks: Buffer[] = [];
    let size = 0;
    let total: number | undefined;
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      socket.write('snapshot\n');
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (total === undefined && size >= 9) total = Number(Buffer.concat(chunks).readBigUInt64BE(1));
      if (total !== undefined) progress(size - 9, total);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (!connected && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) resolve(undefined);
      else reject(error);
    });
    socket.once('end', () => {
      const all = Buffer.concat(chunks);
      if (all.length < 9) return reject(new Error('the server closed the control socket without an answer'));
      const length = Number(all.readBigUInt64BE(1));
      const body = all.subarray(9);
      if (body.length !== length) return reject(new Error('the snapshot was cut short'));
      if (all[0] !== 0) return reject(new Error(`the server could not take the snapshot: ${body.toString('utf8')}`));
      resolve(body);
    });
  });
}
