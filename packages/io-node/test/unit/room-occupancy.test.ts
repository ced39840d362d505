import {
  type IngressJob,
  type OccupancyStore,
  type OccupancyTransition,
  silentLogger,
} from '@iocluster/shared';
import { Server } from 'socket.io';
import { afterEach, describe, expect, test } from 'vitest';
import { followMembership } from '../../src/room-membership.js';
import { countableRoom, createRoomOccupancy, type RoomOccupancy } from '../../src/room-occupancy.js';

/** The store's contract on plain maps: per room, io-node → count, no entry at 0; transitions from empty. */
function memoryStore() {
  const rooms = new Map<string, Map<string, number>>();
  const index = new Map<string, Set<string>>();
  const writes: [string, string, number][] = [];
  let failNext = 0;
  function write(nodeId: string, room: string, n: number): OccupancyTransition | undefined {
    const counts = rooms.get(room) ?? new Map<string, number>();
    const before = counts.size;
    if (n > 0) counts.set(nodeId, n);
    else counts.delete(nodeId);
    rooms.set(room, counts);
    if (before === 0 && counts.size > 0) return 'occupied';
    if (before > 0 && counts.size === 0) return 'vacated';
    return undefined;
  }
  const store: OccupancyStore = {
    async set(nodeId, counts) {
      if (failNext > 0) {
        failNext--;
        // Applied, but the answer is lost: the retry must change nothing.
        for (const [room, n] of counts) write(nodeId, room, n);
        throw new Error('connection lost');
      }
      const changed = new Map<string, OccupancyTransition>();
      for (const [room, n] of counts) {
        writes.push([nodeId, room, n]);
        const set = index.get(nodeId) ?? new Set<string>();
        if (n > 0) set.add(room);
        else set.delete(room);
        index.set(nodeId, set);
        const transition = write(nodeId, room, n);
        if (transition) changed.set(room, transition);
      }
      return changed;
    },
    async purgeNode(nodeId) {
      const vacated = [...(index.get(nodeId) ?? [])].filter((room) => write(nodeId, room, 0) === 'vacated');
      index.delete(nodeId);
      return vacated;
    },
    nodes: async () => [...index.keys()],
    members: async (room) => [...(rooms.get(room)?.values() ?? [])].reduce((a, b) => a + b, 0),
  };
  return {
    store,
    writes,
    failOnce: () => {
      failNext = 1;
    },
  };
}

const running: RoomOccupancy[] = [];
afterEach(async () => {
  for (const o of running.splice(0)) await o.close(100);
});

async function node(nodeId: string, store: OccupancyStore, jobs: IngressJob[]) {
  const io = new Server();
  const occupancy = createRoomOccupancy({
    io,
    nodeId,
    store,
    counts: (room) => room.startsWith('room-') || room.startsWith('$ch:'),
    liveNodes: async () => () => true,
    enqueue: async (list) => {
      jobs.push(...list);
    },
    sweepIntervalMs: 60_000,
    logger: silentLogger(),
  });
  followMembership(io, [occupancy]);
  await occupancy.start();
  running.push(occupancy);
  const { adapter } = io.of('/');
  return {
    occupancy,
    join: (socketId: string, ...rooms: string[]) => adapter.addAll(socketId, new Set([socketId, ...rooms])),
    leave: (socketId: string, room: string) => adapter.del(socketId, room),
    gone: (socketId: string) => adapter.delAll(socketId),
  };
}

const changes = (jobs: IngressJob[]) =>
  jobs.flatMap((job) => job.occupancy ?? []).map((c) => `${c.type} ${c.room} ${c.nodeId} ${c.reason}`);

describe('room occupancy', () => {
  test('occupancy - counted rooms: not a socket’s own, not bookkeeping, not reserved ones but client channels', () => {
    expect(countableRoom('room-a', 's1')).toBe(true);
    expect(countableRoom('s1', 's1')).toBe(false);
    expect(countableRoom('\u0000plain', 's1')).toBe(false);
    expect(countableRoom('$user:42', 's1')).toBe(false);
    expect(countableRoom('$ch:news', 's1')).toBe(true);
  });

  test('occupancy - absolute counts netted per turn; the first member anywhere occupies, the last one vacates, once', async () => {
    const { store, writes } = memoryStore();
    const jobs: IngressJob[] = [];
    const a = await node('io-a', store, jobs);
    const b = await node('io-b', store, jobs);
    a.join('s1', 'room-1', 'other', '$user:7', '$ch:news');
    a.join('s2', 'room-1');
    b.join('s3', 'room-1');
    await Promise.all([a.occupancy.flushed(), b.occupancy.flushed()]);
    // One write per node and room, with that node's count: own rooms and unmatched ones are not written.
    expect(writes.filter(([, room]) => room === 'room-1')).toEqual([
      ['io-a', 'room-1', 2],
      ['io-b', 'room-1', 1],
    ]);
    expect(writes.map(([, room]) => room).sort()).toEqual(['$ch:news', 'room-1', 'room-1']);
    expect(changes(jobs).sort()).toEqual(['occupied $ch:news io-a members', 'occupied room-1 io-a members']);
    jobs.length = 0;
    // A join and a leave in one turn net out: nothing is written for them.
    const before = writes.length;
    b.join('s4', 'room-1');
    b.leave('s4', 'room-1');
    await b.occupancy.flushed();
    expect(writes.slice(before)).toEqual([['io-b', 'room-1', 1]]);
    a.gone('s1');
    a.gone('s2');
    await a.occupancy.flushed();
    expect(changes(jobs)).toEqual(['vacated $ch:news io-a members']);
    b.leave('s3', 'room-1');
    await b.occupancy.flushed();
    expect(changes(jobs)).toEqual(['vacated $ch:news io-a members', 'vacated room-1 io-b members']);
  });

  test('occupancy - a write whose answer was lost is written again and changes nothing; a purge vacates once', async () => {
    const memory = memoryStore();
    const jobs: IngressJob[] = [];
    const a = await node('io-a', memory.store, jobs);
    const b = await node('io-b', memory.store, jobs);
    memory.failOnce();
    a.join('s1', 'room-1');
    await a.occupancy.flushed();
    // The first write was applied but failed; the retry reports no transition: occupied is lost here
    // (the one case the docs name), never doubled.
    expect(changes(jobs)).toEqual([]);
    expect(await memory.store.members('room-1')).toBe(1);
    b.join('s2', 'room-2');
    await b.occupancy.flushed();
    expect(changes(jobs)).toEqual(['occupied room-2 io-b members']);
    await Promise.all([a.occupancy.purgeNode('io-b'), a.occupancy.purgeNode('io-b')]);
    await b.occupancy.purgeNode('io-b');
    await Promise.all([a.occupancy.flushed(), b.occupancy.flushed()]);
    expect(changes(jobs)).toEqual(['occupied room-2 io-b members', 'vacated room-2 io-a purge']);
  });
});
