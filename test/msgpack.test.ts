import { createClient } from '@iocluster/client';
import { io as connectClient } from 'socket.io-client';
import * as msgpackParser from 'socket.io-msgpack-parser';
import { afterEach, describe, expect, test } from 'vitest';
import register from './fixtures/test-app.js';
import { type Cluster, nextEvent, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
async function start(options?: Parameters<typeof setup>[0]): Promise<Cluster> {
  cluster = await setup(options);
  return cluster;
}
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** Every byte value, a Buffer over Node's shared pool, a Uint8Array with a buffer of its own. */
const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const payload = () => ({
  text: 'héllo ✓',
  nested: { list: [1, 2.5, null, true, { deep: Buffer.from([0, 255, 1, 254]) }], empty: {} },
  bytes: BYTES,
  small: Buffer.from('pooled'),
  view: new Uint8Array([9, 8, 7, 0]),
});

/** What a msgpack client gets back for `payload()`: every binary leaf as a Buffer with the same bytes. */
function expectSamePayload(received: unknown): void {
  const got = received as ReturnType<typeof payload>;
  expect(got.text).toBe('héllo ✓');
  expect(got.nested.list.slice(0, 4)).toEqual([1, 2.5, null, true]);
  expect(got.nested.empty).toEqual({});
  const binaries = [
    [(got.nested.list[4] as { deep: unknown }).deep, [0, 255, 1, 254]],
    [got.bytes, [...BYTES]],
    [got.small, [...Buffer.from('pooled')]],
    [got.view, [9, 8, 7, 0]],
  ] as const;
  for (const [value, bytes] of binaries) {
    expect(Buffer.isBuffer(value)).toBe(true);
    expect([...(value as Buffer)]).toEqual(bytes);
  }
}

describe('msgpack', () => {
  test('msgpack - nested objects and binary go through the queue and back, in acks and room emits', async () => {
    const c = await start({ ioNodes: 1, appNodes: 1, register, ioNodeOptions: { parser: 'msgpack' } });
    const a = await c.connect(0, { parser: msgpackParser });
    const b = await c.connect(0, { parser: msgpackParser });
    expect(await a.emitWithAck('join', 'bin')).toEqual(['bin']);
    expect(await b.emitWithAck('join', 'bin')).toEqual(['bin']);

    // Ack: the handler returns its arguments, so every value made the round trip io-node → job → reply.
    const echoed = (await a.emitWithAck('echo', payload(), BYTES)) as unknown[];
    expect(echoed).toHaveLength(2);
    expectSamePayload(echoed[0]);
    expect([...(echoed[1] as Buffer)]).toEqual([...BYTES]);

    // Room emit: the handler's `app.to(room).emit('room', payload)` reaches both members, sender included.
    const atA = nextEvent<[unknown]>(a, 'room');
    const atB = nextEvent<[unknown]>(b, 'room');
    expect(await b.emitWithAck('to room', 'bin', payload())).toBe(true);
    const [[fromA], [fromB]] = await Promise.all([atA, atB]);
    expectSamePayload(fromA);
    expectSamePayload(fromB);
  });

  test('msgpack - a client on the other parser is closed at its first packet, never connected', async () => {
    const c = await start({ ioNodes: 2 });
    await c.ioNodes[0]!.close();
    const msgpackNode = await c.startIoNode({ parser: 'msgpack' });
    // Either way the node cannot decode the client's CONNECT packet (JSON text for msgpack, or a binary
    // frame with no placeholder for the default parser), so it drops the transport: no connect_error
    // with a reason, just a close before the socket ever connected.
    for (const [url, options] of [
      [msgpackNode.url, {}],
      [c.ioNodes[1]!.url, { parser: msgpackParser }],
    ] as const) {
      const socket = connectClient(url, { transports: ['websocket'], reconnection: false, ...options });
      const events: string[] = [];
      socket.onAnyOutgoing(() => events.push('outgoing'));
      socket.on('connect', () => events.push('connect'));
      socket.on('connect_error', () => events.push('connect_error'));
      try {
        const [reason] = await nextEvent<[string]>(socket, 'disconnect');
        expect(reason).toBe('transport close');
        expect(events).toEqual([]);
        expect(socket.connected).toBe(false);
      } finally {
        socket.disconnect();
      }
    }
    expect(msgpackNode.connections + c.ioNodes[1]!.connections).toBe(0);
  });

  test('msgpack - @iocluster/client with parser msgpack', async () => {
    const c = await start({ ioNodes: 1, appNodes: 1, register, ioNodeOptions: { parser: 'msgpack' } });
    const frontend = await c.startFrontend();
    const client = createClient({ frontendUrl: frontend.url, parser: 'msgpack', retryForever: false });
    try {
      const echoed = (await client.emitWithAck('echo', payload())) as unknown[];
      expectSamePayload(echoed[0]);
    } finally {
      await client.close();
    }
  });
});
