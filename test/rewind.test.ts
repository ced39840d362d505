import type { AppNode } from '@iocluster/app-node';
import type { IoclusterClient } from '@iocluster/client';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, collect, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
const created: IoclusterClient[] = [];
afterEach(async () => {
  for (const client of created.splice(0)) client.close();
  await cluster?.cleanup();
  cluster = undefined;
});

function rewindApp(app: AppNode): void {
  app.on('publish', (_socket, room: string, n: number) => {
    app.to(room).emit('msg', n);
    return true;
  });
  app.on('join', async (socket, room: string, rewind: unknown) => {
    await socket.join(room, { rewind: rewind as never });
    return true;
  });
}

/** Two io-nodes and two app-nodes; `feed:*` keeps history. */
async function rewindCluster(): Promise<Cluster> {
  cluster = await setup({
    ioNodes: 2,
    appNodes: 2,
    register: rewindApp,
    appNodeOptions: { history: { rooms: ['feed:*'] } },
  });
  return cluster;
}

async function publish(from: Socket, room: string, numbers: readonly number[]): Promise<void> {
  for (const n of numbers) await from.emitWithAck('publish', room, n);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('rewind', () => {
  test('rewind - a count: the last 5 messages first, then live ones, in order, once each (plain socket.io-client)', async () => {
    const c = await rewindCluster();
    const publisher = await c.connect(0);
    await publish(publisher, 'feed:a', range(1, 20));
    const late = await c.connect(1);
    const got = collect<number>(late, 'msg');
    expect(await late.emitWithAck('join', 'feed:a', 5)).toBe(true);
    await publish(publisher, 'feed:a', range(21, 25));
    await got.until(10);
    // Anything else would have arrived before this one (a room's messages go out in history order).
    await publish(publisher, 'feed:a', [26]);
    await got.until(11);
    expect(got.items).toEqual(range(16, 26));
  }, 60_000);

  test('rewind - messages published while the join is applied: the history’s last run, in its order, no gap, no duplicate', async () => {
    const c = await rewindCluster();
    const publishers = [await c.connect(0), await c.connect(1)];
    await publish(publishers[0]!, 'feed:b', range(1, 30));
    // Two publishers on both io-nodes keep going while four clients join with rewind: 10 on both nodes.
    let next = 31;
    let running = true;
    const publishing = publishers.map(async (p) => {
      while (running) await p.emitWithAck('publish', 'feed:b', next++);
    });
    const joiners = await Promise.all([0, 1, 0, 1].map((i) => c.connect(i)));
    const got = joiners.map((s) => collect<number>(s, 'msg'));
    await Promise.all(joiners.map((s) => s.emitWithAck('join', 'feed:b', 10)));
    await until(
      async () => next,
      (n) => n > 80,
      30_000,
    );
    running = false;
    await Promise.all(publishing);
    const last = next - 1;
    await publish(publishers[0]!, 'feed:b', [last + 1]);
    await Promise.all(
      got.map((g) =>
        until(
          async () => g.items.at(-1),
          (n) => n === last + 1,
          10_000,
        ),
      ),
    );
    // The history's order is the room's order (two publishers race, so not the numbers' order).
    const page = await c.appNodes[0]!.history('feed:b', { limit: 1_000 });
    const all = page.messages.map((m) => m.args[0] as number);
    expect([...all].sort((a, b) => a - b)).toEqual(range(1, last + 1));
    for (const g of got) {
      const first = all.indexOf(g.items[0]!);
      expect(g.items).toEqual(all.slice(first));
      // At least the ten before the join and everything after it.
      expect(g.items.length).toBeGreaterThanOrEqual(11);
    }
  }, 60_000);

  test('rewind - a duration: only the messages of the last second, to @iocluster/client with positions a recovery goes on from', async () => {
    const c = await rewindCluster();
    const publisher = await c.connect(0);
    await publish(publisher, 'feed:c', range(1, 5));
    const oldUntil = Date.now();
    // The old messages must be more than a second old when the client joins.
    await until(
      async () => Date.now(),
      (now) => now > oldUntil + 1_200,
      5_000,
    );
    await publish(publisher, 'feed:c', range(6, 8));
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const client = clientFactory(created)({ frontendUrl: frontend.url });
    const [nodeId] = await next(client, 'connected');
    const got: number[] = [];
    client.on('msg', (n: number) => got.push(n));
    expect(await client.emitWithAck('join', 'feed:c', '1s')).toBe(true);
    await publish(publisher, 'feed:c', [9]);
    await until(
      async () => got.length,
      (n) => n >= 4,
      10_000,
    );
    expect(got).toEqual([6, 7, 8, 9]);
    expect(client.position('feed:c')).toMatchObject({ offset: 9 });
    // Its io-node goes away: the client recovers on the other from the rewound position, missing nothing
    // and getting nothing twice.
    const recovered = next(client, 'recovered');
    await c.ioNodes.find((n) => n.nodeId === nodeId)!.close();
    expect((await recovered)[0]).toMatchObject({ recovered: true, missed: 0 });
    const survivor = await c.connect(c.ioNodes.findIndex((n) => n.nodeId !== nodeId));
    await publish(survivor, 'feed:c', [10]);
    await until(
      async () => got.length,
      (n) => n >= 5,
      10_000,
    );
    expect(got).toEqual([6, 7, 8, 9, 10]);
  }, 60_000);

  test('rewind - a room without history: the join is refused with a clear error', async () => {
    const c = await rewindCluster();
    const socket = await c.connect(0);
    const answer = await socket.emitWithAck('join', 'plain-room', 3);
    expect(answer).toMatchObject({ error: { message: expect.stringContaining('"plain-room" keeps none') } });
  }, 60_000);
});
