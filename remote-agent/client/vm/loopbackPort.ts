/**
 * A free TCP port on 127.0.0.1 for a VM's forwarded SSH: the kernel picks one, we release it and
 * hand it to QEMU (which reports a clash if another program took it in between; the caller retries).
 */
import { createServer } from 'node:net';

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('The kernel gave no free port on 127.0.0.1.'))));
    });
  });
}
