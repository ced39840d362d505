import type { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** `CLIENT LIST` as rows of fields. */
async function clients(cluster: Cluster): Promise<Record<string, string>[]> {
  const list = (await cluster.redis.client('LIST')) as string;
  return list
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])),
    );
}

describe('delivery lane', () => {
  test("lane - a handler that finishes in its turn has its delivery sent on the ingress reader's connection, ahead of the next read; every answer arrives, in order", async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register: registerTestApp, transport: 'streams' });
    const c = cluster;
    const app = c.appNodes[0]!;
    const client = await c.connect(0);
    // The first event may read its client's state from Redis (not in this turn): warm the cache first.
    expect(await client.emitWithAck('echo', 'warm')).toEqual(['warm']);
    const rows = await clients(c);
    const reader = rows.find((row) => row.name === `${app.nodeId}:ingress`);
    const publisher = rows.find((row) => row.name === `${app.nodeId}:pub`);
    expect(reader, 'the ingress reader connection').toBeDefined();
    expect(publisher, 'the publisher connection').toBeDefined();

    // A standalone Redis here: MONITOR is a command of one server.
    // Every connection of the app-node is watched: a delivery goes on the reader or the publisher.
    const ofApp = new Set(
      rows.filter((row) => row.name?.startsWith(`${app.nodeId}:`)).map((row) => row.addr),
    );
    const monitor = await (c.redis as Redis).duplicate().monitor();
    const seen: { source: string; command: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (ofApp.has(source))
        seen.push({
          source: source === reader!.addr ? 'reader' : source === publisher!.addr ? 'publisher' : 'other',
          command: args[0]!.toLowerCase(),
        });
    });
    try {
      const answers: unknown[] = [];
      for (let i = 0; i < 20; i++) answers.push(await client.emitWithAck('echo', i));
      expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => [i]));
    } finally {
      monitor.disconnect();
    }
    // A delivery is the script by SHA, or by source on the publisher when Redis lacked it (NOSCRIPT: another
    // test of this Redis may have flushed the scripts).
    const deliveries = seen.filter((s) => s.command === 'evalsha' || s.command === 'eval');
    const onReader = deliveries.filter((s) => s.source === 'reader');
    // Each event's delivery (its reply) is one script run; nearly all share the reader's write.
    expect(deliveries.length).toBeGreaterThanOrEqual(20);
    expect(deliveries.filter((s) => s.source === 'other')).toEqual([]);
    expect(onReader.length).toBeGreaterThanOrEqual(15);
    // On the reader, each delivery is followed by the next read, never the other way round in one turn.
    const readerCommands = seen.filter((s) => s.source === 'reader').map((s) => s.command);
    for (let i = 0; i < readerCommands.length; i++)
      if (readerCommands[i] === 'evalsha') expect(readerCommands[i + 1] ?? 'xreadgroup').toBe('xreadgroup');
  });

  test('lane - with every slot taken by the read that offered it (concurrency 1), the delivery still goes out and events flow', async () => {
    cluster = await setup({ ioNodes: 1, transport: 'streams' });
    const c = cluster;
    const app = await c.startAppNode({ concurrency: 1 });
    app.on('echo', (_socket, ...args: unknown[]) => args);
    const sockets = await Promise.all(Array.from({ length: 8 }, () => c.connect(0)));
    // Warm each client's state in the app-node's cache, so the events below finish in their turn.
    for (const [i, s] of sockets.entries()) expect(await s.emitWithAck('echo', `w${i}`)).toEqual([`w${i}`]);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(sockets.map((s, i) => s.emitWithAck('echo', round, i)));
      expect(answers).toEqual(sockets.map((_, i) => [round, i]));
    }
  });
});
