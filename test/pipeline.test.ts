import type { IoNodeOptions } from '@iocluster/io-node';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';
import { INGRESS_TRANSPORTS, jobsAdded } from './support/ingress.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

async function twoByTwo(ioNodeOptions?: Partial<IoNodeOptions>): Promise<Cluster> {
  cluster = await setup({ ioNodes: 2, appNodes: 2, register: registerTestApp, ioNodeOptions });
  return cluster;
}

describe('pipeline', () => {
  test('rooms - a room broadcast reaches members on both io-nodes and no one else', async () => {
    const c = await twoByTwo();
    const [a, b, outsider0, outsider1] = await Promise.all([
      c.connect(0),
      c.connect(1),
      c.connect(0),
      c.connect(1),
    ]);
    expect(await a.emitWithAck('join', 'r1')).toEqual(['r1']);
    expect(await b.emitWithAck('join', 'r1')).toEqual(['r1']);
    const received = [a, b, outsider0, outsider1].map((s) => collect(s, 'room'));
    const markers = [a, b, outsider0, outsider1].map((s) => nextEvent(s, 'marker'));
    expect(await outsider0.emitWithAck('to room', 'r1', { text: 'hi' })).toBe(true);
    // The marker goes to everyone after the room emit, in the same job: once it is in, so is the emit.
    await Promise.all(markers);
    expect(received.map((r) => r.items)).toEqual([[{ text: 'hi' }], [{ text: 'hi' }], [], []]);
  });

  test('emit - to one client held by the other io-node', async () => {
    const c = await twoByTwo();
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    const direct = [collect(a, 'direct'), collect(b, 'direct')];
    const markers = [nextEvent(a, 'marker'), nextEvent(b, 'marker')];
    await a.emitWithAck('to socket', b.id, 'psst');
    await Promise.all(markers);
    expect(direct[0]!.items).toEqual([]);
    expect(direct[1]!.items).toEqual(['psst']);
  });

  test('except - socket.to(room) leaves the sender out, the message builder its excluded client', async () => {
    const c = await twoByTwo();
    const [a, b, d] = await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    for (const s of [a, b, d]) await s.emitWithAck('join', 'r2');
    const rooms = [a, b, d].map((s) => collect(s, 'room'));
    const built = [a, b, d].map((s) => collect(s, 'built'));
    let markers = [a, b, d].map((s) => nextEvent(s, 'marker'));
    await a.emitWithAck('to room except me', 'r2', 1);
    await Promise.all(markers);
    expect(rooms.map((r) => r.items)).toEqual([[], [1], [1]]);
    markers = [a, b, d].map((s) => nextEvent(s, 'marker'));
    await b.emitWithAck('message builder', 'r2', 'built!');
    await Promise.all(markers);
    expect(built.map((r) => r.items)).toEqual([[{ text: 'built!' }], [], [{ text: 'built!' }]]);
  });

  test('join - a join then an emit to that room in one handler reaches the joiner', async () => {
    const c = await twoByTwo();
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    await b.emitWithAck('join', 'r3');
    const welcomeA = nextEvent(a, 'welcome');
    const welcomeB = nextEvent(b, 'welcome');
    expect(await a.emitWithAck('join and emit', 'r3')).toBe('ok');
    expect(await welcomeA).toEqual(['r3', a.id]);
    expect(await welcomeB).toEqual(['r3', a.id]);
    expect(await a.emitWithAck('get')).toMatchObject({ rooms: ['r3'] });
  });

  test('ack - a value, a thrown error, a rejection, binary, a missing handler and a reserved name', async () => {
    const c = await twoByTwo();
    const a = await c.connect(0);
    expect(await a.emitWithAck('echo', 1, 'two', { three: [3] })).toEqual([1, 'two', { three: [3] }]);
    expect(await a.emitWithAck('fail')).toEqual({ error: { code: 'E_NOPE', message: 'nope' } });
    expect(await a.emitWithAck('reject')).toEqual({
      error: { code: 'HANDLER_ERROR', message: 'rejected later' },
    });
    const [echoed] = (await a.emitWithAck('echo', Buffer.from([1, 2, 3]))) as [Buffer];
    expect(Buffer.from(echoed)).toEqual(Buffer.from([1, 2, 3]));
    expect(await a.emitWithAck('nobody handles this')).toEqual({
      error: { code: 'NO_HANDLER', message: 'no handler for event "nobody handles this"' },
    });
    expect(await a.emitWithAck('no-client')).toMatchObject({ error: { code: 'RESERVED_EVENT' } });
    // The socket still works after all of that.
    expect(await a.emitWithAck('echo', 'still here')).toEqual(['still here']);
  });

  test('ordering - 500 events from one client reach handlers and come back in order', async () => {
    // 500 at once is five times the default burst (CLIENT_EVENT_BURST): this test is about order.
    const c = await twoByTwo({ clientEventBurst: 500 });
    const a = await c.connect(0);
    const seqs = collect<number>(a, 'seq');
    const violations = collect(a, 'order violation');
    const acks = await Promise.all(Array.from({ length: 500 }, (_, n) => a.emitWithAck('seq', n)));
    await seqs.until(500);
    const expected = Array.from({ length: 500 }, (_, n) => n);
    expect(acks).toEqual(expected);
    expect(seqs.items).toEqual(expected);
    expect(violations.items).toEqual([]);
  });

  test('set-data - visible to the next event handled by the other app-node', async () => {
    const c = await twoByTwo();
    const a = await c.connect(1);
    const servedBy = new Set<string>();
    let crossed = 0;
    for (let i = 0; i < 200 && crossed < 3; i++) {
      const setBy = (await a.emitWithAck('set', { counter: i })) as string;
      const got = (await a.emitWithAck('get')) as { data: { counter: number }; by: string };
      expect(got.data.counter).toBe(i);
      servedBy.add(setBy).add(got.by);
      if (got.by !== setBy) crossed++;
    }
    expect(servedBy).toEqual(new Set(c.appNodes.map((app) => app.nodeId)));
    expect(crossed).toBe(3);
  });

  test('no-client - fires on an app-node restarted mid-session, and the session goes on', async () => {
    const c = await twoByTwo();
    const a = await c.connect(0);
    const noClient = collect<string>(a, 'no-client');
    await a.emitWithAck('set', { name: 'ada' });
    // Until both app-nodes have served the client, so each either ran `connection` or fired no-client.
    const served = new Set<string>();
    for (let i = 0; i < 200 && served.size < 2; i++) served.add((await a.emitWithAck('who')) as string);
    expect(served.size).toBe(2);
    // One of the two ran `connection`; the other met the client later and fired no-client once.
    expect(noClient.items).toHaveLength(1);
    const before = noClient.items.length;

    await c.appNodes[0]!.close();
    c.appNodes.shift();
    const restarted = await c.startAppNode();
    const seenNew = new Set<string>();
    for (let i = 0; i < 200 && !seenNew.has(restarted.nodeId); i++) {
      const got = (await a.emitWithAck('get')) as { data: { name: string }; by: string };
      expect(got.data.name).toBe('ada');
      seenNew.add(got.by);
    }
    expect(seenNew.has(restarted.nodeId)).toBe(true);
    await noClient.until(before + 1);
    expect(noClient.items.slice(before)).toEqual([restarted.nodeId]);
    expect(await a.emitWithAck('echo', 'after restart')).toEqual(['after restart']);
  });
});

