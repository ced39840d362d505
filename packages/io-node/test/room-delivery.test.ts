import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  createKeys,
  createRedis,
  createRoomHistory,
  deferred,
  type EmitCommand,
  type HistoryPosition,
  type RoomHistory,
  silentLogger,
} from '@iocluster/shared';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, inject, test } from 'vitest';
import { CLIENT_ROOM, createRoomDelivery, type RoomDelivery } from '../src/room-delivery.js';

/**
 * The room delivery of one io-node against a real Redis history and real Socket.IO sockets, driven in
 * the orders that a loaded cluster produces only now and then: an inbox message arriving while a
 * recovery reads the history, or after another recovery's read already covered it.
 */
const ROOM = 'h:room';
const limits = { maxLength: 1_000, ttlMs: 60_000 };

let prefix: string;
let redis: ReturnType<typeof createRedis>;
let server: Server;
let url: string;
const clients: Socket[] = [];

beforeEach(async () => {
  prefix = `rd-${process.pid}-${Date.now()}`;
  redis = createRedis(inject('redisUrl'), 'command');
  const http = createServer();
  server = new Server(http);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

interface Member {
  socket: ServerSocket;
  /**
   * Every `$h` offset the client got, once it has at least `count` and a probe the server sends after
   * them came back (so anything delivered before the probe is counted too: extras show).
   */
  received(count: number): Promise<number[]>;
}

/** A connected client of `@iocluster/client`'s kind, in ROOM, recording the offsets of the `$h` it gets. */
async function member(): Promise<Member> {
  const joined = once(server, 'connection') as Promise<[ServerSocket]>;
  const client = connect(url, { transports: ['websocket'], reconnection: false });
  clients.push(client);
  const offsets: number[] = [];
  let waiting: { count: number; resolve: () => void } | undefined;
  client.on('$h', (_room: string, _epoch: string, offset: number) => {
    offsets.push(offset);
    if (waiting && offsets.length >= waiting.count) waiting.resolve();
  });
  const [socket] = await joined;
  await socket.join([CLIENT_ROOM, ROOM]);
  return {
    socket,
    async received(count) {
      if (offsets.length < count) {
        // Bounded, so a missing message fails the assertion below with what did arrive.
        const arrived = new Promise<void>((resolve) => (waiting = { count, resolve }));
        await Promise.race([arrived, delay(5_000, undefined, { ref: false })]);
      }
      const probe = new Promise<void>((resolve) => client.once('probe', () => resolve()));
      socket.emit('probe');
      await probe;
      return [...offsets];
    },
  };
}

describe('room delivery', () => {
  let history: RoomHistory;
  let delivery: RoomDelivery;
  const emits = new Map<number, EmitCommand & { history: HistoryPosition }>();

  beforeEach(() => {
    history = createRoomHistory(redis, createKeys(prefix));
    emits.clear();
  });

  /** Appends messages to the room's history, as an app-node does before it sends them to inboxes. */
  async function append(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const position = await history.append(ROOM, { event: 'msg', args: [] }, limits);
      emits.set(position.offset, { type: 'emit', rooms: [ROOM], event: 'msg', args: [], history: position });
    }
  }

  /** A recovery as recovery.ts runs it: hold, read since `offset`, send what was read, release. */
  async function recover(m: Member, offset: number, epoch: string) {
    const since = { epoch, offset };
    delivery.hold(m.socket, new Map([[ROOM, since]]));
    const found = await delivery.readSince(ROOM, since, 1_000);
    let last = offset;
    for (const entry of found.entries) {
      delivery.send(m.socket, {
        room: ROOM,
        position: { epoch, offset: entry.offset },
        event: 'msg',
        args: [],
      });
      last = entry.offset;
    }
    for (const held of delivery.release(m.socket))
      if (held.position.offset > last) delivery.send(m.socket, held);
  }

  test('room delivery - a recovery that read further than another one before it still reaches that one', async () => {
    delivery = createRoomDelivery(server, history, silentLogger());
    await append(3);
    const { epoch } = emits.get(1)!.history;
    const first = await member();
    // Nothing missed: its read is empty.
    await recover(first, 3, epoch);
    // Appended now, on their way to the node's inbox; a second client recovers from further back first.
    await append(3);
    const second = await member();
    await recover(second, 1, epoch);
    for (const offset of [4, 5, 6]) await delivery.emit(emits.get(offset)!);
    await append(1);
    await delivery.emit(emits.get(7)!);
    expect(await first.received(4)).toEqual([4, 5, 6, 7]);
    expect(await second.received(6)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  test('room delivery - a message reaching the node while a recovery reads waits for the ones before it', async () => {
    // The recovery's read is held back until the test lets it finish, as a slow reply would be.
    const gate = deferred();
    let gated = true;
    const slow: RoomHistory = {
      ...history,
      read: async (room, options) => {
        const found = await history.read(room, options);
        if (gated) {
          gated = false;
          await gate.promise;
        }
        return found;
      },
    };
    delivery = createRoomDelivery(server, slow, silentLogger());
    await append(3);
    const { epoch } = emits.get(1)!.history;
    const m = await member();
    const recovering = recover(m, 1, epoch);
    // Read is done in Redis (2 and 3); 4 and 5 are appended after it and reach the inbox out of order.
    await append(2);
    await delivery.emit(emits.get(5)!);
    gate.resolve();
    await recovering;
    await delivery.emit(emits.get(4)!);
    expect(await m.received(4)).toEqual([2, 3, 4, 5]);
  });
});
