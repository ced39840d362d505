import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '@iocluster/devkit';
import { io, type Socket } from 'socket.io-client';
import { type BenchChild, forkReady } from './child.js';
import { LatencyHistogram } from './histogram.js';

/**
 * `npm run flood -- [seconds=20] [chatters=100]`: does a client over its rate limit slow the others down? One
 * io-node and one app-node (real entry points, default limits); `chatters` clients in rooms of 10 each
 * send a message every 500 ms and the latency from send to every delivery is recorded, first alone, then
 * while one more client floods at full speed (and reconnects whenever it is cut off). Prints p50/p99/max
 * of both phases and what the flooder achieved.
 *
 * Everything shares this machine's cores, the flooder too (its own CPU, encoding ~15,000 events/s, would
 * not be the cluster's in a deployment): the harsher case. `FLOOD_NICE=19` lowers its priority.
 */
const seconds = Number(process.argv[2] ?? 20);
const chatters = Number(process.argv[3] ?? 100);
const ROOM_SIZE = 10;
const SEND_EVERY_MS = 500;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHAT_HANDLERS = fileURLToPath(new URL('./chat-handlers.js', import.meta.url));
const FLOODER = fileURLToPath(new URL('./flooder.js', import.meta.url));

interface Message {
  room: string;
  /** ms since epoch, with fractions. */
  sentAt: number;
}

async function chatPhase(sockets: Socket[], ms: number): Promise<LatencyHistogram> {
  const histogram = new LatencyHistogram();
  const onMessage = (msg: Message) =>
    histogram.record((performance.timeOrigin + performance.now() - msg.sentAt) * 1_000);
  for (const socket of sockets) socket.on('chat message', onMessage);
  const timers = sockets.map((socket, i) =>
    setTimeout(
      () => {
        const tick = () =>
          socket.emit('chat message', {
            room: `r${Math.floor(i / ROOM_SIZE)}`,
            text: 'hi',
            sentAt: performance.timeOrigin + performance.now(),
            mid: 0,
          });
        tick();
        timers[i] = setInterval(tick, SEND_EVERY_MS);
      },
      Math.floor((i * SEND_EVERY_MS) / sockets.length),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  for (const timer of timers) clearInterval(timer);
  // Let the last messages arrive before the next phase starts counting.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const socket of sockets) socket.off('chat message', onMessage);
  return histogram;
}

const ms = (micros: number) => (micros / 1_000).toFixed(1).padStart(6);

function line(name: string, h: LatencyHistogram): string {
  return `${name.padEnd(12)} deliveries ${String(h.count).padStart(7)}  p50 ${ms(h.percentile(50))} ms  p99 ${ms(h.percentile(99))} ms  max ${ms(h.max)} ms`;
}

const redis = await startRedisServer();
const started: BenchChild[] = [];
try {
  // Extra io-node settings from the environment, e.g. CLIENT_RATE_DISCONNECT_AFTER=0 to keep the flooder on.
  const env = {
    REDIS_URL: redis.url,
    IOCLUSTER_PREFIX: 'flood',
    LOG_LEVEL: 'error',
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) => /^(CLIENT_|MAX_|CONNECTIONS_|QUEUE_)/.test(name)),
    ),
  };
  started.push(
    await forkReady({
      label: 'app-0',
      module: `${ROOT}packages/app-node/dist/main.js`,
      args: [CHAT_HANDLERS],
      env,
    }),
  );
  const ioNode = await forkReady({
    label: 'io-0',
    module: `${ROOT}packages/io-node/dist/main.js`,
    env: { ...env, IO_NODE_HOST: '127.0.0.1', IO_NODE_PORT: '0' },
  });
  started.push(ioNode);
  const url = String(ioNode.ready.url);
  const sockets: Socket[] = [];
  for (let i = 0; i < chatters; i++) {
    const socket = io(url, { transports: ['websocket'], forceNew: true });
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    await socket.emitWithAck('join', `r${Math.floor(i / ROOM_SIZE)}`);
    sockets.push(socket);
  }
  const quiet = await chatPhase(sockets, seconds * 1_000);
  const flooder = await forkReady({ label: 'flooder', module: FLOODER, args: [url, 'flood-room'] });
  started.push(flooder);
  const nice = Number(process.env.FLOOD_NICE ?? 0);
  if (nice !== 0) setPriority(flooder.child.pid!, nice);
  let stats: Record<string, number> = {};
  flooder.child.on('message', (msg: { type?: string }) => {
    if (msg.type === 'stats') stats = msg as Record<string, number>;
  });
  const flooded = await chatPhase(sockets, seconds * 1_000);
  process.stdout.write(
    `${chatters} chatters in rooms of ${ROOM_SIZE}, one message each every ${SEND_EVERY_MS} ms, ${seconds} s per phase\n` +
      `${line('no flood', quiet)}\n${line('with flood', flooded)}\n` +
      `p99 ratio ${(flooded.percentile(99) / quiet.percentile(99)).toFixed(2)}  (bound: 2.00; flooder at nice ${nice})\n` +
      `flooder: sent ${stats.sent}, accepted ${stats.ok}, RATE_LIMITED ${stats.rateLimited}, other errors ${stats.otherErrors}, ` +
      `disconnected ${stats.kicked} times, reconnections refused ${stats.refusedConnects}\n`,
  );
  for (const socket of sockets) socket.disconnect();
} finally {
  await Promise.allSettled(started.reverse().map((child) => child.stop()));
  await redis.stop();
}
