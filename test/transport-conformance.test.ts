import { randomBytes } from 'node:crypto';
import {
  type BullmqIngressConsumer,
  createBullmqIngressConsumer,
  createRedisCommandTransport,
  createStreamIngressConsumer,
  type StreamIngressConsumer,
} from '@iocluster/app-node';
import { createIngressProducer, createStreamIngressProducer } from '@iocluster/io-node';
import {
  closeRedis,
  createKeys,
  createRedis,
  createRedisReplyInbox,
  createRoutingTable,
  type RedisConnection,
  type RedisRole,
  silentLogger,
} from '@iocluster/shared';
import { inject } from 'vitest';
import {
  describeTransportConformance,
  type TransportHarness,
} from '../packages/app-node/test/support/transport-conformance.js';
import { createInboxSubscriber } from '../packages/io-node/src/command-bus.js';
import { deleteKeys } from './support/cluster.js';

/**
 * The Redis implementations of both paths (BullMQ ingress, inbox Streams and the routing table) on the
 * run's redis-server, under a key prefix of their own that is deleted afterwards. Short leases: a dead
 * consumer's job runs again within lockDurationMs + stalledIntervalMs (1.5 s).
 */
function redisHarness(oneRoundTrip: boolean, ingress: 'bullmq' | 'streams' = 'bullmq') {
  return async (): Promise<TransportHarness> => {
    const url = inject('redisUrl');
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const keys = createKeys(prefix);
    const logger = silentLogger();
    const connections: RedisConnection[] = [];
    const open = (role: RedisRole) => {
      const connection = createRedis(url, role, { logger, connectionName: `${prefix}:${role}` });
      connections.push(connection);
      return connection;
    };
    const shared = open('publisher');
    const producers: { close(): Promise<void> }[] = [];
    const consumers = new Set<BullmqIngressConsumer | StreamIngressConsumer>();
    let consumerCount = 0;
    const readers = new Map<string, RedisConnection>();
    return {
      producer() {
        const create = ingress === 'streams' ? createStreamIngressProducer : createIngressProducer;
        const producer = create(open('command'), keys, logger);
        producers.push(producer);
        return producer;
      },
      consumer(concurrency) {
        // Short leases: a dead consumer's entry is claimed once idle 1 s, looked for every 0.5 s.
        const consumer =
          ingress === 'streams'
            ? createStreamIngressConsumer({
                keys,
                partitions: 1,
                consumerName: `app-${++consumerCount}`,
                connection: () => open('blocking'),
                readerConnection: shared,
                concurrency,
                leaseMs: 1_000,
                claimIntervalMs: 500,
                maxDeliveries: 8,
                blockMs: 500,
                logger,
              })
            : createBullmqIngressConsumer({
                keys,
                partitions: 1,
                connection: () => open('blocking'),
                readerConnection: shared,
                concurrency,
                lockDurationMs: 1_000,
                stalledIntervalMs: 500,
                maxStalledCount: 3,
                logger,
              });
        consumers.add(consumer);
        return consumer;
      },
      async kill(consumer) {
        const own = [...consumers].find((c) => c === consumer);
        if (!own) throw new Error('not a consumer of this harness');
        await own.abandon();
      },
      commands: () =>
        createRedisCommandTransport(open('publisher'), keys, {
          inboxRetentionMs: 10_000,
          recoveryWindowMs: 60_000,
          oneRoundTrip,
        }),
      subscriber(nodeId) {
        const reader = open('subscriber');
        readers.set(nodeId, reader);
        return createInboxSubscriber({
          nodeId,
          keys,
          routing: createRoutingTable(shared, keys),
          reader,
          commands: shared,
          logger,
        });
      },
      async dropReader(nodeId) {
        const reader = readers.get(nodeId);
        if (!reader) throw new Error(`no reader for io-node "${nodeId}"`);
        const back = new Promise((resolve) => reader.once('ready', resolve));
        // Closes the socket and reconnects, as a network blip would.
        reader.disconnect(true);
        await back;
      },
      replyInbox: (address) =>
        createRedisReplyInbox({ subscriber: open('subscriber'), keys, address, logger }),
      async close() {
        await Promise.allSettled(producers.map((p) => p.close()));
        await deleteKeys(shared, prefix);
        await Promise.allSettled(connections.map((c) => closeRedis(c)));
      },
    };
  };
}

describeTransportConformance('Redis, rooms looked up and appended in one script', redisHarness(true));
describeTransportConformance('Redis, rooms looked up then appended', redisHarness(false));
describeTransportConformance('Redis Streams ingress, one-script delivery', redisHarness(true, 'streams'));
