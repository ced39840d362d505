import { randomBytes } from 'node:crypto';
import { startRedisServer } from '@iocluster/devkit';
import { io as connect, type Socket } from 'socket.io-client';
import { cpuSeconds } from './proc-stats.js';
import { RedisMeter } from './redis-stats.js';
import { startSystem } from './systems.js';

/**
 * `node bench/dist/occupancy-cost.js [clients] [rounds]`: what counting occupancy (`OCCUPANCY_ROOMS`)
 * adds to the join/leave path. The same load runs on 2 io-nodes + 1 app-node with occupancy off, then
 * on (`*`): each client joins and leaves a room of its own `rounds` times (every join occupies a room and
 * every leave vacates it, the most expensive case), then all clients join and leave one shared room
 * (counts change, the room's occupancy does not). Prints, per join+leave, the wall time, the Redis
 * commands and Redis CPU, and the io-node and app-node CPU, side by side.
 */
const clients = Number(process.argv[2] ?? 50);
const rounds = Number(process.argv[3] ?? 20);

interface Figures {
  ms: number;
  redisCalls: number;
  redisUsec: number;
  ioNodeCpuMs: number;
  appNodeCpuMs: number;
}

async function measure(occupancy: boolean, shared: boolean, redisUrl: string): Promise<Figures> {
  const system = await startSystem('iocluster', {
    redisUrl,
    prefix: `occ${randomBytes(3).toString('hex')}`,
    env: occupancy ? { OCCUPANCY_ROOMS: '*' } : {},
  });
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const socket = connect(system.urls[i % system.urls.length]!, { transports: ['websocket'] });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      sockets.push(socket);
    }
    const cpu = () => {
      let io = 0;
      let app = 0;
      for (const [label, pid] of system.pids) {
        const seconds = cpuSeconds(pid) ?? 0;
        if (label.startsWith('io-')) io += seconds;
        else app += seconds;
      }
      return { io, app };
    };
    const meter = new RedisMeter(redisUrl);
    await meter.begin();
    const before = cpu();
    const started = performance.now();
    await Promise.all(
      sockets.map(async (socket, i) => {
        const room = shared ? 'shared' : `room-${i}`;
        for (let r = 0; r < rounds; r++) {
          await socket.emitWithAck('join', room);
          await socket.emitWithAck('leave', room);
        }
      }),
    );
    const ms = performance.now() - started;
    // The occupancy writes and the jobs they enqueue come a moment after the acks: let them finish.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = cpu();
    const stats = await meter.end();
    const n = clients * rounds;
    const usec = Object.values(stats.usec).reduce((a, b) => a + b, 0);
    return {
      ms: ms / n,
      redisCalls: stats.totalCalls / n,
      redisUsec: usec / n,
      ioNodeCpuMs: ((after.io - before.io) * 1000) / n,
      appNodeCpuMs: ((after.app - before.app) * 1000) / n,
    };
  } finally {
    for (const socket of sockets) socket.disconnect();
    await system.stop();
  }
}

const redis = await startRedisServer();
try {
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${clients} clients x ${rounds} join+leave each, 2 io-nodes + 1 app-node; figures per join+leave`,
  );
  console.log(
    'case                    | wall ms | redis calls | redis µs | io-node cpu ms | app-node cpu ms',
  );
  for (const shared of [false, true]) {
    for (const occupancy of [false, true]) {
      await redis.flush();
      const r = await measure(occupancy, shared, redis.url);
      const name = `${shared ? 'one shared room' : 'own room'}, ${occupancy ? 'on ' : 'off'}`.padEnd(23);
      console.log(
        `${name} | ${f(r.ms)} | ${f(r.redisCalls)} | ${f(r.redisUsec)} | ${f(r.ioNodeCpuMs)} | ${f(r.appNodeCpuMs)}`,
      );
    }
  }
} finally {
  await redis.stop();
}
