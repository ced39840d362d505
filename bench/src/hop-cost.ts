import { randomBytes } from 'node:crypto';
import { startRedisServer } from '@iocluster/devkit';
import { io, type Socket } from 'socket.io-client';
import { integer } from './options.js';
import { cpuSeconds, wakeups } from './proc-stats.js';
import { RedisMeter } from './redis-stats.js';
import { type RunningSystem, startSystem } from './systems.js';

/**
 * `npm run build && node bench/dist/hop-cost.js [messages] [--env K=V,...] [--cpu-prof <dir>]`: what ONE message costs each
 * process when nothing else is in flight, for iocluster (2 io-nodes, 1 app-node) and the baseline (2
 * Socket.IO servers with the Redis adapter). Messages go one at a time, the next once the previous one
 * was fully delivered, so none shares a wake-up, a Redis write or a job with another: the cost of a
 * message at light load, independent of how busy the machine is (which changes how much a rate-driven
 * step batches). Two cases: a chat message to a room of 10 (5 members on each server, the sender on
 * server 0, acked like the bench's), and an rpc (`emitWithAck('rpc')` answered by the handler). Prints
 * CPU µs per message by process (its /proc times over all messages), wake-ups, Redis commands, and the
 * median round trip.
 */

const TEXT = 'x'.repeat(100);
const ROOM = 'hop-room';

interface CaseResult {
  cpuUs: Record<string, number>;
  wakeups: Record<string, number>;
  redisCalls: Record<string, number>;
  redisCallsTotal: number;
  p50Ms: number;
}

/** Throws the error an ack carries (RATE_LIMITED, say): the message was not delivered. */
function refused(answer: unknown): void {
  const error = (answer as { error?: { code?: string } } | null)?.error;
  if (error) throw new Error(`refused: ${error.code ?? JSON.stringify(error)}`);
}

async function connect(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

async function measure(
  pids: ReadonlyMap<string, number>,
  redisUrl: string,
  messages: number,
  one: (mid: number) => Promise<void>,
): Promise<CaseResult> {
  for (let mid = 0; mid < Math.min(200, messages); mid++) await one(-1 - mid);
  const meter = new RedisMeter(redisUrl);
  await meter.begin();
  const cpu0 = new Map([...pids].map(([label, pid]) => [label, cpuSeconds(pid) ?? 0]));
  const woke0 = new Map([...pids].map(([label, pid]) => [label, wakeups(pid) ?? 0]));
  const times: number[] = [];
  for (let mid = 0; mid < messages; mid++) {
    const started = performance.now();
    await one(mid);
    times.push(performance.now() - started);
  }
  const redis = await meter.end();
  const per = (value: number) => Math.round((value / messages) * 100) / 100;
  const cpuUs: Record<string, number> = {};
  const woken: Record<string, number> = {};
  for (const [label, pid] of pids) {
    cpuUs[label] = Math.round((((cpuSeconds(pid) ?? 0) - cpu0.get(label)!) * 1e6) / messages);
    woken[label] = per((wakeups(pid) ?? 0) - woke0.get(label)!);
  }
  cpuUs.total = Object.values(cpuUs).reduce((a, b) => a + b, 0);
  const redisCalls: Record<string, number> = {};
  for (const [name, calls] of Object.entries(redis.calls)) if (calls > 0) redisCalls[name] = per(calls);
  times.sort((a, b) => a - b);
  return {
    cpuUs,
    wakeups: woken,
    redisCalls,
    redisCallsTotal: per(redis.totalCalls),
    p50Ms: Math.round(times[Math.floor(times.length / 2)]! * 1000) / 1000,
  };
}

/** One chat message to a room of 10 and one rpc at a time, on a running system. */
async function runCases(system: RunningSystem, redisUrl: string, redisPid: number, messages: number) {
  const pids = new Map([...system.pids, ['redis', redisPid] as const]);
  const clients = await Promise.all(
    Array.from({ length: 10 }, (_, i) => connect(system.urls[i % system.urls.length]!)),
  );
  try {
    for (const client of clients) await client.timeout(10_000).emitWithAck('join', ROOM);

    const [sender] = clients as [Socket];
    let waiting: { mid: number; left: number; done: () => void } | undefined;
    for (const client of clients) {
      client.on('chat message', (msg: { mid: number }) => {
        if (waiting && msg.mid === waiting.mid && --waiting.left === 0) waiting.done();
      });
    }
    const chat = await measure(pids, redisUrl, messages, async (mid) => {
      const delivered = new Promise<void>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`message ${mid} not delivered to all 10 in 10 s (${waiting?.left} missing)`)),
          10_000,
        );
        waiting = {
          mid,
          left: clients.length,
          done: () => {
            clearTimeout(timer);
            done();
          },
        };
      });
      const acked = sender
        .timeout(10_000)
        .emitWithAck('chat message', { room: ROOM, text: TEXT, sentAt: Date.now(), mid })
        .then(refused);
      await Promise.all([delivered, acked]);
    });
    const rpc = await measure(pids, redisUrl, messages, async (mid) => {
      refused(await sender.timeout(10_000).emitWithAck('rpc', { sentAt: Date.now(), mid }));
    });
    return { chat, rpc };
  } finally {
    for (const client of clients) client.disconnect();
  }
}

function line(name: string, r: CaseResult): string {
  const list = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return (
    `${name.padEnd(20)} p50 ${r.p50Ms} ms | CPU µs per message: ${list(r.cpuUs)} | wake-ups: ${list(r.wakeups)} | ` +
    `Redis calls ${r.redisCallsTotal} (${list(r.redisCalls)})`
  );
}

async function main(argv: string[]): Promise<void> {
  const messages = integer(argv.find((a) => /^\d+$/.test(a)) ?? '2000', 'messages', 100, 1_000_000);
  const envAt = argv.indexOf('--env');
  const env = Object.fromEntries(
    (envAt >= 0 ? (argv[envAt + 1] ?? '') : '')
      .split(',')
      .filter((pair) => pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const profAt = argv.indexOf('--cpu-prof');
  const cpuProfDir = profAt >= 0 ? argv[profAt + 1] : undefined;
  const redis = await startRedisServer();
  try {
    for (const name of ['iocluster', 'baseline'] as const) {
      await redis.flush();
      const system = await startSystem(name, {
        redisUrl: redis.url,
        prefix: `hop${randomBytes(3).toString('hex')}`,
        // One client sends everything, as fast as the previous message arrives: no per-client rate limit.
        env: { CLIENT_EVENT_RATE: '0', ...env },
        ...(cpuProfDir && name === 'iocluster' ? { cpuProfDir } : {}),
      });
      try {
        const { chat, rpc } = await runCases(system, redis.url, redis.pid, messages);
        process.stdout.write(`${line(`${name} chat (10)`, chat)}\n${line(`${name} rpc`, rpc)}\n`);
      } finally {
        await system.stop();
      }
    }
  } finally {
    await redis.stop();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
