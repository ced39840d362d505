import { createConnection, type Socket } from 'node:net';
import { encodeCommand, parseReply, RespError, type RespValue } from './resp.js';

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
 * Runs one command on a connection of its own and resolves with its reply (RESP2: a status, integer or
 * bulk string, `null` for nil, or an array of these). An error reply rejects. For the few admin commands
 * the tooling needs (INFO, FLUSHALL, ROLE, SENTINEL, CLUSTER) on a server it started, without a client
 * library.
 */
export function redisCommand(url: string, args: readonly string[], timeoutMs = 5_000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = connect(url);
    let buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, reply?: RespValue) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(reply ?? null);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`${args[0]} on ${url}: no reply within ${timeoutMs} ms`)),
    );
    socket.once('error', (err) => finish(new Error(`${args[0]} on ${url}: ${err.message}`, { cause: err })));
    socket.once('end', () => finish(new Error(`${args[0]} on ${url}: the server closed the connection`)));
    socket.once('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const reply = parseReply(buffer);
      if (reply === undefined) return;
      if (reply.value instanceof RespError) finish(new Error(`${args[0]} on ${url}: ${reply.value.message}`));
      else finish(undefined, reply.value);
    });
  });
}
