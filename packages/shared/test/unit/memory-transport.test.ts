import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  createMemoryCommandPath,
  createMemoryIngress,
  createMemoryRoomHistory,
  INGRESS_VERSION,
  type IngressDelivery,
  type IngressJob,
} from '../../src/index.js';

const job = (nodeId: string): IngressJob => ({ v: INGRESS_VERSION, nodeId, batches: [] });
const limits = { maxLength: 100, ttlMs: 1_000 };

afterEach(() => {
  vi.useRealTimers();
});

describe('memory room history', () => {
  test('history - offsets count from 1 in one epoch; a read since a position returns what came after', async () => {
    const history = createMemoryRoomHistory();
    const positions = [];
    for (const i of [0, 1, 2]) positions.push(await history.append('r', { event: 'e', args: [i] }, limits));
    expect(positions.map((p) => p.offset)).toEqual([1, 2, 3]);
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
    const read = await history.read('r', { since: positions[0], limit: 10 });
    expect(read).toMatchObject({ complete: true, more: false, position: positions[2] });
    expect(read.entries.map((e) => [e.offset, e.args])).toEqual([
      [2, [1]],
      [3, [2]],
    ]);
    expect(await history.positions(['r', 'none'])).toEqual([positions[2], null]);
  });

  test('history - trimmed messages make a read incomplete; an expired history starts a new epoch', async () => {
    let now = 1_000;
    const history = createMemoryRoomHistory(() => now);
    const first = await history.append('r', { event: 'e', args: [] }, { maxLength: 2, ttlMs: 1_000 });
    for (let i = 0; i < 2; i++)
      await history.append('r', { event: 'e', args: [] }, { maxLength: 2, ttlMs: 1_000 });
    // Message 1 went with maxLength 2: a read from before it misses it.
    const trimmed = await history.read('r', { since: { epoch: first.epoch, offset: 0 }, limit: 10 });
    expect(trimmed.complete).toBe(false);
    expect(trimmed.entries.map((e) => e.offset)).toEqual([2, 3]);
    now += 1_000;
    expect(await history.positions(['r'])).toEqual([null]);
    const again = await history.append('r', { event: 'e', args: [] }, limits);
    expect(again.offset).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
    expect((await history.read('r', { since: first, limit: 10 })).complete).toBe(false);
  });
});

describe('memory ingress', () => {
  test('ingress - a job whose handler keeps failing runs maxRuns times, then is kept as failed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ingress = createMemoryIngress({ retryDelayMs: 100, maxRuns: 3 });
    const consumer = ingress.consumer({ concurrency: 1 });
    const runs: number[] = [];
    await consumer.start(async (delivery) => {
      runs.push(delivery.redelivered);
      throw new Error('cannot publish');
    });
    await ingress.producer().add([job('io-1')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([0]);
    expect(await consumer.backlog()).toEqual({
      waiting: 0,
      active: 0,
      delayed: 1,
      failed: 0,
      partitions: [{ index: 0, waiting: 0, active: 0, delayed: 1, failed: 0 }],
    });
    await vi.advanceTimersByTimeAsync(200);
    expect(runs).toEqual([0, 1, 2]);
    expect(ingress.failed).toEqual([{ id: '1', reason: 'cannot publish' }]);
    expect(await consumer.backlog()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 1 });
    await consumer.close();
  });

  test('ingress - consumers share the jobs round-robin within their concurrency; close waits for running ones', async () => {
    const ingress = createMemoryIngress();
    const release: (() => void)[] = [];
    const took: string[] = [];
    const start = (name: string) => {
      const consumer = ingress.consumer({ concurrency: 2 });
      void consumer.start(
        (delivery: IngressDelivery) =>
          new Promise<void>((resolve) => {
            took.push(`${name}:${delivery.job.nodeId}`);
            release.push(resolve);
          }),
      );
      return consumer;
    };
    const [a, b] = [start('a'), start('b')];
    await ingress.producer().add(['j1', 'j2', 'j3', 'j4', 'j5'].map(job));
    await vi.waitFor(() => expect(took).toHaveLength(4));
    expect(took.filter((t) => t.startsWith('a:'))).toHaveLength(2);
    expect(await a.backlog()).toMatchObject({ waiting: 1, active: 4 });
    expect([a.pending(), b.pending()]).toEqual([2, 2]);
    let closed = false;
    const closing = a.close().then(() => {
      closed = true;
    });
    await Promise.resolve();
    expect(closed).toBe(false);
    for (const done of release.splice(0)) done();
    await closing;
    // The fifth job waited for a free slot: only b, still open, takes it.
    await vi.waitFor(() => expect(took).toHaveLength(5));
    expect(took[4]).toBe('b:j5');
    for (const done of release.splice(0)) done();
    await b.close();
  });
});

