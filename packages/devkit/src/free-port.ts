import { createServer } from 'node:net';

/**
 * A TCP port that is free on `host` right now (the kernel's pick for port 0). Another process may take it
 * before the caller binds it; good enough for starting local servers one at a time.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
