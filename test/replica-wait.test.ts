import { type RedisServer, redisCommand, startRedisServer } from '@iocluster/devkit';
import { createStreamIngressProducer } from '@iocluster/io-node';
import {
  closeRedis,
  connectionGeneration,
  createCommandPublisher,
  createKeys,
  createRedis,
  createRedisCommandTransport,
  createRoutingTable,
  INGRESS_VERSION,
  type IngressJob,
  IoclusterError,
  type RedisConnection,
  type ReplicaWait,
  silentLogger,
  waitForReplicas,
} from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { until } from './support/poll.js';

/**
 * `REDIS_WAIT_REPLICAS` across a connection that closes while its `WAIT` is out. ioredis sends the `WAIT`
 * again on the new connection, and after a failover that is to the new primary: it counts the replicas
 * of what the new primary has, not of the writes made on the old one, which the failover may have
 * dropped. Seen in the chaos suite (Sentinel failover, BullMQ ingress): a job added on the old primary was
 * counted as replicated, lost, and its client's later events waited for its answer until their 30 s
 * deadline. Here a connection to one primary is closed while its `WAIT` is blocked on a frozen replica:
 * the wait must fail at once (and the writer write again) rather than trust an answer from elsewhere.
 */

const logger = silentLogger();
/** Longer than a test may run: a wait that ends in one ended for another reason than its timeout. */
const WAIT_MS = 120_000;
const servers: RedisServer[] = [];
const connections: RedisConnection[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await Promise.allSettled(connections.splice(0).map((c) => closeRedis(c)));
  // Thawed and killed (close() thaws a frozen process first), with their data.
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
});

/** A private primary with one replica, linked and in sync. */
async function primaryWithReplica(): Promise<{ primary: RedisServer; replica: RedisServer }> {
  // AOF on gives each a private directory (removed by close()): a replica writes its first sync there.
  const primary = await startRedisServer({ aof: true });
  servers.push(primary);
  const replica = await startRedisServer({
    aof: true,
    args: ['--replicaof', '127.0.0.1', String(primary.port)],
  });
  servers.push(replica);
  await until(
    () => redisCommand(primary.url, ['INFO', 'replication']),
    (info) => /slave0:.*state=online/.test(String(info)),
    10_000,
  );
  return { primary, replica };
}

function open(url: string): RedisConnection {
  const connection = createRedis(url, 'command', { logger, connectionName: 'replica-wait-test' });
  connections.push(connection);
  return connection;
}

/** Client ids of the connections blocked in a `WAIT` on `server` now. */
async function waiting(server: RedisServer): Promise<string[]> {
  const list = String(await redisCommand(server.url, ['CLIENT', 'LIST']));
  return list
    .split('\n')
    .filter((line) => / cmd=wait /.test(line))
    .map((line) => /id=(\d+)/.exec(line)![1]!);
}

/** Resolves once a connection other than those in `except` is blocked in a `WAIT`; returns its id. */
async function blockedInWait(server: RedisServer, except: string[] = []): Promise<string> {
  const ids = await until(
    () => waiting(server),
    (now) => now.some((id) => !except.includes(id)),
    10_000,
  );
  return ids.find((id) => !except.includes(id))!;
}

const outcome = (work: Promise<unknown>) =>
  work.then(
    () => 'counted',
    (err: unknown) => (err instanceof IoclusterError ? `${err.code}: ${err.message}` : String(err)),
  );

const job: IngressJob = {
  v: INGRESS_VERSION,
  nodeId: 'io-1',
  batches: [
    {
      client: {
        id: 'c1',
        nodeId: 'io-1',
        data: {},
        rooms: [],
        handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
        user: null,
      },
      events: [{ kind: 'event', seq: 1, name: 'work', args: [1], ack: true }],
    },
  ],
};

describe('replica wait', () => {
  test('replica wait - a connection that closes while its WAIT is out fails the wait at once with REPLICATION_TIMEOUT, not trusting the WAIT ioredis sends again', async () => {
    const { primary, replica } = await primaryWithReplica();
    const connection = open(primary.url);
    const wait: ReplicaWait = { replicas: 1, timeoutMs: WAIT_MS };

    let since = connectionGeneration(connection);
    await connection.set('k', 'first');
    await waitForReplicas(connection, wait, since);

    // The replica stops acknowledging; the next write's WAIT blocks on the primary.
    replica.freeze();
    since = connectionGeneration(connection);
    await connection.set('k', 'second');
    const result = outcome(waitForReplicas(connection, wait, since));
    const id = await blockedInWait(primary);
    await redisCommand(primary.url, ['CLIENT', 'KILL', 'ID', id]);

    expect(await result).toBe(
      'REPLICATION_TIMEOUT: the connection to Redis closed after the write and before its replicas were counted',
    );
  });

  test('replica wait - the ingress producer writes its jobs again after such a close, and resolves only once a replica has them', async () => {
    const { primary, replica } = await primaryWithReplica();
    const connection = open(primary.url);
    const keys = createKeys('rw');
    const producer = createStreamIngressProducer(connection, keys, logger, {
      replicaWait: { replicas: 1, timeoutMs: WAIT_MS },
    });
    closers.push(() => producer.close());
    const stream = keys.ingressPartitions(1)[0]!.stream;

    replica.freeze();
    let added = false;
    const adding = producer.add([job]).then(() => {
      added = true;
    });
    const first = await blockedInWait(primary);
    await redisCommand(primary.url, ['CLIENT', 'KILL', 'ID', first]);
    // The retry writes the job again on the new connection and waits there, for a replica that is frozen.
    await blockedInWait(primary, [first]);
    expect(added).toBe(false);
    replica.thaw();
    await adding;

    // Written twice (once per connection): the first copy could have been on a primary a failover drops.
    const entries = (await connection.xrange(stream, '-', '+')) as [string, string[]][];
    expect(entries.map(([, fields]) => JSON.parse(fields[1]!))).toEqual([job, job]);
  });

  test('replica wait - a command delivery whose WAIT went out again on a new connection fails, so its job runs again', async () => {
    const { primary, replica } = await primaryWithReplica();
    const connection = open(primary.url);
    const keys = createKeys('rw');
    await createRoutingTable(connection, keys).createInbox('io-1');
    const publisher = createCommandPublisher(
      createRedisCommandTransport(connection, keys, {
        inboxRetentionMs: 60_000,
        recoveryWindowMs: 60_000,
        replicaWait: { replicas: 1, timeoutMs: WAIT_MS },
      }),
      { history: { keeps: () => false, limits: { maxLength: 10, ttlMs: 60_000 } }, logger },
    );
    closers.push(() => publisher.close());

    replica.freeze();
    const since = publisher.position();
    publisher.reply('io-1', { type: 'reply', socketId: 'c1', seq: 1 });
    const flushed = outcome(publisher.flush(since));
    const id = await blockedInWait(primary);
    await redisCommand(primary.url, ['CLIENT', 'KILL', 'ID', id]);

    expect(await flushed).toBe(
      'REPLICATION_TIMEOUT: the connection to Redis closed after the write and before its replicas were counted',
    );
    replica.thaw();
  });
});
