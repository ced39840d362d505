import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

/**
 * The baseline: a plain Socket.IO server with the Redis adapter, running the benchmark's chat in-process.
 * `REDIS_URL=... PORT=0 node bench/dist/baseline-server.js`; tells its parent `{ type: 'ready', url }`.
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const port = Number(process.env.PORT ?? 0);

type Ack = (response: unknown) => void;

const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer();
const io = new Server(http, {
  transports: ['polling', 'websocket'],
  adapter: createAdapter(pub, sub),
});

io.on('connection', (socket) => {
  socket.on('join', async (room: unknown, ack?: Ack) => {
    if (typeof room !== 'string')
      return ack?.({ error: { code: 'BAD_ROOM', message: 'room must be a string' } });
    await socket.join(room);
    ack?.({ ok: true });
  });
  socket.on('chat message', (msg: unknown, ack?: Ack) => {
    const room = (msg as { room?: unknown } | null)?.room;
    if (typeof room !== 'string') return ack?.({ error: { code: 'BAD_MESSAGE', message: 'no room' } });
    io.to(room).emit('chat message', { ...(msg as object), from: socket.id });
    ack?.({ ok: true });
  });
});

let closing = false;
function close(): void {
  if (closing) process.exit(1);
  closing = true;
  io.close(() => {
    void Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });
}
process.on('SIGTERM', close);
process.on('SIGINT', close);

// The adapter subscribed on `sub` when the server was built; a PING answered on that connection after
// it means the subscriptions are in place, so no broadcast from the peer server is missed.
await sub.ping();
http.listen(port, '127.0.0.1', () => {
  const { port: actual } = http.address() as AddressInfo;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${actual}`, port: actual });
});
