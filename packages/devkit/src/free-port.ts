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

/** Resolves true when `port` on `host` could be bound right now (and releases it). */
function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive TCP ports that are all free on `host` right now: for a process that
 * binds `PORT`, `PORT + 1`... (one per worker, as `METRICS_PORT` does). Starts from the kernel's pick and
 * tries up to 50 bases; the same race as {@link freePort} applies after it resolves.
 */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort(host);
    if (base + count - 1 > 65_535) continue;
    let free = true;
    for (let i = 1; i < count && free; i++) free = await canBind(base + i, host);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports on ${host} after 50 tries`);
}
