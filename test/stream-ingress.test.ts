import { randomBytes } from 'node:crypto';
import {
  createDeadLetters,
  createStreamIngressConsumer,
  type DeadLetterData,
  type StreamIngressConsumer,
} from '@iocluster/app-node';
import { createStreamIngressProducer } from '@iocluster/io-node';
import {
  closeRedis,
  createCommandPublisher,
  createKeys,
  createRedis,
  createRedisCommandTransport,
  createRoutingTable,
  INGRESS_GROUP,
  INGRESS_VERSION,
  type IngressHandler,
  type IngressJob,
  type IngressProducer,
  type Keys,
  type RedisConnection,
  type RedisRole,
  silentLogger,
} from '@iocluster/shared';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, inject, test, vi } from 'vitest';
import { deleteKeys } from './support/cluster.js';

const logger = silentLogger();
let prefix = '';
let keys: Keys;
const connections: RedisConnection[] = [];
const closers: (() => Promise<unknown>)[] = [];

function open(role: RedisRole): RedisConnection {
  const connection = createRedis(inject('redisUrl'), role, { logger, connectionName: `${prefix}:${role}` });
  connections.push(connection);
  return connection;
}

function setup() {
  prefix = `si${randomBytes(5).toString('hex')}`;
  keys = createKeys(prefix);
  return open('publisher');
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  const redis = connections[0];
  if (redis) await deleteKeys(redis, prefix);
  await Promise.allSettled(connections.splice(0).map((c) => closeRedis(c)));
});

function job(client: string, n: number): IngressJob {
  return {
    v: INGRESS_VERSION,
    nodeId: 'io-1',
    batches: [
      {
        client: {
          id: client,
          nodeId: 'io-1',
          data: {},
          rooms: [],
          handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
          user: null,
        },
        events: [{ kind: 'event', seq: n, name: 'work', args: [n], ack: true }],
      },
    ],
  };
}

function consumer(
  redis: RedisConnection,
  handler: IngressHandler,
  extra: {
    maxDeliveries?: number;
    deadLetters?: ReturnType<typeof createDeadLetters>;
    name?: string;
    concurrency?: number;
  } = {},
): StreamIngressConsumer {
  const c = createStreamIngressConsumer({
    keys,
    partitions: 1,
    consumerName: extra.name ?? 'app-1',
    connection: () => open('blocking'),
    readerConnection: redis,
    concurrency: extra.concurrency ?? 4,
    leaseMs: 1_000,
    claimIntervalMs: 200,
    maxDeliveries: extra.maxDeliveries ?? 8,
    blockMs: 300,
    logger,
    ...(extra.deadLetters ? { deadLetters: extra.deadLetters } : {}),
  });
  closers.push(() => c.close());
  void c.start(handler);
  return c;
}

function producer(): IngressProducer {
  const p = createStreamIngressProducer(open('command'), keys, logger);
  closers.push(() => p.close());
  return p;
}

const stream = () => keys.ingressPartitions(1)[0]!.stream;

async function startDeadLetters(redis: RedisConnection) {
  const deadLetters = createDeadLetters({
    keys,
    connection: redis,
    blockingConnection: open('blocking'),
    logger,
  });
  closers.push(() => deadLetters.close());
  await deadLetters.start();
  return deadLetters;
}