describe('memory command path', () => {
  test('commands - a closed io-node’s inbox is gone: appends report it, and its rooms no longer list it', async () => {
    const path = createMemoryCommandPath();
    const transport = path.transport();
    const io = path.subscriber('io-1');
    await io.start();
    await transport.countJoins('io-1', ['r']);
    expect(await transport.roomNodes(['r'])).toEqual(new Map([['r', ['io-1']]]));
    expect(await transport.broadcastNodes()).toEqual(['io-1']);
    await io.close();
    expect(await transport.roomNodes(['r'])).toEqual(new Map([['r', []]]));
    const gone = await transport.append(new Map([['io-1', [{ type: 'custom', name: 'x', payload: 1 }]]]));
    expect(gone).toEqual(['io-1']);
  });

  test('commands - leaves and disconnects take the io-node’s count in a room down, as its room routing does', async () => {
    const path = createMemoryCommandPath();
    const transport = path.transport();
    const io = path.subscriber('io-1');
    const applied: string[] = [];
    io.onCommand((cmd) => void applied.push(cmd.type));
    await io.start();
    await transport.countJoins('io-1', ['r']);
    await transport.countJoins('io-1', ['r']);
    await transport.append(
      new Map([
        [
          'io-1',
          [
            { type: 'join', socketId: 's1', rooms: ['r'] },
            { type: 'join', socketId: 's2', rooms: ['r'] },
            { type: 'leave', socketId: 's1', rooms: ['r'] },
          ],
        ],
      ]),
    );
    await vi.waitFor(() => expect(applied).toHaveLength(3));
    expect(path.roomCounts('r')).toEqual(new Map([['io-1', 1]]));
    await transport.append(new Map([['io-1', [{ type: 'disconnect', socketId: 's2' }]]]));
    await vi.waitFor(() => expect(applied).toHaveLength(4));
    expect(path.roomCounts('r')).toEqual(new Map());
    await io.close();
  });

  test('commands - selection joins, leaves and disconnects count what they select, as the io-node’s routing does', async () => {
    const path = createMemoryCommandPath();
    const transport = path.transport();
    const io = path.subscriber('io-1');
    const applied: string[] = [];
    io.onCommand((cmd) => void applied.push(cmd.type));
    await io.start();
    await transport.countJoins('io-1', ['a', 'a', 'a']);
    await transport.append(
      new Map([
        [
          'io-1',
          [
            { type: 'join', socketId: 's1', rooms: ['a'] },
            { type: 'join', socketId: 's2', rooms: ['a'] },
            { type: 'join', socketId: 's3', rooms: ['a'] },
            { type: 'sockets-join', select: { rooms: ['a'], except: ['s3'] }, rooms: ['b'] },
          ],
        ],
      ]),
    );
    await vi.waitFor(() => expect(applied).toHaveLength(4));
    expect(path.roomCounts('b')).toEqual(new Map([['io-1', 2]]));
    await transport.append(
      new Map([
        [
          'io-1',
          [
            { type: 'sockets-leave', select: { rooms: ['s1'] }, rooms: ['b'] },
            { type: 'sockets-disconnect', select: { rooms: ['b'] } },
          ],
        ],
      ]),
    );
    await vi.waitFor(() => expect(applied).toHaveLength(6));
    expect(path.roomCounts('b')).toEqual(new Map());
    expect(path.roomCounts('a')).toEqual(new Map([['io-1', 2]]));
    await io.close();
  });
});
