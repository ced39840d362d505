import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a server, for failure tests: point one process at it and cut its
 * network while everyone else keeps theirs.
 */
export interface TcpProxy {
  /** `127.0.0.1` port to connect to instead of the target. */
  readonly port: number;
  /** Connections currently relayed. */
  readonly connections: number;
  /**
   * A network blip: drops every relayed connection at once (both sides see a reset) and refuses new ones
   * until {@link TcpProxy.restore}.
   */
  cut(): void;
  /** Accepts and relays connections again. */
  restore(): void;
  /** Drops everything and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** Starts a relay from a free loopback port to `target` (loopback too). */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const open = new Set<Socket>();
  let isCut = false;

  const server = createServer((client) => {
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(target.port, host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });

  const dropAll = () => {
    for (const socket of open) socket.resetAndDestroy();
    open.clear();
  };

  return {
    port,
    get connections() {
      return open.size / 2;
    },
    cut() {
      isCut = true;
      dropAll();
    },
    restore() {
      isCut = false;
    },
    async close() {
      isCut = true;
      dropAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