describe('streams ingress', () => {
  test('streams ingress - a job that keeps failing runs maxDeliveries times, then is a failed BullMQ job with its error; a retry runs it again', async () => {
    const redis = setup();
    const deadLetters = await startDeadLetters(redis);
    const runs: number[] = [];
    let healed = false;
    consumer(
      redis,
      async ({ job: j, redelivered }) => {
        runs.push(redelivered);
        if (!healed) throw Object.assign(new Error('inbox unreachable'), { code: 'E_TEST' });
        expect(j.batches[0]!.events[0]).toMatchObject({ name: 'work', args: [7] });
      },
      { maxDeliveries: 3, deadLetters },
    );
    await producer().add([job('c1', 7)]);
    const queue = new Queue<DeadLetterData>(keys.deadLetterQueue, {
      connection: redis,
      prefix: keys.bullPrefix,
    });
    closers.push(() => queue.close());
    const [letter] = await vi.waitFor(
      async () => {
        const failed = await queue.getFailed();
        expect(failed).toHaveLength(1);
        return failed;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(runs).toEqual([0, 1, 2]);
    expect(letter!.data).toMatchObject({
      stream: stream(),
      deliveries: 3,
      error: { message: 'inbox unreachable', code: 'E_TEST' },
      job: { batches: [{ client: { id: 'c1' }, events: [{ args: [7] }] }] },
    });
    expect(letter!.failedReason).toBe('Error: inbox unreachable');
    // Given up on and kept: the entry is acknowledged, nothing pending.
    await vi.waitFor(async () =>
      expect(await redis.xpending(stream(), INGRESS_GROUP)).toEqual([0, null, null, null]),
    );
    healed = true;
    await letter!.retry('failed');
    await vi.waitFor(() => expect(runs).toEqual([0, 1, 2, 0]), { timeout: 10_000, interval: 50 });
    await vi.waitFor(async () => expect(await queue.getFailedCount()).toBe(0));
  });

  test('streams ingress - closing during a failed entry’s backoff ends the wait without running it again; the entry stays pending and another consumer runs it', async () => {
    const redis = setup();
    const runs: string[] = [];
    const first = consumer(
      redis,
      async () => {
        runs.push('app-1');
        throw Object.assign(new Error('inbox unreachable'), { code: 'E_TEST' });
      },
      { name: 'app-1' },
    );
    await producer().add([job('c1', 7)]);
    // After the third run it waits a second before the fourth.
    await vi.waitFor(() => expect(runs).toHaveLength(3), { timeout: 10_000, interval: 10 });
    await first.close();
    expect(runs).toEqual(['app-1', 'app-1', 'app-1']);
    const pending = (await redis.xpending(stream(), INGRESS_GROUP)) as [number, ...unknown[]];
    expect(pending[0]).toBe(1);
    consumer(
      redis,
      async ({ job: j }) => {
        runs.push(`app-2:${j.batches[0]!.events[0]!.seq}`);
      },
      { name: 'app-2' },
    );
    await vi.waitFor(
      async () => expect(await redis.xpending(stream(), INGRESS_GROUP)).toEqual([0, null, null, null]),
      {
        timeout: 10_000,
        interval: 50,
      },
    );
    expect(runs).toEqual(['app-1', 'app-1', 'app-1', 'app-2:7']);
  });

  test('streams ingress - 16 entries in their backoff at once wait on one close signal without a MaxListenersExceededWarning', async () => {
    const redis = setup();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const runs: string[] = [];
      const c = consumer(
        redis,
        async ({ job: j }) => {
          runs.push(j.batches[0]!.client.id);
          throw Object.assign(new Error('inbox unreachable'), { code: 'E_TEST' });
        },
        { concurrency: 16 },
      );
      await producer().add(Array.from({ length: 16 }, (_, i) => job(`c${i}`, 1)));
      await vi.waitFor(() => expect(new Set(runs).size).toBe(16), { timeout: 10_000, interval: 10 });
      await c.close();
      // A warning is emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test("streams ingress - the delivery script that appends a job's last commands acknowledges its entry; a failed append leaves it pending and it runs again", async () => {
    const redis = setup();
    await createRoutingTable(redis, keys).createInbox('io-1');
    const inbox = keys.inbox('io-1');
    // The inbox is not a stream for the first run: the script fails at its XADD, before its XACK.
    const broken = `${inbox}:away`;
    await redis.rename(inbox, broken);
    await redis.set(inbox, 'not a stream');
    const publisher = createCommandPublisher(
      createRedisCommandTransport(redis, keys, { inboxRetentionMs: 60_000, recoveryWindowMs: 60_000 }),
      { history: { keeps: () => false, limits: { maxLength: 10, ttlMs: 60_000 } }, logger },
    );
    const xack = vi.spyOn(redis, 'xack');
    const runs: { redelivered: number; carried: boolean; pending: number }[] = [];
    let heal: () => void = () => undefined;
    const healed = new Promise<void>((resolve) => {
      heal = resolve;
    });
    consumer(redis, async ({ job: j, redelivered, acknowledgement }) => {
      // A run after the first waits for the inbox to be mended, however soon the retry comes.
      if (redelivered > 0) await healed;
      const since = publisher.position();
      const event = j.batches[0]!.events[0]!;
      publisher.reply('io-1', { type: 'reply', socketId: j.batches[0]!.client.id, seq: event.seq });
      const carried = publisher.acknowledge(acknowledgement!, since);
      const pending = Number(((await redis.xpending(stream(), INGRESS_GROUP)) as [number])[0]);
      try {
        await publisher.flush(since);
      } finally {
        runs.push({ redelivered, carried: carried(), pending });
      }
      return carried() ? 'acknowledged' : undefined;
    });
    await producer().add([job('c1', 4)]);
    await vi.waitFor(() => expect(runs).toHaveLength(1), { timeout: 5_000 });
    expect(runs[0]).toEqual({ redelivered: 0, carried: false, pending: 1 });
    expect(Number(((await redis.xpending(stream(), INGRESS_GROUP)) as [number])[0])).toBe(1);
    await redis.del(inbox);
    await redis.rename(broken, inbox);
    heal();
    // The retry (250 ms later) appends the reply and acknowledges the entry in the same script.
    await vi.waitFor(() => expect(runs).toHaveLength(2), { timeout: 5_000 });
    expect(runs[1]).toEqual({ redelivered: 1, carried: true, pending: 1 });
    expect(await redis.xpending(stream(), INGRESS_GROUP)).toEqual([0, null, null, null]);
    const entries = (await redis.xrange(inbox, '-', '+')) as [string, string[]][];
    const commands = entries.filter(([, fields]) => fields[0] === 'c');
    expect(commands.map(([, fields]) => JSON.parse(fields[1]!).cmds)).toEqual([
      [{ type: 'reply', socketId: 'c1', seq: 4 }],
    ]);
    expect(xack).not.toHaveBeenCalled();
  });

  test('streams ingress - a malformed entry is a dead letter at once and never reaches the handler', async () => {
    const redis = setup();
    const deadLetters = await startDeadLetters(redis);
    const seen: string[] = [];
    consumer(redis, async ({ job: j }) => void seen.push(j.batches[0]!.client.id), { deadLetters });
    const p = producer();
    await p.add([job('before', 0)]);
    await redis.xadd(stream(), '*', 'j', '{"v":1,"batches":"not a list"}');
    await p.add([job('after', 1)]);
    const queue = new Queue<DeadLetterData>(keys.deadLetterQueue, {
      connection: redis,
      prefix: keys.bullPrefix,
    });
    closers.push(() => queue.close());
    await vi.waitFor(async () => expect(await queue.getFailedCount()).toBe(1), { timeout: 10_000 });
    const [letter] = await queue.getFailed();
    expect(letter!.data).toMatchObject({
      raw: '{"v":1,"batches":"not a list"}',
      deliveries: 1,
      error: { name: 'WireError', code: 'WIRE_INVALID' },
    });
    expect(letter!.data.job).toBeUndefined();
    await vi.waitFor(() => expect(seen).toEqual(['before', 'after']));
  });

  test('streams ingress - trimming drops only acknowledged entries; what a dead consumer held is claimed and run', async () => {
    const redis = setup();
    const hold = new Set(['c3', 'c7']);
    const ran: string[] = [];
    const doomed = consumer(redis, async ({ job: j }) => {
      const id = j.batches[0]!.client.id;
      if (hold.has(id)) return new Promise<void>(() => undefined);
      ran.push(id);
    });
    // The held handlers never settle: this consumer is abandoned, not drained, at the end.
    closers.push(() => doomed.abandon());
    const p = producer();
    for (let i = 0; i < 10; i++) await p.add([job(`c${i}`, i)]);
    await vi.waitFor(() => expect(ran).toHaveLength(8));
    // Housekeeping trims below the oldest pending entry (c3's): c0-c2 go, both held entries stay.
    const held = await vi.waitFor(async () => {
      const pending = (await redis.xpending(stream(), INGRESS_GROUP, '-', '+', 10)) as [string][];
      expect(pending).toHaveLength(2);
      return pending;
    });
    await vi.waitFor(
      async () => {
        const ids = (await redis.xrange(stream(), '-', '+')).map(([id]) => id);
        expect(ids).toHaveLength(7);
        expect(ids[0]).toBe(held[0]![0]);
        for (const [id] of held) expect(ids).toContain(id);
      },
      { timeout: 10_000 },
    );
    await doomed.abandon();
    const survivor: string[] = [];
    consumer(
      redis,
      async ({ job: j, redelivered }) => void survivor.push(`${j.batches[0]!.client.id}:${redelivered}`),
      {
        name: 'app-2',
      },
    );
    await vi.waitFor(() => expect(survivor.sort()).toEqual(['c3:1', 'c7:1']), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await redis.xpending(stream(), INGRESS_GROUP))[0]).toBe(0));
  });

  test('streams ingress - a stream Redis lost is made again with its group, and events run on', async () => {
    const redis = setup();
    const seen: number[] = [];
    consumer(redis, async ({ job: j }) => void seen.push(j.batches[0]!.events[0]!.seq));
    const p = producer();
    await p.add([job('c', 1)]);
    await vi.waitFor(() => expect(seen).toEqual([1]));
    await redis.del(stream());
    await p.add([job('c', 2)]);
    await vi.waitFor(() => expect(seen).toEqual([1, 2]), { timeout: 10_000 });
  });
});
