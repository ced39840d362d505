import { createConnection, type Socket } from 'node:net';

function connect(url: string): Socket {
  const { hostname, port } = new URL(url);
  return createConnection({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
}

/**
 * Is a Redis answering at this URL? Sends PING on a plain TCP connection: `+PONG`, or an error such as
 * `-NOAUTH` from a server that wants a password, both mean a Redis is there. Never rejects.
 */
export function redisReachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(url);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString())));
  });
}

/**
 * Runs one command on a connection of its own and resolves with its reply: a status, integer or bulk
 * string (`null` for a nil bulk). An error reply rejects. For the few admin commands the tooling needs
 * (INFO, FLUSHALL) on a server it started, without a client library.
 */
export function redisCommand(
  url: string,
  args: readonly string[],
  timeoutMs = 5_000,
): Promise<string | number | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(url);
    let buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, reply?: string | number | null) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(reply ?? null);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`${args[0]} on ${url}: no reply within ${timeoutMs} ms`)),
    );
    socket.once('error', (err) => finish(new Error(`${args[0]} on ${url}: ${err.message}`, { cause: err })));
    socket.once('connect', () => {
      const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
      socket.write(`*${args.length}\r\n${parts.join('')}`);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const kind = String.fromCharCode(buffer[0]!);
      const head = buffer.subarray(1, end).toString();
      if (kind === '+') return finish(undefined, head);
      if (kind === ':') return finish(undefined, Number(head));
      if (kind === '-') return finish(new Error(`${args[0]} on ${url}: ${head}`));
      if (kind !== '$') return finish(new Error(`${args[0]} on ${url}: unexpected reply "${kind}${head}"`));
      const length = Number(head);
      if (length < 0) return finish(undefined, null);
      // The whole bulk string and its CRLF may take several chunks (INFO is a few kB).
      if (buffer.length < end + 2 + length + 2) return;
      finish(undefined, buffer.subarray(end + 2, end + 2 + length).toString());
    });
  });
}
