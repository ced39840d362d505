import { randomBytes } from 'node:crypto';
import { createRedisCommandTransport } from '@iocluster/app-node';
import {
  type Command,
  type CommandSubscriber,
  closeRedis,
  createKeys,
  createRedis,
  createRoutingTable,
  encodeCommandEnvelope,
  type Keys,
  type RedisConnection,
  type RedisRole,
  silentLogger,
} from '@iocluster/shared';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { createInboxSubscriber } from '../packages/io-node/src/command-bus.js';
import { deleteKeys } from './support/cluster.js';
import { until } from './support/poll.js';

/**
 * The io-node's inbox on the real Redis: commands reach it as pushes (published by the append scripts)
 * and the Stream is read only to fill a gap. The reads it makes are counted on its `commands` connection.
 */
interface Rig {
  keys: Keys;
  nodeId: string;
  commands: RedisConnection;
  /** Calls of XREAD made by the subscriber (its gap and idle reads). */
  reads: number;
  applied: number[];
  subscriber: CommandSubscriber;
  /** Appends through the command transport: the script that appends and publishes. */
  append(n: number): Promise<void>;
  /** An append that publishes nothing, as an app-node of an earlier version makes. */
  appendUnpublished(n: number): Promise<void>;
  /** Publishes a probe on the inbox's channel and waits until a second subscriber has it. */
  probe(): Promise<void>;
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

const emit = (n: number): Command => ({ type: 'emit', event: 'n', args: [n], socketId: 's1' });

async function rig(
  options: {
    idleReadMs?: number;
    maxQueuedPushes?: number;
    hold?: (n: number) => Promise<void> | undefined;
  } = {},
): Promise<Rig> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const keys = createKeys(prefix);
  const logger = silentLogger();
  const connections: RedisConnection[] = [];
  const open = (role: RedisRole) => {
    const connection = createRedis(inject('redisUrl'), role, { logger, connectionName: `${prefix}:${role}` });
    connections.push(connection);
    return connection;
  };
  const commands = open('publisher');
  const nodeId = 'io-push';
  const transport = createRedisCommandTransport(open('publisher'), keys, {
    inboxRetentionMs: 60_000,
    recoveryWindowMs: 60_000,
    oneRoundTrip: false,
  });
  const subscriber = createInboxSubscriber({
    nodeId,
    keys,
    routing: createRoutingTable(commands, keys),
    reader: open('subscriber'),
    commands,
    logger,
    idleReadMs: options.idleReadMs,
    maxQueuedPushes: options.maxQueuedPushes,
  });
  const r: Rig = {
    keys,
    nodeId,
    commands,
    reads: 0,
    applied: [],
    subscriber,
    async append(n) {
      expect(await transport.append(new Map([[nodeId, [emit(n)]]]))).toEqual([]);
    },
    async appendUnpublished(n) {
      await commands.xadd(keys.inbox(nodeId), 'NOMKSTREAM', '*', 'c', encodeCommandEnvelope([emit(n)]));
    },
    async probe() {
      const watcher = open('subscriber');
      await watcher.subscribe(keys.inbox(nodeId));
      const seen = new Promise<void>((resolve) =>
        watcher.on('message', (_channel: string, message: string) => message === 'probe' && resolve()),
      );
      await commands.publish(keys.inbox(nodeId), 'probe');
      await seen;
    },
  };
  const xread = commands.xread.bind(commands);
  commands.xread = ((...args: Parameters<typeof xread>) => {
    r.reads++;
    return xread(...args);
  }) as typeof commands.xread;
  subscriber.onCommand((cmd) => {
    const n = (cmd as { args: number[] }).args[0]!;
    r.applied.push(n);
    return options.hold?.(n);
  });
  cleanups.push(async () => {
    await subscriber.close();
    await deleteKeys(commands, prefix);
    await Promise.allSettled(connections.map((c) => closeRedis(c)));
  });
  await subscriber.start();
  return r;
}

/** Waits until `count` commands were applied. */
async function appliedAtLeast(r: Rig, count: number): Promise<void> {
  await until(
    async () => r.applied.length,
    (n) => n >= count,
    5_000,
  );
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('inbox push', () => {
  test('push - appends are applied from their pushes, in order: the Stream is read once, at the start', async () => {
    const r = await rig({ idleReadMs: 60_000 });
    const readsAtStart = r.reads;
    for (let i = 0; i < 200; i++) await r.append(i);
    await appliedAtLeast(r, 200);
    expect(r.applied).toEqual(upTo(200));
    expect(readsAtStart).toBe(1);
    expect(r.reads).toBe(1);
  });

  test('gap - an append that published nothing is read from the Stream when the next push shows the gap, in order', async () => {
    const r = await rig({ idleReadMs: 60_000 });
    await r.append(0);
    await r.appendUnpublished(1);
    await r.appendUnpublished(2);
    await r.append(3);
    await appliedAtLeast(r, 4);
    expect(r.applied).toEqual([0, 1, 2, 3]);
    expect(r.reads).toBe(2);
    await r.append(4);
    await appliedAtLeast(r, 5);
    expect(r.applied).toEqual([0, 1, 2, 3, 4]);
    expect(r.reads).toBe(2);
  });

  test('idle - an append that published nothing, with no push after it, is read by the idle read', async () => {
    const r = await rig({ idleReadMs: 100 });
    await r.appendUnpublished(0);
    await r.appendUnpublished(1);
    await appliedAtLeast(r, 2);
    expect(r.applied).toEqual([0, 1]);
  });

  test('overflow - pushes past the queue while an entry waits are read from the Stream: every command once, in order', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const r = await rig({
      idleReadMs: 60_000,
      maxQueuedPushes: 5,
      hold: (n) => (n === 0 ? released : undefined),
    });
    await r.append(0);
    await appliedAtLeast(r, 1);
    for (let i = 1; i <= 30; i++) await r.append(i);
    // A probe published after the 30 pushes, seen by a second subscriber: they have been sent.
    await r.probe();
    expect(r.applied).toEqual([0]);
    release();
    await appliedAtLeast(r, 31);
    expect(r.applied).toEqual(upTo(31));
    // The start read, then one read of the Stream for the pushes dropped.
    expect(r.reads).toBe(2);
    await r.append(31);
    await appliedAtLeast(r, 32);
    expect(r.applied).toEqual(upTo(32));
  });

  test('malformed - a push that is not `<prev> <id> <envelope>` is ignored; the commands around it arrive', async () => {
    const r = await rig({ idleReadMs: 60_000 });
    await r.append(0);
    await r.commands.publish(r.keys.inbox(r.nodeId), 'nonsense');
    await r.commands.publish(r.keys.inbox(r.nodeId), '0-0 1-1 {"v":1,"cmds":[');
    await r.append(1);
    await appliedAtLeast(r, 2);
    expect(r.applied).toEqual([0, 1]);
  });
});
