import type { AppNode } from '@iocluster/app-node';
import type { RecoveryReport } from '@iocluster/client';
import { io as connectPlain, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { recoveringClient } from './support/clients.js';
import { type Cluster, collect, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  cluster = undefined;
});

/** The test app, history for `k:*`, and one volatile emit per way of saying it. */
function register(app: AppNode): void {
  registerTestApp(app);
  app.keepHistory('k:*');
  app.on('volatile', (socket, how: string, room: string, payload: unknown) => {
    if (how === 'app') app.to(room).volatile.emit('room', payload);
    else if (how === 'app-root') app.volatile.to(room).emit('room', payload);
    else if (how === 'socket-to') socket.to(room).volatile.emit('room', payload);
    else if (how === 'socket-volatile-to') socket.volatile.to(room).emit('room', payload);
    else socket.volatile.emit('self', payload);
    return true;
  });
  app.on('history', (_socket, room: string) => app.history(room));
}

describe('volatile', () => {
  test('volatile - emits to a room with history reach members live but are never kept: history and a recovery hold only the others', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register });
    const c = cluster;
    const listener = await recoveringClient(sockets, c.ioNodes[0]!.url, { v: 1 });
    const position = new Promise<unknown[]>((resolve) =>
      listener.socket.once('$pos', (...args) => resolve(args)),
    );
    await listener.socket.emitWithAck('join', 'k:v');
    const [, epoch] = await position;
    const publisher = await c.connect(1);
    await publisher.emitWithAck('join', 'k:v');

    // Live: kept messages come with their position ($h), volatile ones as the plain event.
    const got: unknown[][] = [];
    listener.socket.onAny((event: string, ...args: unknown[]) => got.push([event, ...args]));
    expect(await publisher.emitWithAck('room only', 'k:v', 'kept 1')).toBe(true);
    for (const how of ['app', 'app-root', 'socket-to', 'socket-volatile-to']) {
      expect(await publisher.emitWithAck('volatile', how, 'k:v', `volatile ${how}`)).toBe(true);
    }
    expect(await publisher.emitWithAck('room only', 'k:v', 'kept 2')).toBe(true);
    const self = new Promise((resolve) => publisher.once('self', resolve));
    expect(await publisher.emitWithAck('volatile', 'self', 'k:v', 'to myself')).toBe(true);
    expect(await self).toBe('to myself');
    await expect.poll(() => got.length).toBeGreaterThanOrEqual(6);
    expect(
      got
        .filter(([event]) => event === '$h')
        .map(([, room, , offset, event, payload]) => [room, offset, event, payload]),
    ).toEqual([
      ['k:v', 1, 'room', 'kept 1'],
      ['k:v', 2, 'room', 'kept 2'],
    ]);
    expect(got.filter(([event]) => event === 'room')).toEqual([
      ['room', 'volatile app'],
      ['room', 'volatile app-root'],
      ['room', 'volatile socket-to'],
      ['room', 'volatile socket-volatile-to'],
    ]);

    const page = (await publisher.emitWithAck('history', 'k:v')) as {
      messages: { offset: number; args: unknown[] }[];
    };
    expect(page.messages.map((m) => [m.offset, m.args[0]])).toEqual([
      [1, 'kept 1'],
      [2, 'kept 2'],
    ]);

    // Away: two of each; back on the other io-node from before any of them, only the kept ones replay.
    listener.socket.io.engine.close();
    await publisher.emitWithAck('room only', 'k:v', 'kept 3');
    await publisher.emitWithAck('volatile', 'app', 'k:v', 'volatile while away');
    await publisher.emitWithAck('volatile', 'socket-to', 'k:v', 'volatile 2');
    await publisher.emitWithAck('room only', 'k:v', 'kept 4');
    const back = connectPlain(c.ioNodes[1]!.url, {
      transports: ['websocket'],
      reconnection: false,
      auth: { iocluster: { v: 1, session: listener.session, positions: [['k:v', epoch, 0]] } },
    });
    sockets.push(back);
    const replayed: unknown[][] = [];
    back.on('$h', (...args: unknown[]) => replayed.push(args));
    const volatileAfter = collect<unknown>(back, 'room');
    const report = await new Promise<RecoveryReport>((resolve) => back.once('$recovered', resolve));
    expect(report).toMatchObject({ recovered: true, rooms: ['k:v'], missed: 4 });
    expect(replayed.map(([room, , offset, event, payload]) => [room, offset, event, payload])).toEqual([
      ['k:v', 1, 'room', 'kept 1'],
      ['k:v', 2, 'room', 'kept 2'],
      ['k:v', 3, 'room', 'kept 3'],
      ['k:v', 4, 'room', 'kept 4'],
    ]);
    expect(volatileAfter.items).toEqual([]);
  });

  test('volatile - an io-node drops a volatile emit for a client whose transport cannot take it now, as Socket.IO does; others wait and go out', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register });
    const c = cluster;
    const [busy, sender] = await Promise.all([c.connect(0), c.connect(0)]);
    await busy.emitWithAck('join', 'r');
    const got: unknown[][] = [];
    busy.onAny((event: string, ...args: unknown[]) => got.push([event, ...args]));
    // The io-node's side of `busy`: its transport is busy writing (ws's send not yet called back).
    const transport = c.ioNodes[0]!.io.of('/').sockets.get(busy.id!)!.conn.transport as { writable: boolean };
    transport.writable = false;
    // Each ack comes after the io-node applied what its handler emitted (the reply follows in its inbox).
    await sender.emitWithAck('volatile', 'app', 'r', 'dropped 1');
    await sender.emitWithAck('room only', 'r', 'kept');
    await sender.emitWithAck('volatile', 'socket-to', 'r', 'dropped 2');
    transport.writable = true;
    await sender.emitWithAck('volatile', 'app', 'r', 'sent');
    await expect.poll(() => got.length).toBeGreaterThanOrEqual(2);
    expect(got).toEqual([
      ['room', 'kept'],
      ['room', 'sent'],
    ]);
  });
});