describe('batching', () => {
  test.each(INGRESS_TRANSPORTS)(
    'batching - at the in-flight cap, events of several clients gather into one job, in order per client (%s)',
    async (transport) => {
      cluster = await setup({
        transport,
        ioNodes: 1,
        appNodes: 1,
        register: registerTestApp,
        ioNodeOptions: { maxJobsInFlight: 1 },
      });
      const c = cluster;
      const [slow, b, d, e] = await Promise.all([c.connect(0), c.connect(0), c.connect(0), c.connect(0)]);
      // Every connect has been answered: no job of this node is in flight.
      expect(await slow.emitWithAck('echo', 'ready')).toEqual(['ready']);
      const jobId = async () => (await jobsAdded(c))[0]!;
      const before = await jobId();
      const started = nextEvent(slow, 'started');
      const slowAck = slow.emitWithAck('slow', 1, 300);
      await started;
      // The one job in flight is the slow one: these three wait, then leave together.
      const acks = Promise.all([
        b.emitWithAck('seq', 0),
        d.emitWithAck('echo', 'd'),
        b.emitWithAck('seq', 1),
        e.emitWithAck('echo', 'e'),
      ]);
      expect(await slowAck).toBe(1);
      expect(await acks).toEqual([0, ['d'], 1, ['e']]);
      expect((await jobId()) - before).toBe(2);
    },
  );
});
