/**
 * A TCP relay to a port on 127.0.0.1 that a test can cut: cut() destroys both TCP connections of
 * everything it carries (as when a network path dies), and it keeps listening, so a reconnect
 * through it works again — the link restored; cut(ms) keeps the path dead that long first (each
 * connection made meanwhile is closed at once).
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface CuttableRelay {
  port: number;
  cut(downForMs?: number): void;
  close(): void;
}

export async function startCuttableRelay(port: number): Promise<CuttableRelay> {
  const sockets = new Set<Socket>();
  let downUntil = 0;
  const server = createServer((client) => {
    if (Date.now() < downUntil) {
      client.destroy();
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy()); // the other side of a cut: closing is all there is to do
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = (downForMs = 0) => {
    downUntil = Date.now() + downForMs;
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut,
    close: () => {
      cut(0);
      server.close();
    },
  };
}

/**
 * A TCP relay to a port on 127.0.0.1 that holds what the server sends for `holdMs` and hands it on
 * in one chunk, as a busy link or a proxy does: replies the server sent apart reach the client
 * together, so the client handles them in one go.
 */
export async function startCoalescingRelay(port: number, holdMs: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream);
    let held: Buffer[] = [];
    upstream.on('data', (chunk: Buffer) => {
      if (held.length === 0) {
        setTimeout(() => {
          const together = Buffer.concat(held);
          held = [];
          if (!client.destroyed) client.write(together);
        }, holdMs);
      }
      held.push(chunk);
    });
    upstream.on('end', () => setTimeout(() => client.end(), holdMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
