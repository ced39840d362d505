import { randomBytes } from 'node:crypto';
import { startRedisCluster } from '@iocluster/devkit';
import {
  type Command,
  closeRedis,
  createKeys,
  createRedis,
  createRedisCommandTransport,
  createRoutingTable,
  type RedisConnection,
  silentLogger,
} from '@iocluster/shared';
import { integer } from './options.js';
import { cpuSeconds } from './proc-stats.js';

/**
 * `npm run build && node bench/dist/cluster-push-cost.js [appends] [rounds]`: what carrying inbox pushes
 * costs a Redis Cluster (3 primaries, 3 replicas), published sharded (SPUBLISH, carried by the inbox's
 * shard alone: what iocluster does on a Cluster) against published plainly (PUBLISH, which the cluster
 * bus forwards to every node). Appends go through the command transport's append script to 4 inboxes
 * spread over the shards, 20 in flight; 4 subscribers (one per inbox, as io-nodes) count what they get.
 * Prints each node's CPU µs per append (its /proc times) for both ways, alternating, `rounds` times.
 */

const INBOXES = 4;
const IN_FLIGHT = 20;
const WARMUP = 500;

async function measure(
  target: Parameters<typeof createRedis>[0],
  pids: readonly number[],
  sharded: boolean,
  appends: number,
): Promise<number[]> {
  const logger = silentLogger();
  const prefix = `cpc${randomBytes(3).toString('hex')}`;
  const keys = createKeys(prefix);
  const connections: RedisConnection[] = [];
  const open = (role: 'publisher' | 'subscriber') => {
    const connection = createRedis(target, role, { logger, sharded });
    connections.push(connection);
    return connection;
  };
  try {
    const commands = open('publisher');
    const routing = createRoutingTable(commands, keys);
    const transport = createRedisCommandTransport(open('publisher'), keys, {
      inboxRetentionMs: 60_000,
      recoveryWindowMs: 60_000,
      shardedPushes: sharded,
    });
    const nodes = Array.from({ length: INBOXES }, (_, i) => `io-${i}`);
    let received = 0;
    for (const node of nodes) {
      await routing.createInbox(node);
      const subscriber = open('subscriber');
      subscriber.on(sharded ? 'smessage' : 'message', () => received++);
      await (sharded ? subscriber.ssubscribe(keys.inbox(node)) : subscriber.subscribe(keys.inbox(node)));
    }
    const cmd: Command = { type: 'emit', event: 'chat', args: ['x'.repeat(200)], rooms: ['lobby'] };
    const run = async (from: number, to: number) => {
      for (let i = from; i < to; i += IN_FLIGHT) {
        await Promise.all(
          Array.from({ length: Math.min(IN_FLIGHT, to - i) }, (_, j) =>
            transport.append(new Map([[nodes[(i + j) % INBOXES]!, [cmd]]])),
          ),
        );
      }
      const deadline = Date.now() + 30_000;
      while (received < to && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      if (received < to) throw new Error(`only ${received} of ${to} pushes arrived`);
    };
    await run(0, WARMUP);
    const before = pids.map((pid) => cpuSeconds(pid) ?? 0);
    await run(WARMUP, WARMUP + appends);
    return pids.map((pid, i) => (((cpuSeconds(pid) ?? 0) - before[i]!) * 1e6) / appends);
  } finally {
    const commands = connections[0];
    if (commands && 'nodes' in commands) {
      for (const server of commands.nodes('master')) {
        const found = (await server.keys(`${prefix}*`)) as string[];
        for (const key of found) await server.del(key);
      }
    }
    await Promise.allSettled(connections.map((c) => closeRedis(c)));
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(argv: string[]): Promise<void> {
  const appends = integer(argv[0] ?? '20000', 'appends', 1_000, 10_000_000);
  const rounds = integer(argv[1] ?? '3', 'rounds', 1, 100);
  const cluster = await startRedisCluster();
  try {
    const pids = cluster.nodes.map((node) => node.pid);
    const totals: Record<'plain' | 'sharded', number[]> = { plain: [], sharded: [] };
    for (let round = 1; round <= rounds; round++) {
      for (const way of ['plain', 'sharded'] as const) {
        const perNode = await measure(cluster.target, pids, way === 'sharded', appends);
        const total = perNode.reduce((a, b) => a + b, 0);
        totals[way].push(total);
        console.log(
          `round ${round} ${way.padEnd(7)} Redis CPU µs per append: total ${total.toFixed(0)}; by node ${perNode.map((v) => v.toFixed(0)).join(' ')}`,
        );
      }
    }
    const plain = median(totals.plain);
    const sharded = median(totals.sharded);
    console.log(
      `medians: plain ${plain.toFixed(0)} µs, sharded ${sharded.toFixed(0)} µs per append (${((sharded / plain - 1) * 100).toFixed(0)} %)`,
    );
  } finally {
    await cluster.stop();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
