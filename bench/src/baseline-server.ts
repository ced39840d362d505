import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

/**
 * The peers: a plain Socket.IO server with a Redis adapter, running the benchmark's chat in-process.
 * `REDIS_URL=... PORT=0 ADAPTER=redis|redis-streams node bench/dist/baseline-server.js`; tells its parent
 * `{ type: 'ready', url }`. `redis` is `@socket.io/redis-adapter` (pub/sub), `redis-streams`
 * `@socket.io/redis-streams-adapter` (one Redis Stream every server reads).
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const port = Number(process.env.PORT ?? 0);
const streams = process.env.ADAPTER === 'redis-streams';

type Ack = (response: unknown) => void;

const pub = new Redis(redisUrl);
const sub = streams ? undefined : pub.duplicate();
const http = createServer();
const io = new Server(http, {
  transports: ['polling', 'websocket'],
  adapter: sub ? createAdapter(pub, sub) : createStreamsAdapter(pub),
});

io.on('connection', (socket) => {
  socket.on('join', async (room: unknown, ack?: Ack) => {
    if (typeof room !== 'string')
      return ack?.({ error: { code: 'BAD_ROOM', message: 'room must be a string' } });
    await socket.join(room);
    ack?.({ ok: true });
  });
  socket.on('rpc', (request: { mid?: unknown } | null, ack?: Ack) => ack?.({ ok: true, mid: request?.mid }));
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
    void Promise.allSettled([pub.quit(), sub?.quit()]).then(() => process.exit(0));
  });
}
process.on('SIGTERM', close);
process.on('SIGINT', close);

// The pub/sub adapter subscribed on `sub` when the server was built; a PING answered on that connection
// after it means the subscriptions are in place, so no broadcast from the peer server is missed. The
// streams adapter reads its stream from where it stood at start; clients join long after that.
await (sub ?? pub).ping();
http.listen(port, '127.0.0.1', () => {
  const { port: actual } = http.address() as AddressInfo;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${actual}`, port: actual });
});
