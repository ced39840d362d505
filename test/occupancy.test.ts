import type { AppNode } from '@iocluster/app-node';
import { createKeys, type OccupancyChange } from '@iocluster/shared';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** Heartbeats short enough for a test, long enough for a loaded 2-core machine. */
const HEARTBEAT = { heartbeatIntervalMs: 1_000, heartbeatTtlMs: 3_000 };
const CHILD_ENV = { HEARTBEAT_INTERVAL_MS: '1000', HEARTBEAT_TTL_MS: '3000', OCCUPANCY_ROOMS: 'room-*' };

/** Handlers the tests drive, and every occupancy change the handlers saw on every app-node. */
function occupancyApp(seen: OccupancyChange[]) {
  return (app: AppNode) => {
    app.on('room:occupied', (room, change) => {
      expect(room).toBe(change.room);
      seen.push(change);
    });
    app.on('room:vacated', (_room, change) => {
      seen.push(change);
    });
    app.on('join', async (socket, rooms: string[]) => {
      await socket.join(rooms);
      return true;
    });
    app.on('leave', async (socket, room: string) => {
      await socket.leave(room);
      return true;
    });
  };
}

const summary = (changes: readonly OccupancyChange[]) => changes.map((c) => `${c.type} ${c.room}`).sort();

/**
 * Waits for one more change from each io-node (a room only its clients join): a change decided before
 * it was enqueued before it by the same node, so once these arrived, nothing older is still on its way.
 */
async function barrier(seen: OccupancyChange[], sockets: Socket[], tag: string): Promise<void> {
  const rooms = sockets.map((_, i) => `room-barrier-${tag}-${i}`);
  await Promise.all(sockets.map((s, i) => s.emitWithAck('join', [rooms[i]])));
  await until(
    async () => seen.filter((c) => rooms.includes(c.room)).length,
    (n) => n >= rooms.length,
    10_000,
  );
}

describe('occupancy', () => {
  test('occupancy - concurrent joins and leaves on 2 io-nodes and 2 app-nodes: each room occupied once and vacated once', async () => {
    const seen: OccupancyChange[] = [];
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: occupancyApp(seen),
      ioNodeOptions: { ...HEARTBEAT, occupancyRooms: ['room-*'] },
    });
    const c = cluster;
    const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => c.connect(i % 2)));
    const rooms = ['room-a', 'room-b', 'room-c'];
    // Every client joins every room at once, plus a room no pattern names.
    await Promise.all(clients.map((s) => s.emitWithAck('join', [...rooms, 'other'])));
    await until(
      async () => seen.length,
      (n) => n >= 3,
      10_000,
    );
    // Counts are written a moment after the joins are applied (the acks come first).
    for (const room of rooms)
      await until(
        () => c.appNodes[1]!.occupancy(room),
        (n) => n === 12,
        10_000,
      );
    expect(await c.appNodes[0]!.occupancy('other')).toBe(0);
    await barrier(seen, [clients[0]!, clients[1]!], 'joined');
    const occupied = seen.filter((s) => !s.room.startsWith('room-barrier'));
    expect(summary(occupied)).toEqual(rooms.map((r) => `occupied ${r}`));
    expect(new Set(occupied.map((c) => c.reason))).toEqual(new Set(['members']));
    const ioNodeIds = c.ioNodes.map((n) => n.nodeId);
    for (const change of occupied) expect(ioNodeIds).toContain(change.nodeId);

    // Half leave room-a by command, then everybody leaves it and the others by disconnecting, at once.
    seen.length = 0;
    await Promise.all(clients.slice(0, 6).map((s) => s.emitWithAck('leave', 'room-a')));
    expect(seen).toEqual([]);
    const stay = [c.ioNodes[0]!, c.ioNodes[1]!].map((_, i) => c.connect(i));
    const observers = await Promise.all(stay);
    for (const s of clients) s.disconnect();
    await until(
      async () => seen.length,
      (n) => n >= 3,
      10_000,
    );
    await barrier(seen, observers, 'left');
    expect(summary(seen.filter((s) => !s.room.startsWith('room-barrier')))).toEqual(
      rooms.map((r) => `vacated ${r}`),
    );
    for (const room of rooms)
      await until(
        () => c.appNodes[0]!.occupancy(room),
        (n) => n === 0,
        10_000,
      );
    const keys = createKeys(c.prefix);
    for (const room of rooms) expect(await c.redis.exists(keys.occupancy(room))).toBe(0);
  }, 60_000);

  test('occupancy - a SIGKILLed io-node’s rooms are vacated once after the purge, however many io-nodes race to purge it', async () => {
    const seen: OccupancyChange[] = [];
    cluster = await setup({
      appNodes: 2,
      register: occupancyApp(seen),
      ioNodeOptions: { ...HEARTBEAT, occupancyRooms: ['room-*'] },
    });
    const c = cluster;
    // Three survivors: each purges the dead node when it sees its record expire.
    for (let i = 0; i < 3; i++) await c.startIoNode();
    const doomed = await c.startChildIoNode(CHILD_ENV);
    const survivors = await Promise.all(c.ioNodes.map((_, i) => c.connect(i)));
    const dead = await Promise.all(Array.from({ length: 4 }, () => c.connectTo(doomed.url)));
    // room-only-dead has members on the doomed node only; room-shared on both.
    await Promise.all(dead.map((s) => s.emitWithAck('join', ['room-only-dead', 'room-shared'])));
    await survivors[0]!.emitWithAck('join', ['room-shared']);
    await until(
      async () => summary(seen),
      (s) => s.length >= 2,
      10_000,
    );
    expect(summary(seen)).toEqual(['occupied room-only-dead', 'occupied room-shared']);
    await until(
      () => c.appNodes[0]!.occupancy('room-shared'),
      (n) => n === 5,
      10_000,
    );

    seen.length = 0;
    await doomed.kill();
    await until(
      async () => seen.length,
      (n) => n >= 1,
      15_000,
    );
    // Every survivor has swept by now: one heartbeat after the expiry each of them purges what is left.
    await until(
      () => c.redis.exists(createKeys(c.prefix).nodeOccupancy(doomed.nodeId)),
      (n) => n === 0,
      10_000,
    );
    await barrier(seen, survivors, 'purged');
    const changes = seen.filter((s) => !s.room.startsWith('room-barrier'));
    expect(changes.map((s) => `${s.type} ${s.room} ${s.reason}`)).toEqual(['vacated room-only-dead purge']);
    expect(c.ioNodes.map((n) => n.nodeId)).toContain(changes[0]!.nodeId);
    expect(await c.appNodes[1]!.occupancy('room-shared')).toBe(1);
    expect(await c.appNodes[1]!.occupancy('room-only-dead')).toBe(0);
  }, 60_000);
});
